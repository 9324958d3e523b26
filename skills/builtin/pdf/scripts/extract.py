#!/usr/bin/env python3
"""Get things out of a PDF: facts about it, its text, its tables.

    python3 extract.py info in.pdf                       # pages, sizes, metadata, text layer, form, outline
    python3 extract.py text in.pdf [--pages 1-3] [--layout] [--out text.txt]
    python3 extract.py tables in.pdf [--pages 2] [--csv-dir tables/] [--json]

Text comes page by page, each page introduced by a "=== page N ===" line. A page without
a text layer (a scan) yields no text: render it with `pdftoppm -png -r 100 in.pdf page` and
look at the image instead.
"""

import argparse
import csv
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pdfplumber  # noqa: E402
from pdfminer.pdfparser import PDFSyntaxError  # noqa: E402

from pages import PagesError, open_pdf, parse_pages  # noqa: E402


def _open(path, password=None):
    open_pdf(path, password)  # for its clear errors on non-PDFs and passwords
    try:
        return pdfplumber.open(path, password=password or "")
    except PDFSyntaxError as e:
        raise PagesError("%s is not a readable PDF: %s" % (path, e)) from None
    except Exception as e:  # pdfplumber raises its own and pdfminer's errors for bad files
        if isinstance(e, OSError):
            raise
        raise PagesError("%s cannot be opened: %s" % (path, e or type(e).__name__)) from None


def info(path, password=None):
    reader = open_pdf(path, password)
    meta = {k.lstrip("/"): str(v) for k, v in (reader.metadata or {}).items()}
    sizes = sorted({(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages})
    fields = reader.get_fields() or {}
    chars = 0
    with _open(path, password) as pdf:
        for page in pdf.pages[:5]:
            chars += len(page.chars)
    return {
        "pages": len(reader.pages),
        "page_sizes_pt": [list(s) for s in sizes],
        "encrypted": reader.is_encrypted,
        "metadata": meta,
        "text_layer": chars > 0,
        "form_fields": len(fields),
        "outline": [o.title for o in reader.outline if hasattr(o, "title")],
    }


def text(path, pages=None, layout=False, password=None):
    """[(page number, text)] of the chosen pages."""
    with _open(path, password) as pdf:
        which = parse_pages(pages, len(pdf.pages)) if pages else range(len(pdf.pages))
        return [(i + 1, pdf.pages[i].extract_text(layout=layout) or "") for i in which]


def tables(path, pages=None, password=None):
    """[{"page": n, "index": k, "rows": [[cell, ...], ...]}] of the tables pdfplumber finds."""
    out = []
    with _open(path, password) as pdf:
        which = parse_pages(pages, len(pdf.pages)) if pages else range(len(pdf.pages))
        for i in which:
            for k, rows in enumerate(pdf.pages[i].extract_tables(), 1):
                clean = [[("" if c is None else " ".join(str(c).split())) for c in row] for row in rows]
                if any(any(c for c in row) for row in clean):
                    out.append({"page": i + 1, "index": k, "rows": clean})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="Extract information, text or tables from a PDF.")
    ap.add_argument("--password", help="password of an encrypted PDF")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("info")
    p.add_argument("path")
    p = sub.add_parser("text")
    p.add_argument("path")
    p.add_argument("--pages", help="e.g. 1-3,5")
    p.add_argument("--layout", action="store_true", help="keep the page's horizontal layout (columns)")
    p.add_argument("--out", help="write the text to this file instead of standard output")
    p = sub.add_parser("tables")
    p.add_argument("path")
    p.add_argument("--pages")
    p.add_argument("--csv-dir", help="write each table to DIR/page<N>-table<K>.csv")
    p.add_argument("--json", action="store_true", help="print JSON")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "info":
            print(json.dumps(info(args.path, args.password), indent=2))
        elif args.cmd == "text":
            chunks = ["=== page %d ===\n%s" % (n, t) for n, t in text(args.path, args.pages, args.layout, args.password)]
            body = "\n".join(chunks) + "\n"
            if args.out:
                with open(args.out, "w", encoding="utf-8") as f:
                    f.write(body)
                print("wrote %s (%d characters)" % (args.out, len(body)))
            else:
                sys.stdout.write(body)
        else:
            found = tables(args.path, args.pages, args.password)
            if args.csv_dir:
                os.makedirs(args.csv_dir, exist_ok=True)
                for t in found:
                    name = os.path.join(args.csv_dir, "page%d-table%d.csv" % (t["page"], t["index"]))
                    with open(name, "w", newline="", encoding="utf-8") as f:
                        csv.writer(f).writerows(t["rows"])
                    print("wrote %s (%d rows)" % (name, len(t["rows"])))
            elif args.json:
                print(json.dumps(found, indent=2))
            else:
                for t in found:
                    print("=== page %d, table %d ===" % (t["page"], t["index"]))
                    print("\n".join(" | ".join(r) for r in t["rows"]))
            if not found:
                print("no tables found", file=sys.stderr)
    except (PagesError, OSError) as e:
        print("extract.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
