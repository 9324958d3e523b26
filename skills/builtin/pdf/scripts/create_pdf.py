#!/usr/bin/env python3
"""Make a PDF document from Markdown with reportlab.

    python3 create_pdf.py report.md report.pdf [--title "Report"] [--landscape] [--letter]

Supported Markdown: "#".."###" headings (they also become PDF bookmarks), paragraphs with
**bold**, *italic*, `code` and [links](https://...), "-" bullets and "1." numbered lists
(indent two spaces to nest), pipe tables (header row repeated on each page),
![caption](image.png) or ![caption](image.png){width=3in}, "> " quotes, ``` code blocks,
"---" alone a rule and "\\pagebreak" alone a page break. Pages are A4 (or US Letter) with
page numbers; DejaVu fonts give the text full Unicode coverage.
"""

import argparse
import os
import re
import sys
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape, letter
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm, inch
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (HRFlowable, Image, ListFlowable, ListItem, PageBreak, Paragraph, Preformatted,
                                SimpleDocTemplate, Spacer, Table, TableStyle)

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
ACCENT = colors.HexColor("#1F4E78")


class MarkdownError(ValueError):
    """The Markdown cannot be converted; the message says why."""


def _fonts():
    """(regular, bold, mono) font names: DejaVu when installed (Unicode), else the PDF base fonts."""
    files = {"DejaVuSans": "DejaVuSans.ttf", "DejaVuSans-Bold": "DejaVuSans-Bold.ttf",
             "DejaVuSansMono": "DejaVuSansMono.ttf"}
    if not all(os.path.exists(os.path.join(FONT_DIR, f)) for f in files.values()):
        return "Helvetica", "Helvetica-Bold", "Courier"
    for name, f in files.items():
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, os.path.join(FONT_DIR, f)))
    # DejaVu has no italic face installed: italics use the regular face.
    pdfmetrics.registerFontFamily("DejaVuSans", normal="DejaVuSans", bold="DejaVuSans-Bold",
                                  italic="DejaVuSans", boldItalic="DejaVuSans-Bold")
    return "DejaVuSans", "DejaVuSans-Bold", "DejaVuSansMono"


def styles():
    regular, bold, mono = _fonts()
    ss = getSampleStyleSheet()
    base = ParagraphStyle("Body", parent=ss["BodyText"], fontName=regular, fontSize=10.5, leading=14.5, spaceAfter=6)
    return {
        "body": base,
        "title": ParagraphStyle("DocTitle", parent=base, fontName=bold, fontSize=22, leading=27, textColor=ACCENT,
                                spaceAfter=14),
        "h1": ParagraphStyle("H1", parent=base, fontName=bold, fontSize=16, leading=20, textColor=ACCENT,
                             spaceBefore=12, spaceAfter=6, keepWithNext=1),
        "h2": ParagraphStyle("H2", parent=base, fontName=bold, fontSize=13, leading=17, textColor=ACCENT,
                             spaceBefore=10, spaceAfter=4, keepWithNext=1),
        "h3": ParagraphStyle("H3", parent=base, fontName=bold, fontSize=11, leading=15, spaceBefore=8, spaceAfter=3,
                             keepWithNext=1),
        "quote": ParagraphStyle("Quote", parent=base, leftIndent=18, textColor=colors.HexColor("#555555")),
        "code": ParagraphStyle("Code", parent=base, fontName=mono, fontSize=8.5, leading=11, leftIndent=12,
                               backColor=colors.HexColor("#F3F3F3")),
        "caption": ParagraphStyle("Caption", parent=base, fontSize=9, alignment=TA_CENTER,
                                  textColor=colors.HexColor("#555555")),
        "cell": ParagraphStyle("Cell", parent=base, fontSize=9.5, leading=12, spaceAfter=0),
        "head": ParagraphStyle("Head", parent=base, fontName=bold, fontSize=9.5, leading=12, spaceAfter=0,
                               textColor=colors.white),
        "mono": mono,
    }


_INLINE = re.compile(r"\*\*(.+?)\*\*|`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)|(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])")


def inline(text, mono="Courier"):
    """text with Markdown emphasis, code and links as reportlab paragraph markup (escaped)."""
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(escape(text[pos:m.start()]))
        if m.group(1):
            out.append("<b>%s</b>" % inline(m.group(1), mono))
        elif m.group(2):
            out.append('<font face="%s">%s</font>' % (mono, escape(m.group(2))))
        elif m.group(3):
            out.append('<link href="%s" color="blue"><u>%s</u></link>' % (escape(m.group(4), {'"': "&quot;"}),
                                                                         escape(m.group(3))))
        else:
            out.append("<i>%s</i>" % inline(m.group(5), mono))
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


class _Doc(SimpleDocTemplate):
    """Adds each heading to the PDF outline (bookmarks)."""

    def afterFlowable(self, flowable):
        level = getattr(flowable, "outline_level", None)
        if level is not None:
            key = "h%d" % id(flowable)
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(flowable.getPlainText(), key, level=level, closed=False)


def _page_number(canvas, doc):
    canvas.saveState()
    canvas.setFont("Helvetica", 8.5)
    canvas.setFillColor(colors.HexColor("#777777"))
    canvas.drawRightString(doc.pagesize[0] - doc.rightMargin, 0.5 * inch, "Page %d" % doc.page)
    canvas.restoreState()


def _list_items(lines, st):
    """A ListFlowable from [(indent, marker, text)] lines, nesting by indent."""
    numbered = lines[0][1][0].isdigit()
    items, i = [], 0
    while i < len(lines):
        indent, _, text = lines[i]
        j = i + 1
        while j < len(lines) and lines[j][0] > indent:
            j += 1
        flow = [Paragraph(inline(text, st["mono"]), st["body"])]
        if j > i + 1:
            flow.append(_list_items(lines[i + 1:j], st))
        items.append(ListItem(flow))
        i = j
    return ListFlowable(items, bulletType="1" if numbered else "bullet", start="1" if numbered else None,
                        bulletFontName=st["body"].fontName, bulletFontSize=9, leftIndent=16)


def _table(rows, width, st):
    ncols = max(len(r) for r in rows)
    data = [[Paragraph(inline(r[j] if j < len(r) else "", st["mono"]), st["head"] if i == 0 else st["cell"])
             for j in range(ncols)] for i, r in enumerate(rows)]
    t = Table(data, colWidths=[width / ncols] * ncols, repeatRows=1)
    t.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), ACCENT),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#F2F6FA")]),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#BFBFBF")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]))
    return t


def flowables(text, width, base_dir=".", title=None):
    """The reportlab flowables of the Markdown text for a frame width points wide."""
    st = styles()
    story, para = [], []
    if title:
        story.append(Paragraph(escape(title), st["title"]))

    def flush():
        if para:
            story.append(Paragraph(inline(" ".join(para), st["mono"]), st["body"]))
            para.clear()

    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line, s = lines[i], lines[i].strip()
        i += 1
        if not s:
            flush()
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*$", s)
        if m:
            flush()
            level = min(len(m.group(1)), 3)
            p = Paragraph(inline(m.group(2), st["mono"]), st["h%d" % level])
            p.outline_level = level - 1
            story.append(p)
            continue
        if s.startswith("```"):
            flush()
            code = []
            while i < len(lines) and not lines[i].strip().startswith("```"):
                code.append(lines[i])
                i += 1
            i += 1
            story.append(Preformatted("\n".join(code), st["code"]))
            story.append(Spacer(1, 6))
            continue
        if s in ("---", "***", "___"):
            flush()
            story.append(HRFlowable(width="100%", color=colors.HexColor("#BBBBBB"), spaceBefore=4, spaceAfter=8))
            continue
        if s == "\\pagebreak":
            flush()
            story.append(PageBreak())
            continue
        img = re.match(r"^!\[([^\]]*)\]\(([^)\s]+)\)(?:\{width=([\d.]+)(in|cm)\})?$", s)
        if img:
            flush()
            path = img.group(2) if os.path.exists(img.group(2)) else os.path.join(base_dir, img.group(2))
            if not os.path.exists(path):
                raise MarkdownError("image %s not found" % img.group(2))
            want = float(img.group(3)) * (inch if img.group(4) == "in" else cm) if img.group(3) else width
            pic = Image(path)
            scale = min(want, width) / pic.imageWidth
            pic.drawWidth, pic.drawHeight = pic.imageWidth * scale, pic.imageHeight * scale
            story.append(pic)
            if img.group(1):
                story.append(Paragraph(inline(img.group(1), st["mono"]), st["caption"]))
            continue
        if s.startswith("|"):
            flush()
            rows = []
            while True:
                cells = [c.strip() for c in s.strip("|").split("|")]
                if not all(re.fullmatch(r":?-+:?", c) for c in cells if c):
                    rows.append(cells)
                if i >= len(lines) or not lines[i].strip().startswith("|"):
                    break
                s = lines[i].strip()
                i += 1
            story.append(_table(rows, width, st))
            story.append(Spacer(1, 8))
            continue
        if s.startswith(">"):
            flush()
            story.append(Paragraph(inline(s.lstrip("> ").strip(), st["mono"]), st["quote"]))
            continue
        lm = re.match(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$", line)
        if lm:
            flush()
            items = [(len(lm.group(1).expandtabs(4)), lm.group(2), lm.group(3).strip())]
            while i < len(lines):
                nxt = re.match(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$", lines[i])
                if not nxt:
                    break
                items.append((len(nxt.group(1).expandtabs(4)), nxt.group(2), nxt.group(3).strip()))
                i += 1
            story.append(_list_items(items, st))
            continue
        para.append(s)
    flush()
    return story


def create(markdown, out, title=None, landscape_=False, us_letter=False, base_dir="."):
    """Write the Markdown as a PDF to out; returns the number of pages."""
    size = letter if us_letter else A4
    if landscape_:
        size = landscape(size)
    doc = _Doc(out, pagesize=size, leftMargin=2 * cm, rightMargin=2 * cm, topMargin=2 * cm, bottomMargin=2 * cm,
               title=title or "", author="")
    story = flowables(markdown, doc.width, base_dir, title)
    if not story:
        raise MarkdownError("the Markdown is empty")
    doc.build(story, onFirstPage=_page_number, onLaterPages=_page_number)
    return doc.page


def main(argv=None):
    ap = argparse.ArgumentParser(description="Make a PDF from Markdown.")
    ap.add_argument("markdown", help="the Markdown file, or - for standard input")
    ap.add_argument("out")
    ap.add_argument("--title", help="a title on the first page and in the PDF's metadata")
    ap.add_argument("--landscape", action="store_true")
    ap.add_argument("--letter", action="store_true", help="US Letter instead of A4")
    args = ap.parse_args(argv)
    try:
        text = sys.stdin.read() if args.markdown == "-" else open(args.markdown, encoding="utf-8").read()
        base = os.path.dirname(os.path.abspath(args.markdown)) if args.markdown != "-" else "."
        pages = create(text, args.out, args.title, args.landscape, args.letter, base)
    except (MarkdownError, OSError) as e:
        print("create_pdf.py: %s" % e, file=sys.stderr)
        return 1
    print("wrote %s: %d pages" % (args.out, pages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
