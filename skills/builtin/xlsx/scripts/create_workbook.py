#!/usr/bin/env python3
"""Build a formatted .xlsx workbook, with formulas and charts, from a JSON spec.

    python3 create_workbook.py spec.json out.xlsx [--no-recalc]

The spec (see SKILL.md for every key):

    {"sheets": [{
        "name": "Sales",
        "rows": [["Region", "Q1", "Q2", "Total"],
                 ["North", 120, 135, "=SUM(B2:C2)"]],
        "header": true,
        "number_formats": {"B2:D10": "#,##0"},
        "column_widths": {"A": 18},
        "styles": [{"range": "D2:D10", "bold": true, "fill": "FFF2CC"}],
        "freeze": "A2", "autofilter": true, "merge": ["F1:H1"],
        "charts": [{"type": "bar", "title": "Sales", "data": "B1:C3",
                    "categories": "A2:A3", "anchor": "F2"}]}]}

Strings that start with "=" are formulas. After building, the formulas are computed
(recalc.py) so the file carries their values; formula errors are reported and make
the exit status 2.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from openpyxl import Workbook  # noqa: E402
from openpyxl.chart import AreaChart, BarChart, LineChart, PieChart, Reference, ScatterChart, Series  # noqa: E402
from openpyxl.formatting.rule import CellIsRule, ColorScaleRule, DataBarRule, FormulaRule  # noqa: E402
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side  # noqa: E402
from openpyxl.utils import get_column_letter, range_boundaries  # noqa: E402
from openpyxl.worksheet.datavalidation import DataValidation  # noqa: E402

import recalc  # noqa: E402


class SpecError(ValueError):
    """The spec is malformed; the message says where."""


HEADER_FILL = "1F4E78"
THIN = Side(style="thin", color="BFBFBF")


def build(spec):
    """An openpyxl Workbook made from spec (a dict as described in the module docstring)."""
    sheets = spec.get("sheets")
    if not isinstance(sheets, list) or not sheets:
        raise SpecError('the spec needs "sheets": a non-empty list')
    wb = Workbook()
    wb.remove(wb.active)
    for i, s in enumerate(sheets):
        if not isinstance(s, dict):
            raise SpecError("sheets[%d] must be an object" % i)
        try:
            _sheet(wb, s)
        except KeyError as e:
            raise SpecError("sheet %r: missing key %s" % (s.get("name", i), e)) from None
        except (TypeError, ValueError) as e:  # SpecError, and openpyxl's complaints about values
            raise SpecError("sheet %r: %s" % (s.get("name", i), e)) from None
    return wb


def _sheet(wb, s):
    ws = wb.create_sheet(title=str(s.get("name") or "Sheet%d" % (len(wb.worksheets) + 1))[:31])
    rows = s.get("rows", [])
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise SpecError('"rows" must be a list of lists')
    start_row, start_col = 1, 1
    if s.get("start"):
        start_col, start_row, _, _ = range_boundaries(s["start"])
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                ws.cell(row=start_row + r, column=start_col + c, value=value)
    width = max((len(r) for r in rows), default=0)
    if s.get("header") and rows:
        for c in range(width):
            cell = ws.cell(row=start_row, column=start_col + c)
            cell.font = Font(bold=True, color="FFFFFF")
            cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        if "freeze" not in s:
            ws.freeze_panes = ws.cell(row=start_row + 1, column=start_col)
    if s.get("borders") and rows:
        for row in ws.iter_rows(min_row=start_row, max_row=start_row + len(rows) - 1,
                                min_col=start_col, max_col=start_col + width - 1):
            for cell in row:
                cell.border = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
    for rng, fmt in (s.get("number_formats") or {}).items():
        for cell in _cells(ws, rng):
            cell.number_format = fmt
    for st in s.get("styles") or []:
        _style(ws, st)
    for j, cf in enumerate(s.get("conditional_formats") or []):
        try:
            ws.conditional_formatting.add(cf["range"], _conditional(cf))
        except (KeyError, TypeError, ValueError) as e:
            raise SpecError("conditional_formats[%d]: %s" % (j, e)) from None
    for j, v in enumerate(s.get("validations") or []):
        try:
            ws.add_data_validation(_validation(v))
        except (KeyError, TypeError, ValueError) as e:
            raise SpecError("validations[%d]: %s" % (j, e)) from None
    for rng in s.get("merge") or []:
        ws.merge_cells(rng)
    widths = s.get("column_widths", "auto")
    if widths == "auto":
        _autofit(ws)
    elif isinstance(widths, dict):
        for col, w in widths.items():
            ws.column_dimensions[col].width = float(w)
    if s.get("freeze"):
        ws.freeze_panes = s["freeze"]
    if s.get("autofilter") and rows:
        ws.auto_filter.ref = s["autofilter"] if isinstance(s["autofilter"], str) else "%s%d:%s%d" % (
            get_column_letter(start_col), start_row, get_column_letter(start_col + width - 1), start_row + len(rows) - 1)
    for j, ch in enumerate(s.get("charts") or []):
        try:
            ws.add_chart(_chart(ws, ch), ch.get("anchor") or "%s2" % get_column_letter(start_col + width + 1))
        except (KeyError, TypeError, ValueError) as e:
            raise SpecError("charts[%d]: %s" % (j, e)) from None
    return ws


def _cells(ws, rng):
    """The cells of a range such as "B2", "B2:D9", "B:B" or "2:2" (whole columns/rows up to the data)."""
    try:
        min_col, min_row, max_col, max_row = range_boundaries(rng)
    except (ValueError, TypeError):
        raise SpecError("%r is not a cell range" % (rng,)) from None
    for row in ws.iter_rows(min_row=min_row or 1, max_row=max_row or max(ws.max_row, 1),
                            min_col=min_col or 1, max_col=max_col or max(ws.max_column, 1)):
        yield from row


def _style(ws, st):
    if "range" not in st:
        raise SpecError('each style needs a "range"')
    font = {k: st[k] for k in ("bold", "italic", "underline", "size", "color") if k in st}
    if "underline" in font:
        font["underline"] = "single" if font["underline"] is True else font["underline"]
    for cell in _cells(ws, st["range"]):
        if font:
            cell.font = Font(**{**_font_dict(cell.font), **font})
        if "fill" in st:
            cell.fill = PatternFill("solid", fgColor=st["fill"])
        if "align" in st or "wrap" in st:
            cell.alignment = Alignment(horizontal=st.get("align"), vertical="top" if st.get("wrap") else None,
                                       wrap_text=bool(st.get("wrap")))
        if "number_format" in st:
            cell.number_format = st["number_format"]
        if st.get("border"):
            cell.border = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)


def _conditional(cf):
    kind = cf.get("type", "cell")
    fill = PatternFill("solid", start_color=cf["fill"], end_color=cf["fill"]) if cf.get("fill") else None
    font = Font(color=cf["color"]) if cf.get("color") and kind in ("cell", "formula") else None
    if kind == "color_scale":
        c = cf.get("colors") or ["F8696B", "FFEB84", "63BE7B"]
        if len(c) == 2:
            return ColorScaleRule(start_type="min", start_color=c[0], end_type="max", end_color=c[1])
        return ColorScaleRule(start_type="min", start_color=c[0], mid_type="percentile", mid_value=50,
                              mid_color=c[1], end_type="max", end_color=c[2])
    if kind == "data_bar":
        return DataBarRule(start_type="min", end_type="max", color=cf.get("color", "638EC6"))
    if kind == "cell":
        ops = {"<": "lessThan", "<=": "lessThanOrEqual", ">": "greaterThan", ">=": "greaterThanOrEqual",
               "=": "equal", "<>": "notEqual", "between": "between", "notBetween": "notBetween"}
        op = ops.get(cf["operator"], cf["operator"])
        if op not in ops.values():
            raise ValueError("operator must be one of %s" % ", ".join(ops))
        values = cf["value"] if isinstance(cf["value"], list) else [cf["value"]]
        return CellIsRule(operator=op, formula=[_literal(v) for v in values], fill=fill, font=font)
    if kind == "formula":
        return FormulaRule(formula=[cf["formula"].lstrip("=")], fill=fill, font=font)
    raise ValueError('type must be "color_scale", "data_bar", "cell" or "formula"')


def _literal(v):
    """A value as a formula operand: numbers as they are, text quoted."""
    if isinstance(v, str) and not v.startswith("="):
        return '"%s"' % v.replace('"', '""')
    return str(v).lstrip("=")


def _validation(v):
    if "list" in v:
        items = ",".join(str(x) for x in v["list"])
        dv = DataValidation(type="list", formula1='"%s"' % items, allow_blank=True)
    else:
        kind = v.get("type", "decimal")
        if kind not in ("whole", "decimal", "date", "textLength"):
            raise ValueError('give "list", or "type" whole, decimal, date or textLength with "min"/"max"')
        lo, hi = v.get("min"), v.get("max")
        if lo is None and hi is None:
            raise ValueError('a %s validation needs "min" or "max"' % kind)
        if lo is not None and hi is not None:
            dv = DataValidation(type=kind, operator="between", formula1=str(lo), formula2=str(hi), allow_blank=True)
        else:
            dv = DataValidation(type=kind, operator="greaterThanOrEqual" if hi is None else "lessThanOrEqual",
                                formula1=str(lo if hi is None else hi), allow_blank=True)
    dv.error, dv.errorTitle, dv.showErrorMessage = v.get("message", "Invalid value"), "Invalid value", True
    dv.add(v["range"])
    return dv


def _font_dict(f):
    return {"bold": f.b, "italic": f.i, "underline": f.u, "size": f.sz, "color": f.color}


def _autofit(ws):
    widths = {}
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None:
                continue
            v = cell.value
            n = 10 if isinstance(v, str) and v.startswith("=") else len(str(v))
            widths[cell.column_letter] = max(widths.get(cell.column_letter, 0), n)
    for col, n in widths.items():
        ws.column_dimensions[col].width = min(max(n + 2, 8), 60)


_CHARTS = {"bar": BarChart, "column": BarChart, "line": LineChart, "pie": PieChart, "area": AreaChart,
           "scatter": ScatterChart}


def _chart(ws, ch):
    kind = ch.get("type", "bar")
    if kind not in _CHARTS:
        raise ValueError("type must be one of %s" % ", ".join(sorted(_CHARTS)))
    chart = _CHARTS[kind]()
    if kind == "bar":
        chart.type = "bar" if ch.get("horizontal") else "col"
    if kind == "column":
        chart.type = "col"
    if ch.get("stacked") and kind in ("bar", "column", "line", "area"):
        chart.grouping = "stacked"
        if kind in ("bar", "column"):
            chart.overlap = 100
    chart.title = ch.get("title")
    chart.width, chart.height = float(ch.get("width", 16)), float(ch.get("height", 8))
    c1, r1, c2, r2 = range_boundaries(ch["data"])
    titles = ch.get("titles_from_header", True)
    if kind == "scatter":
        xc1, xr1, xc2, xr2 = range_boundaries(ch["categories"])
        xs = Reference(ws, min_col=xc1, min_row=xr1, max_col=xc2, max_row=xr2)
        for col in range(c1, c2 + 1):
            ys = Reference(ws, min_col=col, min_row=r1 + (1 if titles else 0), max_row=r2)
            s = Series(ys, xs, title=str(ws.cell(row=r1, column=col).value) if titles else None)
            s.marker.symbol = "circle"
            chart.series.append(s)
    else:
        chart.add_data(Reference(ws, min_col=c1, min_row=r1, max_col=c2, max_row=r2), titles_from_data=titles)
        if ch.get("categories"):
            cc1, cr1, cc2, cr2 = range_boundaries(ch["categories"])
            chart.set_categories(Reference(ws, min_col=cc1, min_row=cr1, max_col=cc2, max_row=cr2))
    if kind != "pie":
        if ch.get("x_title"):
            chart.x_axis.title = ch["x_title"]
        if ch.get("y_title"):
            chart.y_axis.title = ch["y_title"]
        # openpyxl 3.x hides axes unless told otherwise, which Excel honours.
        chart.x_axis.delete = False
        chart.y_axis.delete = False
    return chart


def create(spec, out, recalculate=True):
    """Build spec into out; returns recalc's report (None when recalculate is False)."""
    build(spec).save(out)
    return recalc.recalc(out) if recalculate else None


def main(argv=None):
    ap = argparse.ArgumentParser(description="Build an .xlsx workbook from a JSON spec.")
    ap.add_argument("spec", help="the JSON spec file, or - for standard input")
    ap.add_argument("out", help="the .xlsx file to write")
    ap.add_argument("--no-recalc", action="store_true", help="do not compute the formulas' values")
    args = ap.parse_args(argv)
    try:
        with (sys.stdin if args.spec == "-" else open(args.spec)) as f:
            spec = json.load(f)
        rep = create(spec, args.out, not args.no_recalc)
    except json.JSONDecodeError as e:
        print("create_workbook.py: %s is not valid JSON: %s" % (args.spec, e), file=sys.stderr)
        return 1
    except (SpecError, OSError) as e:
        print("create_workbook.py: %s" % e, file=sys.stderr)
        return 1
    print("wrote %s" % args.out)
    if rep is not None:
        print(json.dumps(rep, indent=2))
        return 0 if rep["status"] == "ok" else 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
