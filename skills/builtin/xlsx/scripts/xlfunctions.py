"""Excel's values and functions for formulas.py: error values, ranges, the coercions between
numbers, text and logicals, and the worksheet functions recalc.py can compute (FUNCTIONS, and
LAZY for those that evaluate only some of their arguments)."""

import datetime
import math
import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal


class XLError(Exception):
    """An Excel error value (#DIV/0!, #VALUE!, ...) with why it arose."""

    def __init__(self, code, detail=""):
        super().__init__(code)
        self.code = code
        self.detail = detail

    def __repr__(self):
        return self.code


ERROR_CODES = ("#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#N/A", "#NUM!", "#NULL!")


class Range:
    """A rectangle of cells on one sheet of a formulas.Book, whose cells it evaluates when read."""

    def __init__(self, book, sheet, min_row, min_col, max_row, max_col):
        self.book, self.sheet = book, sheet
        self.min_row, self.min_col, self.max_row, self.max_col = min_row, min_col, max_row, max_col

    @property
    def rows(self):
        return self.max_row - self.min_row + 1

    @property
    def cols(self):
        return self.max_col - self.min_col + 1

    def value(self, r, c):
        """The value at (r, c), 0-based within the range."""
        return self.book.cell_value(self.sheet, self.min_row + r, self.min_col + c)

    def matrix(self):
        return [[self.value(r, c) for c in range(self.cols)] for r in range(self.rows)]

    def flat(self):
        return [v for row in self.matrix() for v in row]

    def results(self):
        """The values like flat, with error cells as XLError values instead of raising."""
        return [self.book.result(self.sheet, self.min_row + r, self.min_col + c)
                for r in range(self.rows) for c in range(self.cols)]


def to_serial(v):
    """Dates as Excel serial numbers, ints as floats; other values unchanged."""
    if isinstance(v, bool) or v is None or isinstance(v, (str, float)):
        return v
    if isinstance(v, int):
        return float(v)
    if isinstance(v, datetime.datetime):
        delta = v - datetime.datetime(1899, 12, 30)
        return delta.days + delta.seconds / 86400
    if isinstance(v, datetime.date):
        return float((v - datetime.date(1899, 12, 30)).days)
    if isinstance(v, datetime.time):
        return (v.hour * 3600 + v.minute * 60 + v.second) / 86400
    return v


def scalar(v):
    if isinstance(v, Range):
        if v.rows == 1 and v.cols == 1:
            return v.value(0, 0)
        raise XLError("#VALUE!", "a range of several cells where one value is needed")
    return v


def number(v):
    v = scalar(v)
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip().replace(",", "")) if v.strip() else 0.0
        except ValueError:
            raise XLError("#VALUE!", "%r is not a number" % v) from None
    raise XLError("#VALUE!", "%r is not a number" % (v,))


def text(v):
    v = scalar(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return fmt_number(v, 15)
    return str(v)


def fmt_number(v, digits=None):
    """v as Excel writes it: integers without a decimal point, others to digits significant digits (all by default)."""
    if math.isfinite(v) and v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return "%.*g" % (digits, v) if digits else repr(v)


def boolean(v):
    v = scalar(v)
    if isinstance(v, str):
        if v.upper() in ("TRUE", "FALSE"):
            return v.upper() == "TRUE"
        raise XLError("#VALUE!", "%r is not a logical value" % v)
    return bool(number(v))


def compare(op, a, b):
    a, b = scalar(a), scalar(b)
    a = "" if a is None and isinstance(b, str) else (0.0 if a is None else a)
    b = "" if b is None and isinstance(a, str) else (0.0 if b is None else b)

    def rank(x):  # Excel orders numbers < text < logicals
        return 2 if isinstance(x, bool) else 1 if isinstance(x, str) else 0

    ka, kb = (rank(a), a.lower() if isinstance(a, str) else a), (rank(b), b.lower() if isinstance(b, str) else b)
    return {"=": ka == kb, "<>": ka != kb, "<": ka < kb, ">": ka > kb, "<=": ka <= kb, ">=": ka >= kb}[op]


# Function implementations. Ranges arrive as Range objects, everything else as values.


def _numbers(args):
    """Numbers of args as SUM counts them: in ranges only real numbers, direct values coerced."""
    out = []
    for a in args:
        if isinstance(a, Range):
            out.extend(v for v in a.flat() if isinstance(v, float) and not isinstance(v, bool))
        elif a is not None:
            out.append(number(a))
    return out


def _values(args, errors=False):
    """The values of args with ranges expanded; errors=True keeps error cells as XLError values."""
    out = []
    for a in args:
        if isinstance(a, Range):
            out.extend(a.results() if errors else a.flat())
        else:
            out.append(a)
    return out


def _round(x, digits, mode):
    q = Decimal(1).scaleb(-int(number(digits)))
    return float(Decimal(repr(number(x))).quantize(q, rounding=mode))


def _criterion(crit):
    """A predicate for SUMIF/COUNTIF criteria such as 5, ">10", "<>done", "a*"."""
    crit = scalar(crit)
    if not isinstance(crit, str):
        return lambda v: v is not None and compare("=", v, crit)
    m = re.match(r"(<=|>=|<>|<|>|=)?(.*)$", crit, re.S)
    op, operand = m.group(1) or "=", m.group(2)
    try:
        target = float(operand)
    except ValueError:
        target = operand
    if isinstance(target, str) and op in ("=", "<>") and any(ch in target for ch in "*?"):
        pattern = re.compile(
            "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in target), re.I | re.S
        )
        hit = lambda v: isinstance(v, str) and pattern.fullmatch(v) is not None  # noqa: E731
        return hit if op == "=" else (lambda v: not hit(v))
    if target == "" and op in ("=", "<>"):
        return (lambda v: v in (None, "")) if op == "=" else (lambda v: v not in (None, ""))

    def pred(v):
        if v is None or isinstance(v, str) != isinstance(target, str):
            return op == "<>"
        return compare(op, v, target)

    return pred


def _ifs(args, agg):
    """Shared part of SUMIFS/COUNTIFS/AVERAGEIFS/MAXIFS/MINIFS: the cells of target that match."""
    target, pairs = args[0], args[1:]
    if len(pairs) % 2:
        raise XLError("#VALUE!", "criteria must come in range, criterion pairs")
    tflat = target.flat() if isinstance(target, Range) else [target]
    keep = [True] * len(tflat)
    for rng, crit in zip(pairs[0::2], pairs[1::2]):
        flat = rng.flat() if isinstance(rng, Range) else [rng]
        if len(flat) != len(tflat):
            raise XLError("#VALUE!", "criteria ranges must be the same size as the sum range")
        p = _criterion(crit)
        keep = [k and p(v) for k, v in zip(keep, flat)]
    return agg([v for v, k in zip(tflat, keep) if k])


def _only_numbers(vals):
    return [v for v in vals if isinstance(v, float) and not isinstance(v, bool)]


def _average(nums):
    if not nums:
        raise XLError("#DIV/0!", "average of no numbers")
    return sum(nums) / len(nums)


def _lookup_match(vals, key, mode):
    key = scalar(key)
    if mode == 0:
        p = _criterion(key) if isinstance(key, str) else (lambda v: v is not None and compare("=", v, key))
        for i, v in enumerate(vals):
            if p(v):
                return i
        raise XLError("#N/A", "%r not found" % (key,))
    best = None
    for i, v in enumerate(vals):
        if v is None or isinstance(v, str) != isinstance(key, str):
            continue
        if (mode > 0 and compare("<=", v, key)) or (mode < 0 and compare(">=", v, key)):
            best = i
        elif mode > 0:
            break
    if best is None:
        raise XLError("#N/A", "%r not found" % (key,))
    return best


def _vlookup(key, table, col, approx=True):
    if not isinstance(table, Range):
        raise XLError("#VALUE!", "VLOOKUP needs a range")
    col = int(number(col))
    if col < 1 or col > table.cols:
        raise XLError("#REF!", "column %d is outside the table" % col)
    i = _lookup_match([table.value(r, 0) for r in range(table.rows)], key, 1 if boolean(approx) else 0)
    return table.value(i, col - 1)


def _hlookup(key, table, row, approx=True):
    if not isinstance(table, Range):
        raise XLError("#VALUE!", "HLOOKUP needs a range")
    row = int(number(row))
    if row < 1 or row > table.rows:
        raise XLError("#REF!", "row %d is outside the table" % row)
    i = _lookup_match([table.value(0, c) for c in range(table.cols)], key, 1 if boolean(approx) else 0)
    return table.value(row - 1, i)


def _match(key, rng, mode=1.0):
    vals = rng.flat() if isinstance(rng, Range) else [rng]
    return float(_lookup_match(vals, key, int(number(mode))) + 1)


def _index(rng, row, col=None):
    if not isinstance(rng, Range):
        return rng
    r, c = int(number(row)), int(number(col)) if col is not None else 1
    if rng.rows == 1 and col is None:
        r, c = 1, r
    if r < 1 or c < 1 or r > rng.rows or c > rng.cols:
        raise XLError("#REF!", "index outside the range")
    return rng.value(r - 1, c - 1)


def _xlookup(key, look, ret, if_not_found=None):
    vals = look.flat() if isinstance(look, Range) else [look]
    outs = ret.flat() if isinstance(ret, Range) else [ret]
    try:
        return outs[_lookup_match(vals, key, 0)]
    except XLError:
        if if_not_found is not None:
            return if_not_found
        raise


def _sumproduct(*arrays):
    mats = [a.flat() if isinstance(a, Range) else [a] for a in arrays]
    if len({len(m) for m in mats}) != 1:
        raise XLError("#VALUE!", "SUMPRODUCT ranges differ in size")
    total = 0.0
    for vals in zip(*mats):
        p = 1.0
        for v in vals:
            p *= v if isinstance(v, float) and not isinstance(v, bool) else 0.0
        total += p
    return total


def _text(v, fmt):
    x, fmt = number(v), text(fmt)
    pct = fmt.endswith("%")
    if pct:
        x, fmt = x * 100, fmt[:-1]
    decimals = len(fmt.split(".")[1]) if "." in fmt else 0
    s = ("{:,.%df}" if "," in fmt else "{:.%df}") % decimals
    return s.format(x) + ("%" if pct else "")


def _date(y, m, d):
    y, m, d = int(number(y)), int(number(m)), int(number(d))
    y += (m - 1) // 12
    m = (m - 1) % 12 + 1
    return to_serial(datetime.date(y, m, 1)) + d - 1


def _from_serial(v):
    return datetime.date(1899, 12, 30) + datetime.timedelta(days=int(number(v)))


def _stdev(*args, population=False):
    nums = _numbers(args)
    n = len(nums) - (0 if population else 1)
    if n <= 0:
        raise XLError("#DIV/0!", "too few numbers")
    mean = sum(nums) / len(nums)
    return math.sqrt(sum((x - mean) ** 2 for x in nums) / n)


def _median(*args):
    nums = sorted(_numbers(args))
    if not nums:
        raise XLError("#NUM!", "median of no numbers")
    mid = len(nums) // 2
    return nums[mid] if len(nums) % 2 else (nums[mid - 1] + nums[mid]) / 2


def _mod(a, b):
    b = number(b)
    if b == 0:
        raise XLError("#DIV/0!", "MOD by zero")
    return number(a) - b * math.floor(number(a) / b)


FUNCTIONS = {
    "SUM": lambda *a: sum(_numbers(a)),
    "AVERAGE": lambda *a: _average(_numbers(a)),
    "MIN": lambda *a: min(_numbers(a), default=0.0),
    "MAX": lambda *a: max(_numbers(a), default=0.0),
    "COUNT": lambda *a: float(len(_only_numbers(_values(a, errors=True)))),
    "COUNTA": lambda *a: float(sum(1 for v in _values(a, errors=True) if isinstance(v, XLError) or v not in (None, ""))),
    "COUNTBLANK": lambda *a: float(sum(1 for v in _values(a, errors=True) if not isinstance(v, XLError) and v in (None, ""))),
    "PRODUCT": lambda *a: math.prod(_numbers(a)),
    "MEDIAN": _median,
    "STDEV": _stdev,
    "STDEV.S": _stdev,
    "STDEV.P": lambda *a: _stdev(*a, population=True),
    "ROUND": lambda x, d=0.0: _round(x, d, ROUND_HALF_UP),
    "ROUNDUP": lambda x, d=0.0: _round(x, d, ROUND_UP),
    "ROUNDDOWN": lambda x, d=0.0: _round(x, d, ROUND_DOWN),
    "INT": lambda x: float(math.floor(number(x))),
    "ABS": lambda x: abs(number(x)),
    "MOD": _mod,
    "POWER": lambda x, y: number(x) ** number(y),
    "SQRT": lambda x: math.sqrt(number(x)),
    "EXP": lambda x: math.exp(number(x)),
    "LN": lambda x: math.log(number(x)),
    "LOG10": lambda x: math.log10(number(x)),
    "LOG": lambda x, b=10.0: math.log(number(x), number(b)),
    "PI": lambda: math.pi,
    "SUMIF": lambda rng, crit, total=None: _ifs([total if total is not None else rng, rng, crit], lambda v: sum(_only_numbers(v))),
    "SUMIFS": lambda *a: _ifs(a, lambda v: sum(_only_numbers(v))),
    "COUNTIF": lambda rng, crit: _ifs([rng, rng, crit], lambda v: float(len(v))),
    "COUNTIFS": lambda *a: _ifs((a[0],) + a, lambda v: float(len(v))),
    "AVERAGEIF": lambda rng, crit, avg=None: _ifs([avg if avg is not None else rng, rng, crit], lambda v: _average(_only_numbers(v))),
    "AVERAGEIFS": lambda *a: _ifs(a, lambda v: _average(_only_numbers(v))),
    "MAXIFS": lambda *a: _ifs(a, lambda v: max(_only_numbers(v), default=0.0)),
    "MINIFS": lambda *a: _ifs(a, lambda v: min(_only_numbers(v), default=0.0)),
    "SUMPRODUCT": _sumproduct,
    "VLOOKUP": _vlookup,
    "HLOOKUP": _hlookup,
    "MATCH": _match,
    "INDEX": _index,
    "XLOOKUP": _xlookup,
    "CHOOSE": lambda i, *opts: opts[int(number(i)) - 1] if 1 <= int(number(i)) <= len(opts) else (_ for _ in ()).throw(XLError("#VALUE!", "CHOOSE index out of range")),
    "CONCATENATE": lambda *a: "".join(text(v) for v in _values(a)),
    "CONCAT": lambda *a: "".join(text(v) for v in _values(a)),
    "TEXTJOIN": lambda sep, skip, *a: text(sep).join(text(v) for v in _values(a) if not (boolean(skip) and v in (None, ""))),
    "LEN": lambda s: float(len(text(s))),
    "LEFT": lambda s, n=1.0: text(s)[: int(number(n))],
    "RIGHT": lambda s, n=1.0: text(s)[len(text(s)) - int(number(n)):] if int(number(n)) else "",
    "MID": lambda s, start, n: text(s)[int(number(start)) - 1: int(number(start)) - 1 + int(number(n))],
    "UPPER": lambda s: text(s).upper(),
    "LOWER": lambda s: text(s).lower(),
    "PROPER": lambda s: text(s).title(),
    "TRIM": lambda s: " ".join(text(s).split()),
    "TEXT": _text,
    "VALUE": lambda s: number(s),
    "DATE": _date,
    "YEAR": lambda v: float(_from_serial(v).year),
    "MONTH": lambda v: float(_from_serial(v).month),
    "DAY": lambda v: float(_from_serial(v).day),
    "ISBLANK": lambda v: scalar(v) is None,
    "ISNUMBER": lambda v: isinstance(scalar(v), float) and not isinstance(scalar(v), bool),
    "ISTEXT": lambda v: isinstance(scalar(v), str),
    "NOT": lambda v: not boolean(v),
    "NA": lambda: (_ for _ in ()).throw(XLError("#N/A", "NA()")),
}


def _lazy_if(ev, args):
    if len(args) < 2:
        raise XLError("#VALUE!", "IF needs a condition and a value")
    if boolean(ev.eval(args[0])):
        return ev.eval(args[1])
    return ev.eval(args[2]) if len(args) > 2 else False


def _lazy_iferror(ev, args, codes=None):
    try:
        return scalar(ev.eval(args[0]))
    except XLError as e:
        if codes and e.code not in codes:
            raise
        return ev.eval(args[1])


def _lazy_iserror(ev, args, codes=None):
    try:
        scalar(ev.eval(args[0]))
        return False
    except XLError as e:
        return codes is None or e.code in codes


def _lazy_logic(ev, args, all_):
    vals = []
    for a in args:
        v = ev.eval(a)
        vals.extend(x for x in v.flat() if isinstance(x, (bool, float))) if isinstance(v, Range) else vals.append(boolean(v))
    return all(map(bool, vals)) if all_ else any(map(bool, vals))


def _lazy_ifs(ev, args):
    for cond, val in zip(args[0::2], args[1::2]):
        if boolean(ev.eval(cond)):
            return ev.eval(val)
    raise XLError("#N/A", "no IFS condition was true")


LAZY = {
    "IF": _lazy_if,
    "IFS": _lazy_ifs,
    "IFERROR": _lazy_iferror,
    "IFNA": lambda ev, a: _lazy_iferror(ev, a, ("#N/A",)),
    "ISERROR": _lazy_iserror,
    "ISNA": lambda ev, a: _lazy_iserror(ev, a, ("#N/A",)),
    "AND": lambda ev, a: _lazy_logic(ev, a, True),
    "OR": lambda ev, a: _lazy_logic(ev, a, False),
}
