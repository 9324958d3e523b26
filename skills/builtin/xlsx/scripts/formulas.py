"""A small Excel formula evaluator: parses formulas and computes them over an openpyxl workbook.

It covers the arithmetic, comparison and text operators, cell and range references
(also on other sheets and to whole columns), defined names, and the functions of
xlfunctions.FUNCTIONS. A formula it cannot compute evaluates to an XLError that says why.
"""

import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from openpyxl.utils import column_index_from_string, get_column_letter  # noqa: E402

from xlfunctions import (ERROR_CODES, FUNCTIONS, LAZY, Range, XLError, compare, number, scalar, text,  # noqa: E402
                         to_serial)

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>"(?:[^"]|"")*")
  | (?P<err>\#DIV/0!|\#VALUE!|\#REF!|\#NAME\?|\#N/A|\#NUM!|\#NULL!)
  | (?P<func>[A-Za-z_][\w.]*)\s*\(
  | (?P<ref>(?:(?P<sheet>'(?:[^']|'')+'|[A-Za-z_][\w.]*)!)?
        (?P<cells>\$?[A-Za-z]{1,3}\$?\d+(?::\$?[A-Za-z]{1,3}\$?\d+)?|\$?[A-Za-z]{1,3}:\$?[A-Za-z]{1,3}|\$?\d+:\$?\d+))
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_\\][\w.]*)
  | (?P<op><=|>=|<>|[-+*/^&=<>%(),:;])
    )""",
    re.VERBOSE,
)


def tokenize(formula):
    pos, out = 0, []
    text = formula.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise XLError("#NAME?", "cannot parse %r at position %d" % (text, pos))
        pos = m.end()
        kind = "ref" if m.group("ref") else m.lastgroup
        if kind == "ref":
            sheet = m.group("sheet")
            if sheet and sheet.startswith("'"):
                sheet = sheet[1:-1].replace("''", "'")
            out.append(("ref", (sheet, m.group("cells"))))
        elif kind == "func":
            out.append(("func", m.group("func").upper()))
        else:
            out.append((kind, m.group(kind)))
    return out


class Parser:
    """Recursive descent over tokens, with Excel's operator precedence."""

    _LEVELS = [("=", "<>", "<", ">", "<=", ">="), ("&",), ("+", "-"), ("*", "/"), ("^",)]

    def __init__(self, tokens):
        self.toks, self.i = tokens, 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def expect(self, op):
        kind, val = self.take()
        if kind != "op" or val != op:
            raise XLError("#NAME?", "expected %r" % op)

    def parse(self):
        node = self.binary(0)
        if self.i != len(self.toks):
            raise XLError("#NAME?", "unexpected %r" % (self.peek()[1],))
        return node

    def binary(self, level):
        if level == len(self._LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while True:
            kind, val = self.peek()
            if kind == "op" and val in self._LEVELS[level]:
                self.take()
                node = ("bin", val, node, self.binary(level + 1))
            else:
                return node

    def unary(self):
        kind, val = self.peek()
        if kind == "op" and val in "+-":
            self.take()
            node = self.unary()
            return ("neg", node) if val == "-" else node
        node = self.primary()
        while self.peek() == ("op", "%"):
            self.take()
            node = ("pct", node)
        return node

    def primary(self):
        kind, val = self.take()
        if kind == "num":
            return ("lit", float(val))
        if kind == "str":
            return ("lit", val[1:-1].replace('""', '"'))
        if kind == "err":
            return ("lit", XLError(val, "error literal"))
        if kind == "ref":
            return ("ref",) + val
        if kind == "name":
            up = val.upper()
            if up in ("TRUE", "FALSE"):
                return ("lit", up == "TRUE")
            return ("name", val)
        if kind == "func":
            args = []
            if self.peek() == ("op", ")"):
                self.take()
                return ("call", val, args)
            while True:
                if self.peek() in (("op", ","), ("op", ")")):
                    args.append(("lit", None))
                else:
                    args.append(self.binary(0))
                kind, sep = self.take()
                if (kind, sep) == ("op", ")"):
                    return ("call", val, args)
                if (kind, sep) not in (("op", ","), ("op", ";")):
                    raise XLError("#NAME?", "expected , or ) in %s()" % val)
        if (kind, val) == ("op", "("):
            node = self.binary(0)
            self.expect(")")
            return node
        raise XLError("#NAME?", "unexpected %r" % (val,))


def _parse_cells(cells, max_row, max_col):
    """(min_row, min_col, max_row, max_col) of "A1", "A1:B2", "A:B" or "1:2"."""
    parts = cells.replace("$", "").upper().split(":")
    bounds = []
    for p in parts:
        m = re.fullmatch(r"([A-Z]*)(\d*)", p)
        col = column_index_from_string(m.group(1)) if m.group(1) else None
        row = int(m.group(2)) if m.group(2) else None
        bounds.append((row, col))
    (r1, c1), (r2, c2) = bounds[0], bounds[-1]
    if r1 is None:  # whole columns
        r1, r2 = 1, max_row
    if c1 is None:  # whole rows
        c1, c2 = 1, max_col
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


class Book:
    """Evaluates the formulas of an openpyxl workbook loaded with its formulas."""

    def __init__(self, wb):
        self.wb = wb
        self.sheets = {ws.title.upper(): ws for ws in wb.worksheets}
        # Each sheet's cells and size, read once: openpyxl computes max_row by scanning.
        self.raw = {}
        self.size = {}
        for ws in wb.worksheets:
            cells = {}
            for row in ws.iter_rows():
                for cell in row:
                    if cell.value is not None:
                        cells[(cell.row, cell.column)] = cell.value
            self.raw[ws.title.upper()] = cells
            self.size[ws.title.upper()] = (ws.max_row, ws.max_column)
        self.values = {}  # (SHEET, row, col) -> computed value
        self.active = set()
        self.unsupported = set()
        self._asts = {}

    def sheet(self, name):
        ws = self.sheets.get(name.upper())
        if ws is None:
            raise XLError("#REF!", "no sheet named %r" % name)
        return ws

    def cell_value(self, sheet, row, col):
        key = (sheet.upper(), row, col)
        if key in self.values:
            v = self.values[key]
        else:
            v = self._compute(key)
        if isinstance(v, XLError):
            raise XLError(v.code, v.detail)
        return v

    def result(self, sheet, row, col):
        """The cell's value, or its XLError, without raising."""
        try:
            return self.cell_value(sheet, row, col)
        except XLError as e:
            return e

    def _compute(self, key):
        ws = self.sheets[key[0]]
        raw = self.raw[key[0]].get((key[1], key[2]))
        if isinstance(raw, str) and raw in ERROR_CODES:
            v = XLError(raw, "the cell holds an error value")
            self.values[key] = v
            return v
        if not (isinstance(raw, str) and raw.startswith("=")) and not hasattr(raw, "text"):
            v = to_serial(raw)
            self.values[key] = v
            return v
        if key in self.active:
            raise XLError("#REF!", "circular reference through %s!%s%d" % (ws.title, get_column_letter(key[2]), key[1]))
        self.active.add(key)
        try:
            text = raw.text if hasattr(raw, "text") else raw
            v = self.evaluate(text, ws.title)
            if isinstance(v, Range):
                v = scalar(v)
            if v is None:
                v = 0.0
            if isinstance(v, float) and not math.isfinite(v):
                v = XLError("#NUM!", "the result is not a finite number")
        except XLError as e:
            v = e
        except (ZeroDivisionError,) as e:
            v = XLError("#DIV/0!", str(e))
        except (OverflowError, ValueError) as e:
            v = XLError("#NUM!", str(e))
        finally:
            self.active.discard(key)
        self.values[key] = v
        return v

    def evaluate(self, formula, sheet):
        """The value of formula (with or without its leading "=") on sheet."""
        text = formula[1:] if formula.startswith("=") else formula
        ast = self._asts.get(text)
        if ast is None:
            ast = Parser(tokenize(text)).parse()
            self._asts[text] = ast
        return Evaluator(self, sheet).eval(ast)

    def reference(self, sheet, cells):
        ws = self.sheet(sheet)
        return Range(self, ws.title, *_parse_cells(cells, *self.size[ws.title.upper()]))

    def defined_name(self, name):
        dn = self.wb.defined_names.get(name)
        if dn is None:
            raise XLError("#NAME?", "unknown name %r" % name)
        dests = list(dn.destinations)
        if len(dests) != 1:
            raise XLError("#REF!", "name %r does not refer to one range" % name)
        return self.reference(dests[0][0], dests[0][1])


class Evaluator:
    def __init__(self, book, sheet):
        self.book, self.sheet = book, sheet

    def eval(self, node):
        kind = node[0]
        if kind == "lit":
            if isinstance(node[1], XLError):
                raise node[1]
            return node[1]
        if kind == "ref":
            return self.book.reference(node[1] or self.sheet, node[2])
        if kind == "name":
            return self.book.defined_name(node[1])
        if kind == "neg":
            return -number(self.eval(node[1]))
        if kind == "pct":
            return number(self.eval(node[1])) / 100
        if kind == "bin":
            return self.binary(node[1], node[2], node[3])
        if kind == "call":
            return self.call(node[1], node[2])
        raise XLError("#VALUE!", "bad node %r" % (kind,))

    def binary(self, op, left, right):
        a, b = self.eval(left), self.eval(right)
        if op == "&":
            return text(a) + text(b)
        if op in ("=", "<>", "<", ">", "<=", ">="):
            return compare(op, a, b)
        x, y = number(a), number(b)
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if op == "/":
            if y == 0:
                raise XLError("#DIV/0!", "division by zero")
            return x / y
        if op == "^":
            try:
                r = x**y
            except ZeroDivisionError:
                raise XLError("#DIV/0!", "zero to a negative power") from None
            if isinstance(r, complex):
                raise XLError("#NUM!", "no real result")
            return r
        raise XLError("#VALUE!", "operator %s" % op)

    def call(self, name, args):
        name = name.upper()
        for prefix in ("_XLFN.", "_XLWS."):
            if name.startswith(prefix):
                name = name[len(prefix):]
        if name in LAZY:
            return LAZY[name](self, args)
        fn = FUNCTIONS.get(name)
        if fn is None:
            self.book.unsupported.add(name)
            raise XLError("#NAME?", "function %s is not supported by recalc.py" % name)
        values = [self.eval(a) for a in args]
        try:
            return fn(*values)
        except TypeError as e:
            raise XLError("#VALUE!", "%s: wrong number of arguments (%s)" % (name, e)) from None
        except ZeroDivisionError:
            raise XLError("#DIV/0!", "%s: division by zero" % name) from None
        except (ValueError, OverflowError, ArithmeticError) as e:
            raise XLError("#NUM!", "%s: %s" % (name, e)) from None
