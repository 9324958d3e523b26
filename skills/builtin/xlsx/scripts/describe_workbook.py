#!/usr/bin/env python3
"""Show what an .xlsx workbook holds: its sheets, their size, and each cell's formula and value.

    python3 describe_workbook.py book.xlsx [--sheet NAME] [--max-rows 50] [--json]

Cells with a formula show it next to its cached value ("=SUM(B2:B9) -> 1234");
a value of None means the file holds no computed value (run recalc.py).
"""

import argparse
import json
import sys
import zipfile

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException


def describe(path, sheet=None, max_rows=50):
    """A dict describing the workbook at path, limited to max_rows rows per sheet."""
    formulas = openpyxl.load_workbook(path)
    values = openpyxl.load_workbook(path, data_only=True)
    names = [sheet] if sheet else formulas.sheetnames
    with zipfile.ZipFile(path) as zf:
        charts = sum(1 for n in zf.namelist() if n.startswith("xl/charts/chart"))
    out = {"charts": charts, "sheets": []}
    for name in names:
        if name not in formulas.sheetnames:
            raise KeyError("no sheet named %r; the sheets are %s" % (name, ", ".join(formulas.sheetnames)))
        fws, vws = formulas[name], values[name]
        info = {
            "name": name,
            "dimensions": fws.dimensions,
            "max_row": fws.max_row,
            "max_column": fws.max_column,
            "merged": [str(r) for r in fws.merged_cells.ranges],
            "freeze_panes": fws.freeze_panes,
            "cells": [],
        }
        for row in fws.iter_rows(max_row=min(fws.max_row, max_rows)):
            for cell in row:
                if cell.value is None:
                    continue
                c = {"cell": cell.coordinate}
                v = cell.value
                if isinstance(v, str) and v.startswith("="):
                    c["formula"] = v
                    c["value"] = _plain(vws[cell.coordinate].value)
                else:
                    c["value"] = _plain(v)
                if cell.number_format != "General":
                    c["format"] = cell.number_format
                info["cells"].append(c)
        info["truncated"] = fws.max_row > max_rows
        out["sheets"].append(info)
    return out


def _plain(v):
    return v if v is None or isinstance(v, (str, int, float, bool)) else str(v)


def render(desc):
    lines = []
    if desc["charts"]:
        lines.append("%d charts in the workbook" % desc["charts"])
    for s in desc["sheets"]:
        lines.append("== %s (%s, %d rows x %d columns)" % (s["name"], s["dimensions"], s["max_row"], s["max_column"]))
        for c in s["cells"]:
            if "formula" in c:
                lines.append("%s: %s -> %r" % (c["cell"], c["formula"], c["value"]))
            else:
                lines.append("%s: %r" % (c["cell"], c["value"]))
        if s["truncated"]:
            lines.append("... (more rows; use --max-rows)")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Describe an .xlsx workbook's sheets, formulas and values.")
    ap.add_argument("path")
    ap.add_argument("--sheet", help="only this sheet")
    ap.add_argument("--max-rows", type=int, default=50, help="rows to show per sheet (default 50)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = ap.parse_args(argv)
    try:
        desc = describe(args.path, args.sheet, args.max_rows)
    except (OSError, zipfile.BadZipFile, KeyError, InvalidFileException) as e:
        print("describe_workbook.py: %s: %s" % (args.path, e), file=sys.stderr)
        return 1
    print(json.dumps(desc, indent=2, default=str) if args.json else render(desc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
