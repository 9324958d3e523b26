#!/usr/bin/env python3
"""Edit a Word document in place of a person: replace text (keeping its formatting), fill
{{placeholders}}, delete paragraphs, and append Markdown. Edits are made directly, not as
tracked changes.

    python3 edit_document.py in.docx out.docx --replace "2025" "2026" --replace "ACME" "Acme Ltd"
    python3 edit_document.py in.docx out.docx --fill values.json      # {"name": "Ada"} fills {{name}}
    python3 edit_document.py in.docx out.docx --delete "DRAFT"         # paragraphs containing the text
    python3 edit_document.py in.docx out.docx --append more.md

Replacements reach body text, tables, headers and footers, also where Word split the text
over several runs. The script prints how many replacements each pattern made; a pattern
that matched nothing makes the exit status 2.
"""

import argparse
import json
import os
import re
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from docx import Document  # noqa: E402
from docx.opc.exceptions import PackageNotFoundError  # noqa: E402

from create_document import MarkdownError, add_markdown  # noqa: E402


def paragraphs(doc):
    """Every paragraph of the document: body, tables (nested too), headers and footers."""

    def walk(container):
        yield from container.paragraphs
        for table in getattr(container, "tables", []):
            for row in table.rows:
                for cell in row.cells:
                    yield from walk(cell)

    yield from walk(doc)
    for section in doc.sections:
        for part in (section.header, section.footer, section.first_page_header, section.first_page_footer):
            if not part.is_linked_to_previous:
                yield from walk(part)


def replace_in_paragraph(p, pattern, repl):
    """Replace pattern (a compiled regex) with repl in p's text across runs; returns the count.

    The replacement takes the formatting of the run where the match starts."""
    runs = p.runs
    text = "".join(r.text for r in runs)
    matches = [m for m in pattern.finditer(text) if m.end() > m.start()]
    if not matches:
        return 0
    starts, pos = [], 0
    for r in runs:
        starts.append(pos)
        pos += len(r.text)
    # Right to left, so that a change never moves the runs an earlier match lies in.
    for m in reversed(matches):
        a, b = m.span()
        touched = [i for i, s in enumerate(starts) if s < b and s + len(runs[i].text) > a]
        for k, i in enumerate(touched):
            r, s = runs[i], starts[i]
            lo, hi = max(a - s, 0), min(b - s, len(r.text))
            r.text = r.text[:lo] + (m.expand(repl) if k == 0 else "") + r.text[hi:]
    return len(matches)


def replace(doc, old, new, regex=False):
    pattern = re.compile(old if regex else re.escape(old))
    repl = new if regex else new.replace("\\", "\\\\")
    return sum(replace_in_paragraph(p, pattern, repl) for p in list(paragraphs(doc)))


def delete_paragraphs(doc, text):
    n = 0
    for p in list(paragraphs(doc)):
        if text in p.text:
            p._element.getparent().remove(p._element)
            n += 1
    return n


def main(argv=None):
    ap = argparse.ArgumentParser(description="Edit a .docx document without tracked changes.")
    ap.add_argument("path")
    ap.add_argument("out")
    ap.add_argument("--replace", nargs=2, action="append", default=[], metavar=("OLD", "NEW"))
    ap.add_argument("--regex", action="store_true", help="OLD is a regular expression; NEW may use \\1")
    ap.add_argument("--fill", help="JSON file of {placeholder: value} filling {{placeholder}}")
    ap.add_argument("--delete", action="append", default=[], help="delete paragraphs containing this text")
    ap.add_argument("--append", help="Markdown file to append")
    args = ap.parse_args(argv)
    try:
        doc = Document(args.path)
        pairs = [(o, n, args.regex) for o, n in args.replace]
        if args.fill:
            with open(args.fill, encoding="utf-8") as f:
                pairs += [("{{%s}}" % k, str(v), False) for k, v in json.load(f).items()]
        counts = {}
        for old, new, rx in pairs:
            counts[old] = replace(doc, old, new, rx)
        for text in args.delete:
            counts["delete: " + text] = delete_paragraphs(doc, text)
        if args.append:
            with open(args.append, encoding="utf-8") as f:
                add_markdown(doc, f.read(), os.path.dirname(os.path.abspath(args.append)))
        doc.save(args.out)
    except (OSError, PackageNotFoundError, zipfile.BadZipFile, json.JSONDecodeError, MarkdownError, re.error) as e:
        print("edit_document.py: %s" % e, file=sys.stderr)
        return 1
    for what, n in counts.items():
        print("%s: %d" % (what, n))
    print("wrote %s" % args.out)
    missed = [w for w, n in counts.items() if n == 0]
    if missed:
        print("edit_document.py: nothing matched %s" % ", ".join(map(repr, missed)), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
