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

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.image.exceptions import UnrecognizedImageError
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Inches, Pt, RGBColor


class MarkdownError(ValueError):
    """The Markdown cannot be converted; the message says which line."""


_INLINE = re.compile(r"(\*\*(?P<b>.+?)\*\*|__(?P<b2>.+?)__|`(?P<code>[^`]+)`|\[(?P<lt>[^\]]+)\]\((?P<url>[^)\s]+)\)"
                     r"|(?<![\w*])\*(?P<i>[^*\s][^*]*?)\*(?![\w*])|(?<!\w)_(?P<i2>[^_\s][^_]*?)_(?!\w))")
_LIST = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$")
_IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)(?:\{width=([\d.]+)(in|cm)\})?\s*$")


def add_inline(paragraph, text):
    """Add text to paragraph as runs, honouring **bold**, *italic*, `code` and [links](url)."""
    pos = 0
    for m in _INLINE.finditer(text):
        if m.start() > pos:
            paragraph.add_run(text[pos:m.start()])
        if m.group("b") or m.group("b2"):
            add_inline_styled(paragraph, m.group("b") or m.group("b2"), bold=True)
        elif m.group("i") or m.group("i2"):
            add_inline_styled(paragraph, m.group("i") or m.group("i2"), italic=True)
        elif m.group("code"):
            r = paragraph.add_run(m.group("code"))
            r.font.name = "Consolas"
        else:
            add_hyperlink(paragraph, m.group("lt"), m.group("url"))
        pos = m.end()
    if pos < len(text):
        paragraph.add_run(text[pos:])


def add_inline_styled(paragraph, text, bold=None, italic=None):
    start = len(paragraph.runs)
    add_inline(paragraph, text)
    for r in paragraph.runs[start:]:
        if bold:
            r.bold = True
        if italic:
            r.italic = True


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
    lines = text.splitlines()
    i, para = 0, []
    max_width = doc.sections[-1].page_width - doc.sections[-1].left_margin - doc.sections[-1].right_margin

    def flush():
        if para:
            add_inline(doc.add_paragraph(), " ".join(para))
            para.clear()

    while i < len(lines):
        line, stripped = lines[i], lines[i].strip()
        i += 1
        if not stripped:
            flush()
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*$", stripped)
        if m:
            flush()
            add_inline(doc.add_heading(level=len(m.group(1))), m.group(2))
            continue
        if stripped.startswith("```"):
            flush()
            code = []
            while i < len(lines) and not lines[i].strip().startswith("```"):
                code.append(lines[i])
                i += 1
            i += 1
            p = doc.add_paragraph()
            r = p.add_run("\n".join(code))
            r.font.name, r.font.size = "Consolas", Pt(9.5)
            p.paragraph_format.left_indent = Inches(0.25)
            continue
        if stripped in ("---", "***", "___"):
            flush()
            _rule(doc)
            continue
        if stripped == "\\pagebreak":
            flush()
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
            continue
        if stripped == "[TOC]":
            flush()
            _field(doc.add_paragraph(), 'TOC \\o "1-3" \\h \\z \\u')
            continue
        img = _IMAGE.match(stripped)
        if img:
            flush()
            width = max_width
            if img.group(3):
                width = min(max_width, Inches(float(img.group(3)) / (2.54 if img.group(4) == "cm" else 1)))
            path = img.group(2) if os.path.exists(img.group(2)) else os.path.join(base_dir, img.group(2))
            _image(doc, path, img.group(1), int(width))
            continue
        if stripped.startswith("|"):
            flush()
            rows = []
            while True:
                cells = [c.strip() for c in stripped.strip("|").split("|")]
                if not all(re.fullmatch(r":?-+:?", c) for c in cells if c):
                    rows.append(cells)
                if i >= len(lines) or not lines[i].strip().startswith("|"):
                    break
                stripped = lines[i].strip()
                i += 1
            _table(doc, rows)
            doc.add_paragraph()
            continue
        if stripped.startswith(">"):
            flush()
            add_inline(doc.add_paragraph(style="Quote"), stripped.lstrip("> ").strip())
            continue
        lm = _LIST.match(line)
        if lm:
            flush()
            level = min(len(lm.group(1).expandtabs(4)) // 2, 2)
            numbered = lm.group(2)[0].isdigit()
            style = ("List Number" if numbered else "List Bullet") + ("" if level == 0 else " %d" % (level + 1))
            add_inline(doc.add_paragraph(style=style), lm.group(3).strip())
            continue
        para.append(stripped)
    flush()


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
