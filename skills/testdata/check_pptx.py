"""Checks the pptx skill: create_deck.py (JSON and Markdown outlines) and describe_deck.py."""

import json
import re
import zipfile

from checklib import check, done, equal, run
from PIL import Image
from pptx import Presentation
from pptx.util import Emu

Image.new("RGB", (400, 200), (30, 80, 120)).save("photo.png")

outline = {"title": "Quarterly review", "slides": [
    {"layout": "title", "title": "Quarterly review", "subtitle": "Q3 2026"},
    {"title": "Highlights", "bullets": ["Revenue up 12%", ["EMEA +20%", "APAC +8%"], "Churn down"],
     "notes": "Mention the EMEA deal."},
    {"title": "Revenue by region", "chart": {"type": "column", "categories": ["EMEA", "APAC", "AMER"],
                                              "series": {"Q2": [10, 20, 30], "Q3": [12, 21.5, 33]}}},
    {"title": "Mix", "chart": {"type": "pie", "categories": ["A", "B"], "series": {"Share": [0.25, 0.75]}}},
    {"title": "Team", "bullets": ["Hired 4"], "image": "photo.png", "caption": "The new office"},
    {"title": "Numbers", "table": [["Metric", "Value"], ["ARR", "12M"], ["NPS", 61]]},
    {"layout": "section", "title": "Next steps"},
]}
with open("deck.json", "w") as f:
    json.dump(outline, f)
out = run("create_deck.py", "deck.json", "deck.pptx")
check("7 slides" in out, "create_deck output: " + out)

prs = Presentation("deck.pptx")
equal(round(Emu(prs.slide_width).inches, 2), 13.33, "slide width (16:9)")
slides = list(prs.slides)
equal(len(slides), 7, "slide count")
equal([s.shapes.title.text_frame.text for s in slides],
      ["Quarterly review", "Highlights", "Revenue by region", "Mix", "Team", "Numbers", "Next steps"], "titles")
body = [sh for sh in slides[1].placeholders if sh.placeholder_format.idx == 1][0]
equal([(p.text, p.level) for p in body.text_frame.paragraphs],
      [("Revenue up 12%", 0), ("EMEA +20%", 1), ("APAC +8%", 1), ("Churn down", 0)], "bullets and levels")
equal(slides[1].notes_slide.notes_text_frame.text, "Mention the EMEA deal.", "speaker notes")
chart = [sh for sh in slides[2].shapes if sh.has_chart][0].chart
equal(list(chart.plots[0].categories), ["EMEA", "APAC", "AMER"], "chart categories")
equal({s.name: list(s.values) for s in chart.series}, {"Q2": [10, 20, 30], "Q3": [12, 21.5, 33]}, "chart series")
pictures = [sh for sh in slides[4].shapes if sh.shape_type == 13]
equal(len(pictures), 1, "pictures on the image slide")
check(abs(pictures[0].width / pictures[0].height - 2) < 0.01, "picture keeps its aspect ratio")
for sh in slides[4].shapes:
    check(sh.left >= 0 and sh.top >= 0 and sh.left + sh.width <= prs.slide_width and sh.top + sh.height <= prs.slide_height,
          "shape %r lies within the slide" % sh.name)
table = [sh for sh in slides[5].shapes if sh.has_table][0].table
equal([[c.text for c in r.cells] for r in table.rows], [["Metric", "Value"], ["ARR", "12M"], ["NPS", "61"]], "table")

md = """# Launch plan
Internal, draft

## Goals
- Ship **v2**
  - beta in May
- Hire two
Notes: keep it short

## Timeline
| Phase | When |
|---|---|
| Beta | May |
| GA | July |

## Screens
![The dashboard](photo.png)
"""
with open("deck.md", "w") as f:
    f.write(md)
run("create_deck.py", "deck.md", "md.pptx")
desc = json.loads(run("describe_deck.py", "md.pptx", "--json"))
equal([s["title"] for s in desc["slides"]], ["Launch plan", "Goals", "Timeline", "Screens"], "Markdown titles")
equal(desc["slides"][0]["text"], ["Internal, draft"], "Markdown subtitle")
equal(desc["slides"][1]["text"], ["Ship v2", "  beta in May", "Hire two"], "Markdown bullets")
equal(desc["slides"][1]["notes"], "keep it short", "Markdown notes")
goals = [sh for sh in Presentation("md.pptx").slides[1].placeholders if sh.placeholder_format.idx == 1][0]
equal([(r.text, r.font.bold) for r in goals.text_frame.paragraphs[0].runs], [("Ship ", None), ("v2", True)],
      "bold Markdown in a bullet")
equal(desc["slides"][2]["tables"], [[["Phase", "When"], ["Beta", "May"], ["GA", "July"]]], "Markdown table")
equal(desc["slides"][3]["pictures"], 1, "Markdown image")
text = run("describe_deck.py", "deck.pptx")
check("--- slide 3 [Title Only]: Revenue by region" in text and "'Q3': [12.0, 21.5, 33.0]" in text,
      "describe_deck text:\n" + text)

# A template's size, layouts and theme are used, its own slides left out.
t = Presentation()
sample = t.slides.add_slide(t.slide_layouts[5])
sample.shapes.title.text = "SAMPLE"
t.slide_layouts[1].name = "Corporate Title and Content"
t.save("template.pptx")
run("create_deck.py", "deck.md", "themed.pptx", "--template", "template.pptx")
th = Presentation("themed.pptx")
equal((round(Emu(th.slide_width).inches, 2), round(Emu(th.slide_height).inches, 2)), (10.0, 7.5), "template slide size")
equal([s.shapes.title.text_frame.text for s in th.slides], ["Launch plan", "Goals", "Timeline", "Screens"],
      "themed titles (no template slides)")
equal([s.slide_layout.name for s in th.slides], ["Title Slide", "Corporate Title and Content", "Title Only", "Title Only"],
      "template layouts")
body = [sh for sh in th.slides[1].placeholders if sh.placeholder_format.idx == 1][0]
equal([(p.text, p.level) for p in body.text_frame.paragraphs], [("Ship v2", 0), ("beta in May", 1), ("Hire two", 0)],
      "themed bullets")
check(all(sh.left + sh.width <= th.slide_width for s in th.slides for sh in s.shapes), "shapes fit the template's width")
check("SAMPLE" not in run("describe_deck.py", "themed.pptx"), "template slide left out")
with zipfile.ZipFile("themed.pptx") as z:
    equal(len([n for n in z.namelist() if re.fullmatch(r"ppt/slides/slide\d+\.xml", n)]), 4, "slide parts in the file")

with open("bad.json", "w") as f:
    json.dump({"slides": [{"title": "x", "chart": {"type": "radar", "series": {"a": [1]}}}]}, f)
out = run("create_deck.py", "bad.json", "bad.pptx", expect=1)
check("slide 1" in out and "chart type" in out, "bad chart message: " + out)
out = run("create_deck.py", "missing.md", "x.pptx", expect=1)
check("missing.md" in out, "missing file message: " + out)
out = run("describe_deck.py", "deck.json", expect=1)
check("cannot read" in out, "not a deck message: " + out)
done()
