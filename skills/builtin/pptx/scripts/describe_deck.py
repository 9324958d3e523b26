#!/usr/bin/env python3
"""Show what a .pptx deck holds: each slide's title, text, tables, charts, pictures and notes.

    python3 describe_deck.py deck.pptx [--json]
"""

import argparse
import json
import sys
import zipfile

from pptx import Presentation
from pptx.exc import PackageNotFoundError
from pptx.util import Emu


def describe(path):
    """A dict describing the deck at path."""
    prs = Presentation(path)
    out = {"slide_width_in": round(Emu(prs.slide_width).inches, 2),
           "slide_height_in": round(Emu(prs.slide_height).inches, 2), "slides": []}
    for n, slide in enumerate(prs.slides, 1):
        title = slide.shapes.title
        info = {"number": n, "layout": slide.slide_layout.name,
                "title": title.text_frame.text if title is not None else None,
                "text": [], "tables": [], "charts": [], "pictures": 0}
        for shape in slide.shapes:
            if shape.has_text_frame and shape != title:
                for p in shape.text_frame.paragraphs:
                    if p.text.strip():
                        info["text"].append("  " * p.level + p.text)
            if shape.has_table:
                info["tables"].append([[c.text for c in row.cells] for row in shape.table.rows])
            if shape.has_chart:
                ch = shape.chart
                info["charts"].append({
                    "type": str(ch.chart_type).split(" ")[0],
                    "title": ch.chart_title.text_frame.text if ch.has_title else None,
                    "categories": [str(c) for c in ch.plots[0].categories] if ch.plots else [],
                    "series": {s.name: list(s.values) for s in ch.series},
                })
            if shape.shape_type == 13:  # MSO_SHAPE_TYPE.PICTURE
                info["pictures"] += 1
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame.text.strip():
            info["notes"] = slide.notes_slide.notes_text_frame.text
        out["slides"].append(info)
    return out


def render(desc):
    lines = ["%d slides, %.2f x %.2f in" % (len(desc["slides"]), desc["slide_width_in"], desc["slide_height_in"])]
    for s in desc["slides"]:
        lines.append("--- slide %d [%s]: %s" % (s["number"], s["layout"], s["title"]))
        lines.extend("  " + t for t in s["text"])
        for t in s["tables"]:
            lines.extend("  | " + " | ".join(row) + " |" for row in t)
        for c in s["charts"]:
            lines.append("  chart %s %r: %s" % (c["type"], c["title"], c["series"]))
        if s["pictures"]:
            lines.append("  %d picture(s)" % s["pictures"])
        if s.get("notes"):
            lines.append("  notes: " + s["notes"])
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Describe a .pptx deck slide by slide.")
    ap.add_argument("path")
    ap.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = ap.parse_args(argv)
    try:
        desc = describe(args.path)
    except (OSError, zipfile.BadZipFile, PackageNotFoundError, KeyError) as e:
        print("describe_deck.py: cannot read %s: %s" % (args.path, e), file=sys.stderr)
        return 1
    print(json.dumps(desc, indent=2) if args.json else render(desc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
