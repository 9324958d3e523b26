#!/usr/bin/env python3
"""Build a 16:9 PowerPoint deck (.pptx) from an outline: JSON or Markdown.

    python3 create_deck.py outline.json deck.pptx
    python3 create_deck.py outline.md deck.pptx [--accent 1F4E78]
    python3 create_deck.py outline.md deck.pptx --template corporate.pptx

JSON: {"title": "Deck", "accent": "1F4E78", "slides": [slide, ...]} where a slide is
    {"layout": "title", "title": "...", "subtitle": "..."}
    {"layout": "section", "title": "...", "subtitle": "..."}
    {"title": "...", "bullets": ["point", ["sub-point", "sub-point"], "point"], "notes": "..."}
    {"title": "...", "image": "chart.png", "caption": "..."}        (with "bullets": text left, image right)
    {"title": "...", "chart": {"type": "column|bar|line|pie|area|scatter", "categories": ["Q1", "Q2"],
                               "series": {"2025": [1, 2]}, "number_format": "0%", "y_title": "..."}}
    {"title": "...", "table": [["Header", "Header"], ["cell", "cell"]]}
    {"title": "...", "text": "a paragraph"}

Markdown: "# Title" opens the title slide (the next paragraph is its subtitle), "## Title"
opens a slide, "- item" / "  - sub-item" (or "1. item") are bullets, "![caption](file.png)"
an image, a pipe table a table, "Notes: ..." the speaker notes, "---" alone an empty break.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from PIL import Image  # noqa: E402
from pptx import Presentation  # noqa: E402
from pptx.chart.data import CategoryChartData, XyChartData  # noqa: E402
from pptx.dml.color import RGBColor  # noqa: E402
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION  # noqa: E402
from pptx.enum.shapes import MSO_SHAPE, PP_PLACEHOLDER  # noqa: E402
from pptx.enum.text import PP_ALIGN  # noqa: E402
from pptx.util import Emu, Inches, Pt  # noqa: E402

import mdblocks  # noqa: E402


class OutlineError(ValueError):
    """The outline is malformed; the message says where."""


WIDTH, HEIGHT = Inches(13.333), Inches(7.5)
MARGIN = Inches(0.6)
LAYOUT_TITLE, LAYOUT_SECTION, LAYOUT_CONTENT, LAYOUT_TITLE_ONLY = 0, 2, 1, 5
CHARTS = {
    "column": XL_CHART_TYPE.COLUMN_CLUSTERED, "bar": XL_CHART_TYPE.BAR_CLUSTERED,
    "stacked_column": XL_CHART_TYPE.COLUMN_STACKED, "stacked_bar": XL_CHART_TYPE.BAR_STACKED,
    "line": XL_CHART_TYPE.LINE_MARKERS, "pie": XL_CHART_TYPE.PIE, "doughnut": XL_CHART_TYPE.DOUGHNUT,
    "area": XL_CHART_TYPE.AREA, "scatter": XL_CHART_TYPE.XY_SCATTER,
}


def build(outline, base_dir=".", template=None):
    """A python-pptx Presentation made from outline (a dict as in the module docstring).

    With template (a .pptx path) the deck uses the template's slide size, layouts, fonts and
    colours, and none of the template's own slides."""
    slides = outline.get("slides")
    if not isinstance(slides, list) or not slides:
        raise OutlineError('the outline needs "slides": a non-empty list')
    deck = Deck(template, RGBColor.from_string(str(outline.get("accent", "1F4E78")).lstrip("#")), base_dir)
    if outline.get("title"):
        deck.prs.core_properties.title = outline["title"]
    for i, s in enumerate(slides):
        if not isinstance(s, dict):
            raise OutlineError("slides[%d] must be an object" % i)
        try:
            deck.add(s)
        except (OutlineError, KeyError, TypeError, ValueError, OSError) as e:
            raise OutlineError("slide %d (%s): %s" % (i + 1, s.get("title", "untitled"), e)) from None
    return deck.prs


# Layout names in PowerPoint's default and most corporate templates, then the default
# template's index of each.
LAYOUTS = {
    "title": (("title slide",), LAYOUT_TITLE),
    "section": (("section header", "section title", "section"), LAYOUT_SECTION),
    "content": (("title and content", "title, content", "content"), LAYOUT_CONTENT),
    "title_only": (("title only",), LAYOUT_TITLE_ONLY),
}


class Deck:
    """Adds outline slides to a presentation: codebox's own style, or a template's."""

    def __init__(self, template, accent, base_dir):
        self.themed = template is not None
        self.accent, self.base_dir = accent, base_dir
        if self.themed:
            self.prs = Presentation(template)
            ids = self.prs.slides._sldIdLst
            for el in list(ids):
                self.prs.part.drop_rel(el.rId)
                ids.remove(el)
        else:
            self.prs = Presentation()
            self.prs.slide_width, self.prs.slide_height = WIDTH, HEIGHT
        self.width, self.height = self.prs.slide_width, self.prs.slide_height

    def layout(self, kind):
        names, index = LAYOUTS[kind]
        layouts = list(self.prs.slide_layouts)
        for match in (str.__eq__, str.__contains__):
            for want in names:
                for lay in layouts:
                    if match(lay.name.strip().lower(), want):
                        return lay
        return layouts[min(index, len(layouts) - 1)]

    def add(self, s):
        kind = s.get("layout", "content")
        if kind not in ("title", "section", "content"):
            raise OutlineError('layout must be "title", "section" or "content", not %r' % kind)
        slide = self._cover(s, kind) if kind in ("title", "section") else self._content(s)
        if s.get("notes"):
            slide.notes_slide.notes_text_frame.text = s["notes"]
        return slide

    def _cover(self, s, kind):
        slide = self.prs.slides.add_slide(self.layout(kind))
        title = slide.shapes.title
        sub = next((ph for ph in slide.placeholders if ph.placeholder_format.idx == 1), None)
        if title is not None:
            title.text_frame.text = s.get("title", "")
        if sub is not None:
            if s.get("subtitle"):
                sub.text_frame.text = s["subtitle"]
            else:
                sub._element.getparent().remove(sub._element)
        if self.themed or title is None:
            return slide
        bg = slide.background.fill
        bg.solid()
        bg.fore_color.rgb = self.accent
        top = Inches(2.4) if kind == "title" else Inches(2.8)
        _place(title, MARGIN, top, self.width - 2 * MARGIN, Inches(1.5))
        _set_text(title, s.get("title", ""), Pt(44 if kind == "title" else 36), RGBColor(255, 255, 255), bold=True)
        paras = list(title.text_frame.paragraphs)
        if sub is not None and s.get("subtitle"):
            _place(sub, MARGIN, top + Inches(1.6), self.width - 2 * MARGIN, Inches(1.2))
            _set_text(sub, s["subtitle"], Pt(22), RGBColor(0xE7, 0xEE, 0xF6))
            paras += list(sub.text_frame.paragraphs)
        for p in paras:
            p.alignment = PP_ALIGN.LEFT
        return slide

    def _content(self, s):
        has_bullets = bool(s.get("bullets") or s.get("text"))
        slide = self.prs.slides.add_slide(self.layout("content" if has_bullets else "title_only"))
        title = slide.shapes.title
        body = _body(slide)
        if title is not None:
            title.text_frame.text = s.get("title", "")
        if self.themed:
            below = (title.top + title.height + Inches(0.2)) if title is not None else MARGIN
            if body is not None:
                area = (body.left, body.top, body.width, body.height)
            else:
                area = (MARGIN, below, self.width - 2 * MARGIN, self.height - below - Inches(0.5))
        else:
            if title is not None:
                _place(title, MARGIN, Inches(0.35), self.width - 2 * MARGIN, Inches(1.0))
                _set_text(title, s.get("title", ""), Pt(32), self.accent, bold=True)
                title.text_frame.paragraphs[0].alignment = PP_ALIGN.LEFT
            bar = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, MARGIN, Inches(1.35), Inches(1.2), Inches(0.06))
            bar.fill.solid()
            bar.fill.fore_color.rgb = self.accent
            bar.line.fill.background()
            area = (MARGIN, Inches(1.65), self.width - 2 * MARGIN, self.height - Inches(1.65) - Inches(0.5))
        left, top, width, height = (int(v) for v in area)
        visual = s.get("image") or s.get("chart") or s.get("table")
        text_w = int(width * 0.45) if visual else width
        if has_bullets:
            if body is None:
                raise OutlineError("the template's content layout has no body placeholder for bullets")
            _place(body, left, top, text_w, height)
            _bullets(body.text_frame, s.get("bullets") or [s["text"]], spaced=not s.get("bullets"), sized=not self.themed)
        elif body is not None:
            body._element.getparent().remove(body._element)
        gap = Inches(0.3)
        box = (left + text_w + gap, top, width - text_w - gap, height) if has_bullets and visual else (left, top, width, height)
        if s.get("image"):
            path = s["image"] if os.path.exists(s["image"]) else os.path.join(self.base_dir, s["image"])
            _image(slide, path, box, s.get("caption"))
        elif s.get("chart"):
            _chart(slide, s["chart"], box)
        elif s.get("table"):
            _table(slide, s["table"], box, None if self.themed else self.accent)
        return slide


def _body(slide):
    """The slide's placeholder for bullets: index 1 as in most layouts, else any body placeholder."""
    others = [ph for ph in slide.placeholders if ph.placeholder_format.idx != 0]
    for ph in others:
        if ph.placeholder_format.idx == 1:
            return ph
    for ph in others:
        if ph.placeholder_format.type in (PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT):
            return ph
    return None


def _place(shape, left, top, width, height):
    shape.left, shape.top, shape.width, shape.height = int(left), int(top), int(width), int(height)


def _set_text(shape, text, size, color, bold=False):
    tf = shape.text_frame
    tf.text = str(text)
    for p in tf.paragraphs:
        for r in p.runs:
            r.font.size, r.font.bold, r.font.color.rgb = size, bold, color


def _bullets(tf, items, spaced=False, sized=True):
    tf.word_wrap = True
    first = True

    def add(item, level):
        nonlocal first
        if isinstance(item, list):
            for sub in item:
                add(sub, level + 1)
            return
        p = tf.paragraphs[0] if first else tf.add_paragraph()
        first = False
        for chunk, style in mdblocks.spans(str(item)):
            r = p.add_run()
            r.text = chunk
            r.font.bold = True if "bold" in style else None
            r.font.italic = True if "italic" in style else None
            if "code" in style:
                r.font.name = "Consolas"
            if mdblocks.link(style):
                r.hyperlink.address = mdblocks.link(style)
        p.level = max(0, min(level, 4))
        if sized:
            for r in p.runs:
                r.font.size = Pt(20 if level <= 0 else 17)
        if spaced:
            p.space_after = Pt(8)

    for item in items:
        add(item, 0)


def _image(slide, path, box, caption):
    left, top, width, height = box
    if caption:
        height -= Inches(0.5)
    with Image.open(path) as im:
        w, h = im.size
    scale = min(width / w, height / h)
    pw, ph = int(w * scale), int(h * scale)
    slide.shapes.add_picture(path, left + (width - pw) // 2, top + (height - ph) // 2, pw, ph)
    if caption:
        tb = slide.shapes.add_textbox(left, top + height + Inches(0.05), width, Inches(0.45))
        tb.text_frame.text = caption
        p = tb.text_frame.paragraphs[0]
        p.alignment = PP_ALIGN.CENTER
        p.runs[0].font.size, p.runs[0].font.italic = Pt(14), True


def _chart(slide, spec, box):
    kind = spec.get("type", "column")
    if kind not in CHARTS:
        raise OutlineError("chart type must be one of %s" % ", ".join(sorted(CHARTS)))
    series = spec.get("series")
    if not isinstance(series, dict) or not series:
        raise OutlineError('a chart needs "series": {"name": [values]}')
    if kind == "scatter":
        data = XyChartData()
        for name, points in series.items():
            s = data.add_series(name)
            for x, y in points:
                s.add_data_point(x, y)
    else:
        data = CategoryChartData()
        data.categories = spec.get("categories") or []
        for name, values in series.items():
            if len(values) != len(data.categories):
                raise OutlineError("series %r has %d values for %d categories" % (name, len(values), len(data.categories)))
            data.add_series(name, values, number_format=spec.get("number_format"))
    chart = slide.shapes.add_chart(CHARTS[kind], *box, data).chart
    if spec.get("title"):
        chart.has_title = True
        chart.chart_title.text_frame.text = spec["title"]
    chart.has_legend = len(series) > 1 or kind in ("pie", "doughnut")
    if chart.has_legend:
        chart.legend.position = XL_LEGEND_POSITION.BOTTOM
        chart.legend.include_in_layout = False
    if kind in ("pie", "doughnut"):
        plot = chart.plots[0]
        plot.has_data_labels = True
        plot.data_labels.number_format = spec.get("number_format") or "0%"
        plot.data_labels.number_format_is_linked = False
        plot.data_labels.show_percentage = not spec.get("number_format")
    else:
        for key, axis in (("x_title", chart.category_axis), ("y_title", chart.value_axis)):
            if spec.get(key):
                axis.has_title = True
                axis.axis_title.text_frame.text = spec[key]


def _table(slide, rows, box, accent):
    if not rows or not all(isinstance(r, list) for r in rows):
        raise OutlineError("a table is a list of rows, each a list of cells")
    ncols = max(len(r) for r in rows)
    left, top, width, height = box
    row_h = min(Inches(0.5), height // len(rows))
    table = slide.shapes.add_table(len(rows), ncols, left, top, width, Emu(row_h * len(rows))).table
    for r, row in enumerate(rows):
        for c in range(ncols):
            cell = table.cell(r, c)
            cell.text = "" if c >= len(row) or row[c] is None else str(row[c])
            for p in cell.text_frame.paragraphs:
                for run in p.runs:
                    run.font.size = Pt(14)
                    run.font.bold = r == 0
            if r == 0 and accent is not None:
                cell.fill.solid()
                cell.fill.fore_color.rgb = accent


def parse_markdown(text):
    """The outline dict of a Markdown outline (see the module docstring)."""
    outline, slide = {"slides": []}, None
    for kind, data in mdblocks.parse(text, notes=True):
        if kind == "heading":
            level, title = data[0], plain(data[1])
            if level == 1 and not outline["slides"]:
                outline["title"] = title
                slide = {"layout": "title", "title": title}
            else:
                slide = {"layout": "section", "title": title} if level == 1 else {"title": title}
            outline["slides"].append(slide)
            continue
        if kind in ("rule", "pagebreak", "toc"):
            continue
        if slide is None:
            slide = {"title": ""}
            outline["slides"].append(slide)
        if kind in ("paragraph", "quote", "code"):
            key = "subtitle" if slide.get("layout") in ("title", "section") else "text"
            slide[key] = (slide.get(key, "") + " " + data).strip()
        elif kind == "notes":
            slide["notes"] = data
        elif kind == "image":
            slide["image"], slide["caption"] = data[1], data[0] or None
        elif kind == "table":
            slide["table"] = [[plain(c) for c in row] for row in data]
        elif kind == "list":
            for level, _, item in data:
                _add_bullet(slide.setdefault("bullets", []), level, item)
    for s in outline["slides"]:
        if s.get("text") and s.get("bullets"):
            s["bullets"].insert(0, s.pop("text"))
    return outline


def plain(text):
    """Inline Markdown without its markup."""
    return "".join(chunk for chunk, _ in mdblocks.spans(text))


def _add_bullet(items, level, text):
    while level > 0 and items and isinstance(items[-1], list):
        items, level = items[-1], level - 1
    if level > 0:
        items.append([text])
    else:
        items.append(text)


def create(outline, out, base_dir=".", template=None):
    prs = build(outline, base_dir, template)
    prs.save(out)
    return len(prs.slides)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Build a .pptx deck from a JSON or Markdown outline.")
    ap.add_argument("outline", help="outline file (.json, or Markdown), or - for Markdown on standard input")
    ap.add_argument("out", help="the .pptx file to write")
    ap.add_argument("--accent", help="accent colour as RRGGBB (default 1F4E78)")
    ap.add_argument("--template", help="a .pptx whose layouts, fonts, colours and size to use (its slides are left out)")
    args = ap.parse_args(argv)
    try:
        text = sys.stdin.read() if args.outline == "-" else open(args.outline, encoding="utf-8").read()
        outline = json.loads(text) if args.outline.endswith(".json") else parse_markdown(text)
        if args.accent:
            outline["accent"] = args.accent
        base = os.path.dirname(os.path.abspath(args.outline)) if args.outline != "-" else "."
        n = create(outline, args.out, base, args.template)
    except json.JSONDecodeError as e:
        print("create_deck.py: %s is not valid JSON: %s" % (args.outline, e), file=sys.stderr)
        return 1
    except (OutlineError, OSError) as e:
        print("create_deck.py: %s" % e, file=sys.stderr)
        return 1
    print("wrote %s: %d slides" % (args.out, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
