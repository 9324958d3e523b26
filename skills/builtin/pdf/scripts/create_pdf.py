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
import sys
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reportlab.lib import colors  # noqa: E402
from reportlab.lib.enums import TA_CENTER  # noqa: E402
from reportlab.lib.pagesizes import A4, landscape, letter  # noqa: E402
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet  # noqa: E402
from reportlab.lib.units import cm, inch  # noqa: E402
from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfbase.ttfonts import TTFont  # noqa: E402
from reportlab.platypus import (HRFlowable, Image, ListFlowable, ListItem, PageBreak, Paragraph,  # noqa: E402
                                Preformatted, SimpleDocTemplate, Spacer, Table, TableStyle)

import mdblocks  # noqa: E402

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


def inline(text, mono="Courier"):
    """text with Markdown emphasis, code and links as reportlab paragraph markup (escaped)."""
    out = []
    for chunk, style in mdblocks.spans(text):
        chunk = escape(chunk)
        if "code" in style:
            chunk = '<font face="%s">%s</font>' % (mono, chunk)
        if "italic" in style:
            chunk = "<i>%s</i>" % chunk
        if "bold" in style:
            chunk = "<b>%s</b>" % chunk
        url = mdblocks.link(style)
        if url:
            chunk = '<link href="%s" color="blue"><u>%s</u></link>' % (escape(url, {'"': "&quot;"}), chunk)
        out.append(chunk)
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


def _list_items(items, st):
    """A ListFlowable of [(level, numbered, text)] items, nesting deeper levels."""
    entries, i = [], 0
    while i < len(items):
        level = items[i][0]
        j = i + 1
        while j < len(items) and items[j][0] > level:
            j += 1
        flow = [Paragraph(inline(items[i][2], st["mono"]), st["body"])]
        if j > i + 1:
            flow.append(_list_items(items[i + 1:j], st))
        entries.append(ListItem(flow))
        i = j
    numbered = items[0][1]
    return ListFlowable(entries, bulletType="1" if numbered else "bullet", start="1" if numbered else None,
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
    story = [Paragraph(escape(title), st["title"])] if title else []
    for kind, data in mdblocks.parse(text):
        if kind == "heading":
            level = min(data[0], 3)
            p = Paragraph(inline(data[1], st["mono"]), st["h%d" % level])
            p.outline_level = level - 1
            story.append(p)
        elif kind == "paragraph":
            story.append(Paragraph(inline(data, st["mono"]), st["body"]))
        elif kind == "list":
            story.append(_list_items(data, st))
        elif kind == "table":
            story += [_table(data, width, st), Spacer(1, 8)]
        elif kind == "image":
            caption, path, inches = data
            path = path if os.path.exists(path) else os.path.join(base_dir, path)
            if not os.path.exists(path):
                raise MarkdownError("image %s not found" % data[1])
            pic = Image(path)
            scale = min(inches * inch if inches else width, width) / pic.imageWidth
            pic.drawWidth, pic.drawHeight = pic.imageWidth * scale, pic.imageHeight * scale
            story.append(pic)
            if caption:
                story.append(Paragraph(inline(caption, st["mono"]), st["caption"]))
        elif kind == "code":
            story += [Preformatted(data, st["code"]), Spacer(1, 6)]
        elif kind == "quote":
            story.append(Paragraph(inline(data, st["mono"]), st["quote"]))
        elif kind == "rule":
            story.append(HRFlowable(width="100%", color=colors.HexColor("#BBBBBB"), spaceBefore=4, spaceAfter=8))
        elif kind == "pagebreak":
            story.append(PageBreak())
        # A "toc" block needs nothing: the headings are the PDF's bookmarks.
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
