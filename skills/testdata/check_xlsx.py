"""Checks the xlsx skill: create_workbook.py, recalc.py and describe_workbook.py."""

import json
import sys
import zipfile

import openpyxl
from checklib import SKILL, check, done, equal, run

spec = {"sheets": [
    {"name": "Sales", "header": True, "borders": True, "autofilter": True,
     "rows": [["Region", "Q1", "Q2", "Total", "Share"],
              ["North", 120, 135, "=SUM(B2:C2)", "=D2/$D$5"],
              ["South", 80, 95.5, "=SUM(B3:C3)", "=D3/$D$5"],
              ["West", 60, 70, "=B4+C4", "=D4/$D$5"],
              ["Total", "=SUM(B2:B4)", "=SUM(C2:C4)", "=SUM(D2:D4)", "=ROUND(SUM(E2:E4),2)"]],
     "number_formats": {"E2:E5": "0.0%", "B2:D5": "#,##0.0", "A:A": "@"},
     "styles": [{"range": "A5:E5", "bold": True, "fill": "FFF2CC"}],
     "conditional_formats": [{"range": "E2:E4", "type": "color_scale"},
                             {"range": "B2:C4", "type": "cell", "operator": "<", "value": 90, "fill": "FFC7CE"},
                             {"range": "A2:A4", "type": "formula", "formula": "=$D2>200", "fill": "C6EFCE"}],
     "validations": [{"range": "B2:C4", "type": "decimal", "min": 0}, {"range": "F2:F4", "list": ["ok", "check"]}],
     "charts": [{"type": "bar", "title": "By region", "data": "B1:C4", "categories": "A2:A4"},
                {"type": "pie", "title": "Share", "data": "D1:D4", "categories": "A2:A4", "anchor": "G20"}]},
    {"name": "Checks",
     "rows": [["=Sales!D5*2", "=VLOOKUP(\"South\",Sales!A2:D4,4,FALSE)", "=IF(A1>500,\"big\",\"small\")",
               "=IFERROR(1/0,\"none\")", "=COUNTIF(Sales!B2:B4,\">70\")", "=\"n=\"&Sales!B2",
               "=INDEX(Sales!A2:A4,MATCH(135,Sales!C2:C4,0))", "=SUMPRODUCT(Sales!B2:B4,Sales!C2:C4)",
               "=AVERAGE(Sales!B:B)", "=ROUND(2.5,0)+ROUNDDOWN(-1.7,0)"]]},
]}
with open("spec.json", "w") as f:
    json.dump(spec, f)
out = run("create_workbook.py", "spec.json", "sales.xlsx")
check('"status": "ok"' in out, "create_workbook reported formula errors:\n" + out)

wb = openpyxl.load_workbook("sales.xlsx")
ws = wb["Sales"]
equal(wb.sheetnames, ["Sales", "Checks"], "sheet names")
equal(ws["D2"].value, "=SUM(B2:C2)", "Sales!D2 formula")
equal(ws["E5"].number_format, "0.0%", "Sales!E5 number format")
equal({ws.cell(row=r, column=1).number_format for r in range(1, 6)}, {"@"}, "whole-column number format")
check(ws["A1"].font.b and ws["A5"].font.b, "header and total rows are bold")
equal(ws.freeze_panes, "A2", "freeze panes")
equal(ws.auto_filter.ref, "A1:E5", "autofilter")
rules = {str(cf.sqref): [(r.type, r.operator, r.formula) for r in cf.rules] for cf in ws.conditional_formatting}
equal(rules, {"E2:E4": [("colorScale", None, [])], "B2:C4": [("cellIs", "lessThan", ["90"])],
              "A2:A4": [("expression", None, ["$D2>200"])]}, "conditional formats")
equal(sorted((str(dv.sqref), dv.type, dv.operator, dv.formula1) for dv in ws.data_validations.dataValidation),
      [("B2:C4", "decimal", "greaterThanOrEqual", "0"), ("F2:F4", "list", None, '"ok,check"')], "data validations")
with zipfile.ZipFile("sales.xlsx") as z:
    equal(sorted(n for n in z.namelist() if n.startswith("xl/charts/chart")),
          ["xl/charts/chart1.xml", "xl/charts/chart2.xml"], "chart parts")

vals = openpyxl.load_workbook("sales.xlsx", data_only=True)
s, c = vals["Sales"], vals["Checks"]
equal(s["D2"].value, 255, "Sales!D2")
equal(s["C5"].value, 300.5, "Sales!C5")
equal(s["D5"].value, 560.5, "Sales!D5")
check(abs(s["E3"].value - 175.5 / 560.5) < 1e-12, "Sales!E3 = %r" % s["E3"].value)
equal(s["E5"].value, 1, "Sales!E5")
equal([c.cell(row=1, column=i).value for i in range(1, 11)],
      [1121, 175.5, "big", "none", 2, "n=120", "North", 120 * 135 + 80 * 95.5 + 60 * 70, 130, 2],
      "Checks row")

# Errors are found, reported and stored as error values.
ws = wb["Checks"]
ws["A3"] = "=1/0"
ws["B3"] = "=NOSUCHFUNCTION(1)"
ws["C3"] = "=A3+1"
wb.save("edited.xlsx")
out = run("recalc.py", "edited.xlsx", expect=2)
rep = json.loads(out)
equal(rep["errors"]["#DIV/0!"]["count"], 2, "#DIV/0! count (A3 and C3, which uses it)")
equal(rep["unsupported_functions"], ["NOSUCHFUNCTION"], "unsupported functions")
vals = openpyxl.load_workbook("edited.xlsx", data_only=True)
equal(vals["Checks"]["A3"].value, "#DIV/0!", "error cell value")
equal(vals["Sales"]["D5"].value, 560.5, "values kept after editing")

# recalc.py into another file leaves the source alone and keeps the charts.
wb = openpyxl.load_workbook("sales.xlsx")
wb["Sales"]["B2"] = 1000
wb.save("bigger.xlsx")
run("recalc.py", "bigger.xlsx", "bigger2.xlsx")
equal(openpyxl.load_workbook("bigger2.xlsx", data_only=True)["Sales"]["D5"].value, 1440.5, "recalculated total")
equal(openpyxl.load_workbook("bigger.xlsx", data_only=True)["Sales"]["D5"].value, None, "source left alone")
run("recalc.py", "sales.xlsx")
with zipfile.ZipFile("sales.xlsx") as z:
    check(any(n.startswith("xl/charts/") for n in z.namelist()), "recalc.py dropped the charts")

out = run("describe_workbook.py", "sales.xlsx")
check("D5: =SUM(D2:D4) -> 560.5" in out, "describe_workbook output:\n" + out)
check("2 charts" in out, "describe_workbook counts the charts:\n" + out)
desc = json.loads(run("describe_workbook.py", "sales.xlsx", "--json", "--sheet", "Checks"))
equal(desc["sheets"][0]["cells"][0], {"cell": "A1", "formula": "=Sales!D5*2", "value": 1121}, "described cell")

# A long chain of dependent cells (deeper than Python's default recursion limit) and a
# whole-column reference.
wb = openpyxl.Workbook()
ws = wb.active
ws["A1"] = 1
for r in range(2, 5001):
    ws.cell(row=r, column=1, value="=A%d+1" % (r - 1))
ws["B1"] = "=SUM(A:A)"
wb.save("chain.xlsx")
run("recalc.py", "chain.xlsx")
vals = openpyxl.load_workbook("chain.xlsx", data_only=True).active
equal((vals["A5000"].value, vals["B1"].value), (5000, 5000 * 5001 // 2), "chain end and column sum")

# The evaluator, formula by formula, through its module interface.
sys.path.insert(0, SKILL + "/scripts")
from formulas import Book, XLError  # noqa: E402

wb = openpyxl.Workbook()
ws = wb.active
ws.title = "My Data"
for r, row in enumerate([["apple", 3, True], ["Pear", 5, None], ["plum", "7", "#N/A"]], 1):
    for c, v in enumerate(row, 1):
        ws.cell(row=r, column=c, value=v)
book = Book(wb)
cases = {
    "=-B1^2": 9, "=2^3^2": 64, "=50%*B2": 2.5, "=1+2*3-4/2": 5, '="a"&1.5&TRUE': "a1.5TRUE",
    "=B3+1": 8, "=SUM(B1:B3)": 8, "=COUNT(B1:B3)": 2, "=COUNTA(A1:C3)": 8, "=C2=\"\"": True,
    '=A2="pear"': True, '="b">"A"': True, "=ROUND(-2.5,0)": -3, "=ROUNDUP(1.21,1)": 1.3, "=MOD(-3,2)": 1,
    "='My Data'!$B$2*2": 10, '=SUMIF(A1:A3,"p*",B1:B3)': 5, '=COUNTIFS(A1:A3,"<>apple",B1:B3,">4")': 1,
    "=INDEX(A1:B3,2,2)": 5, '=MATCH("plum",A1:A3,0)': 3, "=VLOOKUP(4,B1:B3,1)": 3, '=XLOOKUP("pear",A1:A3,B1:B3)': 5,
    "=AND(C1,B1>2)": True, "=OR(FALSE,B1>5)": False, "=IF(B1>2,\"big\")": "big", "=IF(B1>5,1)": False,
    '=TEXT(0.256,"0.0%")': "25.6%", '=TEXT(1234.5,"#,##0.00")': "1,234.50", '=LEFT("hello",2)&MID("hello",2,3)': "heell",
    '=TRIM("  a   b ")': "a b", "=DATE(2024,14,1)-DATE(2025,1,1)": 31, "=YEAR(DATE(2024,2,30))": 2024,
    "=MEDIAN(1,5,2,8)": 3.5, "=SUMPRODUCT(B1:B2,B1:B2)": 34, "=IFERROR(C3,0)": 0, "=ISNA(C3)": True,
    "=IFS(B1>5,1,B1>2,2)": 2, "=CHOOSE(2,\"x\",\"y\")": "y", "=MAX(B:B)-MIN(B:B)": 2,
}
for formula, want in cases.items():
    try:
        got = book.evaluate(formula, "My Data")
    except XLError as e:
        got = e.code
    if isinstance(got, float) and isinstance(want, (int, float)) and not isinstance(want, bool):
        got = round(got, 9)
    equal(got, want, formula)
for formula, code in {"=1/0": "#DIV/0!", "=C3+1": "#N/A", '="x"+1': "#VALUE!", "=SQRT(-1)": "#NUM!",
                      "=Nope!A1": "#REF!", "=undefined_name": "#NAME?", "=VLOOKUP(9,A1:B3,3,FALSE)": "#REF!",
                      '=MATCH("kiwi",A1:A3,0)': "#N/A", "=SUM(1,": "#NAME?"}.items():
    try:
        got = book.evaluate(formula, "My Data")
    except (XLError, ValueError) as e:
        got = getattr(e, "code", "ValueError")
    equal(got, code, formula)

# Bad input gets a clear message and exit status 1.
with open("bad.json", "w") as f:
    f.write('{"sheets": 3}')
out = run("create_workbook.py", "bad.json", "x.xlsx", expect=1)
check('"sheets"' in out, "bad spec message: " + out)
with open("bad.json", "w") as f:
    json.dump({"sheets": [{"name": "S", "rows": [[1]], "number_formats": {"B2:": "0"}}]}, f)
out = run("create_workbook.py", "bad.json", "x.xlsx", expect=1)
check("sheet 'S'" in out and "'B2:' is not a cell range" in out, "bad range message: " + out)
with open("bad.json", "w") as f:
    json.dump({"sheets": [{"name": "S", "rows": [[1]], "merge": ["nonsense"]}]}, f)
out = run("create_workbook.py", "bad.json", "x.xlsx", expect=1)
check(out.startswith("create_workbook.py: sheet 'S'") and "Traceback" not in out, "bad merge message: " + out)
out = run("describe_workbook.py", "sales.xlsx", "--sheet", "Nope", expect=1)
check("Nope" in out and "Sales" in out, "missing sheet message: " + out)
out = run("recalc.py", "spec.json", expect=1)
check("cannot recalculate" in out, "not a workbook message: " + out)
done()
