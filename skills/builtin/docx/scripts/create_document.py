#!/usr/bin/env python3
"""Build a Word document (.docx) from Markdown.

    python3 create_document.py report.md report.docx [--title "Report"] [--landscape]
        [--header "Acme - confidential"] [--page-numbers]

Supported Markdown: "#".."######" headings, paragraphs with **bold**, *italic*, `code` and
[links](https://...), "-"/"*" bullets and "1." numbered lists (indent two spaces to nest),
pipe tables (the first row is the header), ![caption](image.png) or
![caption](image.png){width=3in}, "> " quotes, ``` code blocks, "---" alone a horizontal
rule, "\\pagebreak" alone a page break and "[TOC]" alone a table of contents (Word fills it
in when the document is opened).
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from docx import Document  # noqa: E402
from docx.enum.section import WD_ORIENT  # noqa: E402
from docx.enum.table import WD_TABLE_ALIGNMENT  # noqa: E402
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK  # noqa: E402
from docx.image.exceptions import UnrecognizedImageError  # noqa: E402
from docx.opc.constants import RELATIONSHIP_TYPE  # noqa: E402
from docx.oxml import OxmlElement  # noqa: E402
from docx.oxml.ns import qn  # noqa: E402
from docx.shared import Inches, Pt, RGBColor  # noqa: E402

import mdblocks  # noqa: E402


class MarkdownError(ValueError):
    """The Markdown cannot be converted; the message says why."""


def add_inline(paragraph, text):
    """Add text to paragraph as runs, honouring **bold**, *italic*, `code` and [links](url)."""
    for chunk, style in mdblocks.spans(text):
        url = mdblocks.link(style)
        if url:
            add_hyperlink(paragraph, chunk, url)
            continue
        r = paragraph.add_run(chunk)
        r.bold = True if "bold" in style else None
        r.italic = True if "italic" in style else None
        if "code" in style:
            r.font.name = "Consolas"


def add_hyperlink(paragraph, text, url):
    """A real, clickable hyperlink run (python-docx has no API for one)."""
    r_id = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), r_id)
    run = OxmlElement("w:r")
    props = OxmlElement("w:rPr")
    color = OxmlElement("w:color")
    color.set(qn("w:val"), "0563C1")
    underline = OxmlElement("w:u")
    underline.set(qn("w:val"), "single")
    props.append(color)
    props.append(underline)
    run.append(props)
    t = OxmlElement("w:t")
    t.text = text
    t.set(qn("xml:space"), "preserve")
    run.append(t)
    link.append(run)
    paragraph._p.append(link)


def _field(paragraph, instr, placeholder="Right-click to update the table of contents."):
    """A field (a table of contents, a page number) that Word computes when it shows the document."""
    fld = OxmlElement("w:fldSimple")
    fld.set(qn("w:instr"), instr)
    r = OxmlElement("w:r")
    t = OxmlElement("w:t")
    t.text = placeholder
    r.append(t)
    fld.append(r)
    paragraph._p.append(fld)


def _table(doc, rows):
    ncols = max(len(r) for r in rows)
    table = doc.add_table(rows=len(rows), cols=ncols)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for i, row in enumerate(rows):
        for j in range(ncols):
            cell = table.cell(i, j)
            p = cell.paragraphs[0]
            text = row[j] if j < len(row) else ""
            if i == 0:
                p.add_run(text).bold = True
                shade = OxmlElement("w:shd")
                shade.set(qn("w:val"), "clear")
                shade.set(qn("w:fill"), "D9E2F3")
                cell._tc.get_or_add_tcPr().append(shade)
            else:
                add_inline(p, text)
            if re.fullmatch(r"[-+$€£]?[\d,.]+%?", text.strip() or "x"):
                p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    # Repeat the header row on every page.
    trPr = table.rows[0]._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    trPr.append(header)
    return table


def _image(doc, path, caption, width):
    if not os.path.exists(path):
        raise MarkdownError("image %s not found" % path)
    try:
        doc.add_picture(path, width=width)
    except (UnrecognizedImageError, OSError) as e:
        raise MarkdownError("image %s cannot be read: %s" % (path, e or "not a PNG, JPEG, GIF, BMP or TIFF")) from None
    doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    if caption:
        p = doc.add_paragraph(caption, style="Caption")
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _rule(doc):
    p = doc.add_paragraph()
    border = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for k, v in (("val", "single"), ("sz", "6"), ("space", "1"), ("color", "999999")):
        bottom.set(qn("w:" + k), v)
    border.append(bottom)
    p._p.get_or_add_pPr().append(border)


def add_markdown(doc, text, base_dir="."):
    """Append the Markdown text to doc (a python-docx Document)."""
    section = doc.sections[-1]
    max_width = section.page_width - section.left_margin - section.right_margin
    for kind, data in mdblocks.parse(text):
        if kind == "heading":
            add_inline(doc.add_heading(level=data[0]), data[1])
        elif kind == "paragraph":
            add_inline(doc.add_paragraph(), data)
        elif kind == "list":
            for level, numbered, item in data:
                level = min(level, 2)
                style = ("List Number" if numbered else "List Bullet") + ("" if level == 0 else " %d" % (level + 1))
                add_inline(doc.add_paragraph(style=style), item)
        elif kind == "table":
            _table(doc, data)
            doc.add_paragraph()
        elif kind == "image":
            caption, path, inches = data
            width = min(max_width, Inches(inches)) if inches else max_width
            _image(doc, path if os.path.exists(path) else os.path.join(base_dir, path), caption, int(width))
        elif kind == "code":
            p = doc.add_paragraph()
            r = p.add_run(data)
            r.font.name, r.font.size = "Consolas", Pt(9.5)
            p.paragraph_format.left_indent = Inches(0.25)
        elif kind == "quote":
            add_inline(doc.add_paragraph(style="Quote"), data)
        elif kind == "rule":
            _rule(doc)
        elif kind == "pagebreak":
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        elif kind == "toc":
            _field(doc.add_paragraph(), 'TOC \\o "1-3" \\h \\z \\u')


def new_document(title=None, landscape=False):
    """A Document with codebox's default look: Calibri 11, 1-inch margins, optional title."""
    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = "Calibri", Pt(11)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "Calibri")
    for level in range(1, 4):
        doc.styles["Heading %d" % level].font.color.rgb = RGBColor(0x1F, 0x4E, 0x78)
    section = doc.sections[0]
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = section.page_height, section.page_width
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Inches(1))
    if title:
        doc.core_properties.title = title
        doc.add_heading(title, level=0)
    return doc


def set_header_footer(doc, header=None, page_numbers=False):
    """Put header text at the top of every page and "Page N of M" at the bottom."""
    section = doc.sections[0]
    if header:
        p = section.header.paragraphs[0]
        p.text = header
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        for r in p.runs:
            r.font.size, r.font.color.rgb = Pt(9), RGBColor(0x66, 0x66, 0x66)
    if page_numbers:
        p = section.footer.paragraphs[0]
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.add_run("Page ")
        _field(p, "PAGE", "1")
        p.add_run(" of ")
        _field(p, "NUMPAGES", "1")


def create(markdown, out, title=None, landscape=False, base_dir=".", header=None, page_numbers=False):
    doc = new_document(title, landscape)
    set_header_footer(doc, header, page_numbers)
    add_markdown(doc, markdown, base_dir)
    doc.save(out)
    return doc


def main(argv=None):
    ap = argparse.ArgumentParser(description="Build a .docx document from Markdown.")
    ap.add_argument("markdown", help="the Markdown file, or - for standard input")
    ap.add_argument("out", help="the .docx file to write")
    ap.add_argument("--title", help="a title at the top (Title style) and in the document properties")
    ap.add_argument("--landscape", action="store_true")
    ap.add_argument("--header", help="text at the top right of every page")
    ap.add_argument("--page-numbers", action="store_true", help='"Page N of M" at the bottom of every page')
    args = ap.parse_args(argv)
    try:
        text = sys.stdin.read() if args.markdown == "-" else open(args.markdown, encoding="utf-8").read()
        base = os.path.dirname(os.path.abspath(args.markdown)) if args.markdown != "-" else "."
        doc = create(text, args.out, args.title, args.landscape, base, args.header, args.page_numbers)
    except (MarkdownError, OSError) as e:
        print("create_document.py: %s" % e, file=sys.stderr)
        return 1
    print("wrote %s: %d paragraphs, %d tables" % (args.out, len(doc.paragraphs), len(doc.tables)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
