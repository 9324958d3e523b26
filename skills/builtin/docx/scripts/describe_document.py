#!/usr/bin/env python3
"""Show what a Word document holds: its paragraphs with their styles (headings marked),
tables, pictures, sections, headers and footers.

    python3 describe_document.py doc.docx [--json] [--outline]

--outline prints only the headings. For plain text use `--json` and join "text", or
`python3 -c "import docx; print('\\n'.join(p.text for p in docx.Document('doc.docx').paragraphs))"`.
"""

import argparse
import json
import sys
import zipfile

from docx import Document
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.ns import qn


def describe(path):
    doc = Document(path)
    blocks = []
    body = doc.element.body
    tables = iter(doc.tables)
    paras = iter(doc.paragraphs)
    for child in body.iterchildren():
        if child.tag == qn("w:p"):
            p = next(paras)
            pictures = len(child.findall(".//" + qn("w:drawing")))
            # All the text, also of hyperlinks, which python-docx's Paragraph.text leaves out.
            text = "".join(t.text or "" for t in child.iter(qn("w:t")))
            if not text.strip() and not pictures:
                continue
            b = {"type": "paragraph", "style": p.style.name, "text": text}
            if pictures:
                b["pictures"] = pictures
            blocks.append(b)
        elif child.tag == qn("w:tbl"):
            t = next(tables)
            blocks.append({"type": "table", "rows": [[c.text for c in row.cells] for row in t.rows]})
    sections = []
    for s in doc.sections:
        sections.append({
            "orientation": "landscape" if s.page_width > s.page_height else "portrait",
            "header": "\n".join(p.text for p in s.header.paragraphs if p.text),
            "footer": "\n".join(p.text for p in s.footer.paragraphs if p.text),
        })
    return {"title": doc.core_properties.title, "blocks": blocks, "sections": sections,
            "pictures": len(doc.inline_shapes)}


def render(desc, outline=False):
    lines = []
    for b in desc["blocks"]:
        if b["type"] == "table":
            if not outline:
                lines.extend("| " + " | ".join(r) + " |" for r in b["rows"])
            continue
        style = b["style"]
        if style == "Title" or style.startswith("Heading"):
            level = 0 if style == "Title" else int(style.split()[-1]) if style.split()[-1].isdigit() else 1
            lines.append(("Title: " if level == 0 else "#" * level + " ") + b["text"])
        elif not outline:
            extra = " [%d picture(s)]" % b["pictures"] if b.get("pictures") else ""
            lines.append(("[%s] " % style if style != "Normal" else "") + b["text"] + extra)
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Describe a .docx document.")
    ap.add_argument("path")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--outline", action="store_true", help="only the headings")
    args = ap.parse_args(argv)
    try:
        desc = describe(args.path)
    except (OSError, PackageNotFoundError, zipfile.BadZipFile, KeyError) as e:
        print("describe_document.py: cannot read %s: %s" % (args.path, e), file=sys.stderr)
        return 1
    print(json.dumps(desc, indent=2) if args.json else render(desc, args.outline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
