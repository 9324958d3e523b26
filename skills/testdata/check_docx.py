"""Checks the docx skill: create_document.py, edit_document.py and describe_document.py."""

import json

import docx
from checklib import check, done, equal, run
from docx.shared import Pt
from PIL import Image

Image.new("RGB", (300, 150), (200, 60, 60)).save("fig.png")
md = """# Annual report

Revenue grew **12%** to *EUR 4.2M*; see [the site](https://example.com) and `data.csv`.

[TOC]

## Results

| Region | Revenue | Growth |
|---|---|---|
| EMEA | 2,100 | 15% |
| APAC | 900 | 4% |

![Revenue by region](fig.png){width=3in}

## Plans

- Hire two engineers
  - one in Berlin
- Open an office

1. First
2. Second

> Quoted remark.

\\pagebreak

### Appendix

```
x = 1
```
"""
with open("report.md", "w") as f:
    f.write(md)
out = run("create_document.py", "report.md", "report.docx", "--title", "ACME 2025", "--page-numbers")
check("wrote report.docx" in out, "create_document output: " + out)

d = docx.Document("report.docx")
heads = [(p.style.name, p.text) for p in d.paragraphs if p.style.name.startswith(("Heading", "Title"))]
equal(heads, [("Title", "ACME 2025"), ("Heading 1", "Annual report"), ("Heading 2", "Results"),
              ("Heading 2", "Plans"), ("Heading 3", "Appendix")], "headings")
equal(d.core_properties.title, "ACME 2025", "document title")
intro = [p for p in d.paragraphs if p.text.startswith("Revenue grew")][0]
check([r.text for r in intro.runs if r.bold] == ["12%"], "bold run: %r" % [(r.text, r.bold) for r in intro.runs])
check([r.text for r in intro.runs if r.italic] == ["EUR 4.2M"], "italic run")
check(b"https://example.com" in d.part.rels[[k for k, v in d.part.rels.items() if v.is_external][0]].target_ref.encode(),
      "hyperlink relationship")
check(any("TOC" in el.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}instr", "")
          for el in d.element.body.iter("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}fldSimple")),
      "table of contents field")
equal(len(d.tables), 1, "tables")
equal([[c.text for c in r.cells] for r in d.tables[0].rows],
      [["Region", "Revenue", "Growth"], ["EMEA", "2,100", "15%"], ["APAC", "900", "4%"]], "table cells")
check(d.tables[0].rows[0].cells[0].paragraphs[0].runs[0].bold, "header row is bold")
equal(len(d.inline_shapes), 1, "pictures")
equal(round(d.inline_shapes[0].width.inches, 2), 3.0, "picture width")
styles = [(p.style.name, p.text) for p in d.paragraphs if p.style.name.startswith(("List", "Quote", "Caption"))]
equal(styles, [("Caption", "Revenue by region"), ("List Bullet", "Hire two engineers"),
               ("List Bullet 2", "one in Berlin"), ("List Bullet", "Open an office"),
               ("List Number", "First"), ("List Number", "Second"), ("Quote", "Quoted remark.")], "list styles")
check(any('w:type="page"' in p._p.xml for p in d.paragraphs), "page break")
footer = d.sections[0].footer.paragraphs[0]._p.xml
check('w:instr="PAGE"' in footer and 'w:instr="NUMPAGES"' in footer, "page number fields in the footer")

run("create_document.py", "report.md", "header.docx", "--header", "ACME 2025 confidential")
equal(docx.Document("header.docx").sections[0].header.paragraphs[0].text, "ACME 2025 confidential", "header text")

# Edits: text split over runs, in tables, headers; placeholders; deletion; appending.
d.sections[0].header.paragraphs[0].text = "ACME 2025 confidential"
p = d.add_paragraph()
p.add_run("Prepared for {{cli")
bold = p.add_run("ent}} by ")
bold.bold = True
p.add_run("ACME").font.size = Pt(14)
d.add_paragraph("DRAFT - remove me")
d.save("template.docx")
with open("values.json", "w") as f:
    json.dump({"client": "Globex"}, f)
with open("more.md", "w") as f:
    f.write("## Added later\n\nNew text.\n")
out = run("edit_document.py", "template.docx", "edited.docx", "--replace", "ACME", "Acme Ltd",
          "--replace", "EMEA", "Europe", "--fill", "values.json", "--delete", "DRAFT", "--append", "more.md")
check("ACME: 3" in out and "EMEA: 1" in out and "{{client}}: 1" in out and "delete: DRAFT: 1" in out,
      "edit counts: " + out)
e = docx.Document("edited.docx")
texts = [p.text for p in e.paragraphs]
check("Prepared for Globex by Acme Ltd" in texts, "placeholder across runs: %r" % texts[-4:])
prepared = [p for p in e.paragraphs if p.text.startswith("Prepared")][0]
equal([(r.text, bool(r.bold)) for r in prepared.runs], [("Prepared for Globex", False), (" by ", True), ("Acme Ltd", False)],
      "runs keep their formatting")
equal(prepared.runs[2].font.size, Pt(14), "replacement keeps the run's size")
check(not any("DRAFT" in t for t in texts), "deleted paragraph")
equal(e.tables[0].cell(1, 0).text, "Europe", "replacement in a table")
equal(e.sections[0].header.paragraphs[0].text, "Acme Ltd 2025 confidential", "replacement in the header")
equal([p.text for p in e.paragraphs if p.style.name == "Heading 2"][-1], "Added later", "appended heading")
check(not e.element.body.findall(".//{http://schemas.openxmlformats.org/wordprocessingml/2006/main}ins"),
      "no tracked changes")

out = run("edit_document.py", "edited.docx", "x.docx", "--replace", "no such text", "y", expect=2)
check("nothing matched" in out, "unmatched pattern message: " + out)
out = run("edit_document.py", "report.md", "x.docx", expect=1)
check("edit_document.py:" in out, "not a document message: " + out)

out = run("describe_document.py", "edited.docx", "--outline")
equal(out.strip().splitlines(), ["Title: Acme Ltd 2025", "# Annual report", "## Results", "## Plans", "### Appendix",
                                  "## Added later"], "outline")
desc = json.loads(run("describe_document.py", "edited.docx", "--json"))
check({"type": "paragraph", "style": "Normal", "text": "Revenue grew 12% to EUR 4.2M; see the site and data.csv."}
      in desc["blocks"], "described paragraph with a link")
equal(desc["pictures"], 1, "described pictures")
check({"type": "table", "rows": [["Region", "Revenue", "Growth"], ["Europe", "2,100", "15%"], ["APAC", "900", "4%"]]}
      in desc["blocks"], "described table")
out = run("create_document.py", "nope.md", "x.docx", expect=1)
check("nope.md" in out, "missing input message: " + out)
with open("badimg.md", "w") as f:
    f.write("![x](missing.png)\n")
out = run("create_document.py", "badimg.md", "x.docx", expect=1)
check("missing.png" in out, "missing image message: " + out)
with open("notimage.png", "w") as f:
    f.write("text")
with open("badimg.md", "w") as f:
    f.write("![x](notimage.png)\n")
out = run("create_document.py", "badimg.md", "x.docx", expect=1)
check("notimage.png cannot be read" in out and "Traceback" not in out, "unreadable image message: " + out)
done()
