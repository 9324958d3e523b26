#!/usr/bin/env python3
"""Recalculate every formula of an .xlsx file and store the results as the cells' cached values.

openpyxl writes formulas without values, so a workbook it saved shows nothing to
programs that read values (pandas, openpyxl's data_only=True, previews) until a
spreadsheet application opens it. This script computes the formulas itself and writes
the values into the file, touching nothing else (charts, images and styles are kept),
and reports every cell whose formula gives an error.

    python3 recalc.py book.xlsx [out.xlsx] [--quiet]

Prints a JSON report; exits 0 when no formula gives an error, 2 when some do and 1
when the file cannot be read.
"""

import argparse
import json
import os
import re
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import openpyxl  # noqa: E402
from openpyxl.utils.exceptions import InvalidFileException  # noqa: E402

from formulas import Book  # noqa: E402
from xlfunctions import XLError, fmt_number  # noqa: E402

_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"

_CELL = re.compile(r"<(?P<p>(?:\w+:)?)c\b(?P<attrs>[^>]*?)(?<!/)>(?P<body>.*?)</(?P=p)c>", re.S)
_REF = re.compile(r'\br="([A-Z]+\d+)"')
_TYPE = re.compile(r'\s+t="[^"]*"')


def compute(path):
    """The computed value of every formula cell: {sheet title: {"A1": value or XLError}}, and the Book."""
    wb = openpyxl.load_workbook(path)
    book = Book(wb)
    results = {}
    for ws in wb.worksheets:
        cells = {}
        for row in ws.iter_rows():
            for cell in row:
                v = cell.value
                if (isinstance(v, str) and v.startswith("=")) or hasattr(v, "text"):
                    cells[cell.coordinate] = book.result(ws.title, cell.row, cell.column)
        results[ws.title] = cells
    return results, book


def _sheet_parts(zf):
    """{sheet title: zip member name of its worksheet XML}."""
    wb = ET.fromstring(zf.read("xl/workbook.xml"))
    rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    targets = {}
    for rel in rels.iter(_NS_PKG_REL + "Relationship"):
        t = rel.get("Target")
        targets[rel.get("Id")] = t.lstrip("/") if t.startswith("/") else "xl/" + t
    return {s.get("name"): targets.get(s.get(_NS_REL + "id")) for s in wb.iter(_NS_MAIN + "sheet")}


def _escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _patch_sheet(xml, values):
    """xml with each formula cell's cached value (and type) set from values {"A1": value}."""

    def repl(m):
        p, attrs, body = m.group("p"), m.group("attrs"), m.group("body")
        ref = _REF.search(attrs)
        if not ref or ref.group(1) not in values or "<%sf" % p not in body:
            return m.group(0)
        v = values[ref.group(1)]
        body = re.sub(r"<%sv\s*/>|<%sv>.*?</%sv>|<%sis>.*?</%sis>" % ((re.escape(p),) * 5), "", body, flags=re.S)
        attrs = _TYPE.sub("", attrs)
        if isinstance(v, XLError):
            t, text = "e", v.code
        elif isinstance(v, bool):
            t, text = "b", "1" if v else "0"
        elif isinstance(v, float):
            t, text = None, fmt_number(v)
        else:
            t, text = "str", _escape(str(v))
        if t:
            attrs += ' t="%s"' % t
        return "<%sc%s>%s<%sv>%s</%sv></%sc>" % (p, attrs, body, p, text, p, p)

    return _CELL.sub(repl, xml)


def _full_calc_on_load(xml):
    """Ask spreadsheet applications to recalculate on open too."""
    m = re.search(r"<(\w+:)?calcPr\b[^>]*?/?>", xml)
    if not m or "fullCalcOnLoad" in m.group(0):
        return xml
    tag = m.group(0)
    new = tag[:-2] + ' fullCalcOnLoad="1"/>' if tag.endswith("/>") else tag[:-1] + ' fullCalcOnLoad="1">'
    return xml[: m.start()] + new + xml[m.end():]


def write_values(src, dst, results):
    """Copy src to dst with the cached values of results written in."""
    with zipfile.ZipFile(src) as zin:
        parts = {part: results.get(title, {}) for title, part in _sheet_parts(zin).items() if part}
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(dst)) or ".", suffix=".xlsx")
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp, "w") as zout:
                for info in zin.infolist():
                    data = zin.read(info.filename)
                    if info.filename in parts and parts[info.filename]:
                        data = _patch_sheet(data.decode("utf-8"), parts[info.filename]).encode("utf-8")
                    elif info.filename == "xl/workbook.xml":
                        data = _full_calc_on_load(data.decode("utf-8")).encode("utf-8")
                    zout.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
            os.replace(tmp, dst)
        except BaseException:
            os.unlink(tmp)
            raise


def recalc(path, out=None):
    """Recalculate path's formulas, write the values to out (default: path itself), return the report."""
    results, book = _run_deep(compute, path)
    write_values(path, out or path, results)
    return report(results, book)


def report(results, book):
    errors = {}
    total = 0
    for title, cells in results.items():
        for coord, v in cells.items():
            total += 1
            if isinstance(v, XLError):
                e = errors.setdefault(v.code, {"count": 0, "cells": []})
                e["count"] += 1
                if len(e["cells"]) < 20:
                    e["cells"].append({"cell": "%s!%s" % (title, coord), "detail": v.detail})
    rep = {"status": "errors_found" if errors else "ok", "formulas": total, "errors": errors}
    if book.unsupported:
        rep["unsupported_functions"] = sorted(book.unsupported)
    return rep


def _run_deep(fn, *args):
    """fn(*args) on a thread with a large stack: long chains of dependent cells recurse deeply."""
    out = {}

    def run():
        try:
            out["value"] = fn(*args)
        except BaseException as e:  # re-raised on the caller's thread
            out["error"] = e

    sys.setrecursionlimit(200000)
    threading.stack_size(512 << 20)
    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def main(argv=None):
    ap = argparse.ArgumentParser(description="Recalculate an .xlsx file's formulas and store their values.")
    ap.add_argument("path", help="the workbook to recalculate")
    ap.add_argument("out", nargs="?", help="where to write the result (default: overwrite path)")
    ap.add_argument("--quiet", action="store_true", help="print nothing when there are no errors")
    args = ap.parse_args(argv)
    try:
        rep = recalc(args.path, args.out)
    except (OSError, zipfile.BadZipFile, KeyError, InvalidFileException) as e:
        print("recalc.py: cannot recalculate %s: %s" % (args.path, e), file=sys.stderr)
        return 1
    if not (args.quiet and rep["status"] == "ok"):
        print(json.dumps(rep, indent=2))
    return 0 if rep["status"] == "ok" else 2


if __name__ == "__main__":
    sys.exit(main())
