"""Checks the pdf skill: create_pdf.py, extract.py, pages.py and forms.py."""

import json
import os

from checklib import check, done, equal, run
from PIL import Image
from pypdf import PdfReader
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

Image.new("RGB", (320, 160), (20, 120, 60)).save("fig.png")
md = """# Report

Prices in **euros**: Café – €5 → *ok*, see [docs](https://example.com).

- first point
  - nested point
- second point

| Item | Qty | Price |
|---|---|---|
| Apples | 3 | 1.20 |
| Pears | 5 | 0.80 |

![A green box](fig.png){width=2in}

\\pagebreak

## Appendix

```
print("hi")
```
"""
with open("report.md", "w") as f:
    f.write(md)
out = run("create_pdf.py", "report.md", "report.pdf", "--title", "Fruit report")
check("wrote report.pdf: 2 pages" in out, "create_pdf output: " + out)
r = PdfReader("report.pdf")
equal(len(r.pages), 2, "page count")
equal(r.metadata.title, "Fruit report", "PDF title")
equal([o.title for o in r.outline if hasattr(o, "title")], ["Report"], "top-level bookmarks")

info = json.loads(run("extract.py", "info", "report.pdf"))
equal((info["pages"], info["text_layer"], info["page_sizes_pt"]), (2, True, [[595, 842]]), "info")
text = run("extract.py", "text", "report.pdf")
for want in ("=== page 1 ===", "Fruit report", "Café – €5 → ok", "first point", "nested point", "Page 1",
             "=== page 2 ===", "Appendix", 'print("hi")'):
    check(want in text, "extracted text lacks %r:\n%s" % (want, text))
page2 = run("extract.py", "text", "report.pdf", "--pages", "2")
check("Appendix" in page2 and "Report" not in page2, "text of page 2 only:\n" + page2)
tables = json.loads(run("extract.py", "tables", "report.pdf", "--json"))
equal([t["rows"] for t in tables], [[["Item", "Qty", "Price"], ["Apples", "3", "1.20"], ["Pears", "5", "0.80"]]],
      "extracted tables")
run("extract.py", "tables", "report.pdf", "--csv-dir", "csv")
equal(open("csv/page1-table1.csv").read().splitlines()[1], "Apples,3,1.20", "table CSV")

# Page operations.
c = canvas.Canvas("stamp.pdf", pagesize=A4)
c.drawString(200, 400, "CONFIDENTIAL")
c.save()
run("pages.py", "merge", "merged.pdf", "report.pdf", "report.pdf:2", "stamp.pdf")
m = PdfReader("merged.pdf")
equal(len(m.pages), 4, "merged page count")
check("Appendix" in m.pages[2].extract_text() and "CONFIDENTIAL" in m.pages[3].extract_text(), "merged order")
out = run("pages.py", "split", "merged.pdf", "parts")
equal(sorted(os.listdir("parts")), ["merged-001.pdf", "merged-002.pdf", "merged-003.pdf", "merged-004.pdf"], "split")
equal(len(PdfReader("parts/merged-004.pdf").pages), 1, "split part pages")
run("pages.py", "split", "merged.pdf", "pairs", "--every", "3")
equal([len(PdfReader("pairs/" + n).pages) for n in sorted(os.listdir("pairs"))], [3, 1], "split --every 3")
run("pages.py", "select", "merged.pdf", "sel.pdf", "4,1-2")
s = PdfReader("sel.pdf")
equal(len(s.pages), 3, "selected page count")
check("CONFIDENTIAL" in s.pages[0].extract_text() and "Report" in s.pages[1].extract_text(), "selected order")
run("pages.py", "delete", "merged.pdf", "del.pdf", "2-3")
equal(len(PdfReader("del.pdf").pages), 2, "pages left after delete")
run("pages.py", "rotate", "report.pdf", "rot.pdf", "90", "--pages", "2")
equal([p.rotation for p in PdfReader("rot.pdf").pages], [0, 90], "rotation")
run("pages.py", "overlay", "report.pdf", "stamp.pdf", "stamped.pdf")
check(all("CONFIDENTIAL" in p.extract_text() for p in PdfReader("stamped.pdf").pages), "overlay on every page")
run("pages.py", "overlay", "report.pdf", "stamp.pdf", "under.pdf", "--under")
under = [p.extract_text() for p in PdfReader("under.pdf").pages]
check(all("CONFIDENTIAL" in t for t in under) and "Appendix" in under[1], "overlay --under keeps content and stamp")
run("pages.py", "protect", "report.pdf", "locked.pdf", "s3cret")
check(PdfReader("locked.pdf").is_encrypted, "protected file is encrypted")
out = run("extract.py", "text", "locked.pdf", expect=1)
check("encrypted" in out or "password" in out.lower(), "encrypted without password message: " + out)
check("Appendix" in run("extract.py", "--password", "s3cret", "text", "locked.pdf"), "text with the password")
run("pages.py", "--password", "s3cret", "unlock", "locked.pdf", "open.pdf")
r = PdfReader("open.pdf")
check(not r.is_encrypted and len(r.pages) == 2, "unlocked copy")
out = run("pages.py", "--password", "wrong", "unlock", "locked.pdf", "x.pdf", expect=1)
check("encrypted: give the right --password" in out, "wrong password message: " + out)
out = run("pages.py", "select", "report.pdf", "x.pdf", "3", expect=1)
check("page 3 does not exist" in out and "2 pages" in out, "bad page message: " + out)
out = run("pages.py", "rotate", "report.pdf", "x.pdf", "45", expect=1)
check("multiple of 90" in out, "bad rotation message: " + out)
out = run("pages.py", "merge", "x.pdf", "report.md", expect=1)
check("not a readable PDF" in out, "not a PDF message: " + out)

# Forms.
c = canvas.Canvas("form.pdf", pagesize=A4)
form = c.acroForm
c.drawString(50, 780, "Name:")
form.textfield(name="name", x=120, y=770, width=200, height=20)
form.checkbox(name="agree", x=120, y=730, buttonStyle="check")
for i, size in enumerate(("S", "M", "L")):
    form.radio(name="size", value=size, x=120 + 30 * i, y=690, selected=size == "M")
form.choice(name="country", options=["France", "Japan", "Peru"], value="France", x=120, y=640, width=120, height=20)
c.save()
fields = json.loads(run("forms.py", "fields", "form.pdf"))
equal({k: v["type"] for k, v in fields.items()},
      {"name": "text", "agree": "checkbox", "size": "radio", "country": "choice"}, "field types")
equal(fields["size"]["states"], ["S", "M", "L"], "radio states")
equal(fields["country"]["options"], ["France", "Japan", "Peru"], "choice options")
with open("values.json", "w") as f:
    json.dump({"name": "Ada Lovelace", "agree": True, "size": "L", "country": "Peru"}, f)
run("forms.py", "fill", "form.pdf", "values.json", "filled.pdf")
got = {k: v.get("/V") for k, v in PdfReader("filled.pdf").get_fields().items()}
equal({k: str(v) for k, v in got.items()},
      {"name": "Ada Lovelace", "agree": "/Yes", "size": "/L", "country": "Peru"}, "filled values")
states = {}
for a in PdfReader("filled.pdf").pages[0]["/Annots"]:
    a = a.get_object()
    if "/AS" in a:
        states.setdefault(str((a.get("/Parent") or a).get_object().get("/T")), []).append(str(a["/AS"]))
equal(states, {"agree": ["/Yes"], "size": ["/Off", "/Off", "/L"]}, "widget states")
with open("bad.json", "w") as f:
    json.dump({"nmae": "x"}, f)
out = run("forms.py", "fill", "form.pdf", "bad.json", "x.pdf", expect=1)
check("no field named nmae" in out and "name" in out, "unknown field message: " + out)
with open("bad.json", "w") as f:
    json.dump({"size": "XL"}, f)
out = run("forms.py", "fill", "form.pdf", "bad.json", "x.pdf", expect=1)
check("not one of the radio states" in out, "bad radio value message: " + out)
out = run("forms.py", "fields", "report.pdf", expect=1)
check("has no form fields" in out, "no form message: " + out)
done()
