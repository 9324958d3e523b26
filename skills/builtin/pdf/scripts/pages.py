#!/usr/bin/env python3
"""Rearrange PDF pages: merge, split, select, delete, rotate, overlay; protect and unlock.

    python3 pages.py merge out.pdf a.pdf b.pdf:1-3 c.pdf          # whole files or page ranges
    python3 pages.py split in.pdf outdir/ [--every N]               # outdir/in-001.pdf, ...
    python3 pages.py select in.pdf out.pdf 3,1-2,5-                 # extract and reorder
    python3 pages.py delete in.pdf out.pdf 2,4
    python3 pages.py rotate in.pdf out.pdf 90 [--pages 1,3]         # clockwise, multiple of 90
    python3 pages.py overlay in.pdf stamp.pdf out.pdf [--under]     # watermark/letterhead on every page
    python3 pages.py protect in.pdf out.pdf NEWPASSWORD
    python3 pages.py --password PW unlock in.pdf out.pdf

Pages are numbered from 1; a range is "a-b", "a-" (to the end) or "-b"; "last" is the
last page. Add --password PW for encrypted input.
"""

import argparse
import os
import re
import sys

from pypdf import PageObject, PdfReader, PdfWriter
from pypdf.errors import PdfReadError


class PagesError(ValueError):
    """A bad page specification or input; the message says what."""


def parse_pages(spec, count):
    """The 0-based page indexes spec names, in its order, for a document of count pages."""
    out = []
    for part in str(spec).replace(" ", "").split(","):
        if not part:
            continue
        m = re.fullmatch(r"(\d+|last)?(-)?(\d+|last)?", part)
        if not m or (not m.group(1) and not m.group(3)):
            raise PagesError("bad page range %r (use forms like 1-3,5,8-)" % part)

        def num(s, default):
            if s is None:
                return default
            return count if s == "last" else int(s)

        a = num(m.group(1), 1)
        b = num(m.group(3), count) if m.group(2) else a
        for n in (a, b):
            if n < 1 or n > count:
                raise PagesError("page %d does not exist: the document has %d page%s" % (n, count, "s"[count == 1:]))
        out.extend(range(a - 1, b) if a <= b else range(a - 1, b - 2, -1))
    if not out:
        raise PagesError("no pages selected")
    return out


def open_pdf(path, password=None):
    try:
        reader = PdfReader(path)
    except (PdfReadError, ValueError) as e:
        raise PagesError("%s is not a readable PDF: %s" % (path, e)) from None
    if reader.is_encrypted:
        if not password or not reader.decrypt(password):
            raise PagesError("%s is encrypted: give the right --password" % path)
    return reader


def _write(writer, out):
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "wb") as f:
        writer.write(f)


def merge(out, inputs, password=None):
    """Write the pages of inputs ("file.pdf" or "file.pdf:1-3") into out; returns the page count."""
    writer = PdfWriter()
    for item in inputs:
        path, _, spec = item.partition(":") if not os.path.exists(item) else (item, "", "")
        reader = open_pdf(path, password)
        for i in parse_pages(spec or "1-", len(reader.pages)):
            writer.add_page(reader.pages[i])
    _write(writer, out)
    return len(writer.pages)


def select(src, out, spec, password=None):
    reader = open_pdf(src, password)
    writer = PdfWriter()
    for i in parse_pages(spec, len(reader.pages)):
        writer.add_page(reader.pages[i])
    _write(writer, out)
    return len(writer.pages)


def delete(src, out, spec, password=None):
    reader = open_pdf(src, password)
    drop = set(parse_pages(spec, len(reader.pages)))
    keep = [i for i in range(len(reader.pages)) if i not in drop]
    if not keep:
        raise PagesError("deleting those pages would leave none")
    writer = PdfWriter()
    for i in keep:
        writer.add_page(reader.pages[i])
    _write(writer, out)
    return len(writer.pages)


def split(src, outdir, every=1, password=None):
    """Write src as files of every pages each into outdir; returns their paths."""
    if every < 1:
        raise PagesError("--every must be at least 1")
    reader = open_pdf(src, password)
    os.makedirs(outdir, exist_ok=True)
    stem = os.path.splitext(os.path.basename(src))[0]
    paths = []
    for start in range(0, len(reader.pages), every):
        writer = PdfWriter()
        for i in range(start, min(start + every, len(reader.pages))):
            writer.add_page(reader.pages[i])
        path = os.path.join(outdir, "%s-%03d.pdf" % (stem, start // every + 1))
        _write(writer, path)
        paths.append(path)
    return paths


def rotate(src, out, degrees, spec=None, password=None):
    if degrees % 90:
        raise PagesError("rotation must be a multiple of 90 degrees, not %d" % degrees)
    reader = open_pdf(src, password)
    which = set(parse_pages(spec, len(reader.pages))) if spec else set(range(len(reader.pages)))
    writer = PdfWriter()
    for i, page in enumerate(reader.pages):
        if i in which:
            page.rotate(degrees)
        writer.add_page(page)
    _write(writer, out)
    return len(which)


def overlay(src, stamp, out, under=False, password=None):
    """Put stamp's first page over (or under) every page of src."""
    reader = open_pdf(src, password)
    mark = open_pdf(stamp).pages[0]
    writer = PdfWriter()
    for page in reader.pages:
        if under:
            base = PageObject.create_blank_page(width=page.mediabox.width, height=page.mediabox.height)
            base.merge_page(mark)
            base.merge_page(page)
            page = base
        else:
            page.merge_page(mark)
        writer.add_page(page)
    _write(writer, out)
    return len(writer.pages)


def protect(src, out, password, password_in=None):
    """Write src encrypted with password (RC4 128-bit: what the installed pypdf writes)."""
    if not password:
        raise PagesError("give a password to protect with")
    writer = PdfWriter()
    for page in open_pdf(src, password_in).pages:
        writer.add_page(page)
    writer.encrypt(password, use_128bit=True)
    _write(writer, out)
    return len(writer.pages)


def unlock(src, out, password):
    """Write an unencrypted copy of src, opened with password."""
    writer = PdfWriter()
    for page in open_pdf(src, password).pages:
        writer.add_page(page)
    _write(writer, out)
    return len(writer.pages)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Merge, split, select, delete, rotate or overlay PDF pages.")
    ap.add_argument("--password", help="password of encrypted input")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("merge", help="concatenate files or page ranges")
    p.add_argument("out")
    p.add_argument("inputs", nargs="+", help="file.pdf or file.pdf:RANGES")
    p = sub.add_parser("split", help="one file per page (or per N pages)")
    p.add_argument("src")
    p.add_argument("outdir")
    p.add_argument("--every", type=int, default=1)
    for name in ("select", "delete"):
        p = sub.add_parser(name, help="%s pages" % name)
        p.add_argument("src")
        p.add_argument("out")
        p.add_argument("pages", help="e.g. 1-3,5,8-")
    p = sub.add_parser("rotate", help="rotate pages clockwise")
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("degrees", type=int)
    p.add_argument("--pages")
    p = sub.add_parser("overlay", help="stamp a page over every page")
    p.add_argument("src")
    p.add_argument("stamp")
    p.add_argument("out")
    p.add_argument("--under", action="store_true", help="put the stamp under the content")
    p = sub.add_parser("protect", help="encrypt with a password")
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("new_password")
    p = sub.add_parser("unlock", help="remove the encryption (needs --password)")
    p.add_argument("src")
    p.add_argument("out")
    args = ap.parse_args(argv)
    pw = args.password
    try:
        if args.cmd == "merge":
            print("wrote %s: %d pages" % (args.out, merge(args.out, args.inputs, pw)))
        elif args.cmd == "split":
            paths = split(args.src, args.outdir, args.every, pw)
            print("wrote %d files: %s" % (len(paths), ", ".join(paths)))
        elif args.cmd == "select":
            print("wrote %s: %d pages" % (args.out, select(args.src, args.out, args.pages, pw)))
        elif args.cmd == "delete":
            print("wrote %s: %d pages" % (args.out, delete(args.src, args.out, args.pages, pw)))
        elif args.cmd == "rotate":
            print("wrote %s: %d pages rotated" % (args.out, rotate(args.src, args.out, args.degrees, args.pages, pw)))
        elif args.cmd == "protect":
            print("wrote %s: %d pages, encrypted" % (args.out, protect(args.src, args.out, args.new_password, pw)))
        elif args.cmd == "unlock":
            print("wrote %s: %d pages, not encrypted" % (args.out, unlock(args.src, args.out, pw)))
        elif args.cmd == "overlay":
            print("wrote %s: %d pages" % (args.out, overlay(args.src, args.stamp, args.out, args.under, pw)))
    except (PagesError, OSError) as e:
        print("pages.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
