#!/usr/bin/env python3
"""List and fill the fields of a PDF form (AcroForm).

    python3 forms.py fields form.pdf                  # JSON: name -> type, value, options/states, page
    python3 forms.py fill form.pdf values.json out.pdf [--read-only]

values.json maps field names (as `fields` prints them) to values: text for text fields,
true/false for check boxes, the option (or state name) for radio groups and choice lists.
Unknown names and impossible values are errors. --read-only locks the filled fields.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pypdf import PdfWriter  # noqa: E402
from pypdf.generic import ArrayObject, NameObject, NumberObject, TextStringObject  # noqa: E402

from pages import PagesError, open_pdf  # noqa: E402

RADIO, PUSHBUTTON = 1 << 15, 1 << 16


def _inherited(field, key):
    while field is not None:
        if key in field:
            return field[key]
        field = field.get("/Parent")
        field = field.get_object() if field is not None else None
    return None


def _name(field):
    parts = []
    while field is not None:
        if "/T" in field:
            parts.append(str(field["/T"]))
        field = field.get("/Parent")
        field = field.get_object() if field is not None else None
    return ".".join(reversed(parts))


def _widgets(pages):
    """(page number, widget annotation, its field) for every form widget."""
    for n, page in enumerate(pages, 1):
        for annot in page.get("/Annots") or []:
            w = annot.get_object()
            if w.get("/Subtype") != "/Widget":
                continue
            field = w if "/T" in w else w["/Parent"].get_object()
            yield n, w, field


def _states(widget):
    ap = widget.get("/AP")
    normal = ap.get_object().get("/N") if ap is not None else None
    return [str(k)[1:] for k in (normal.get_object().keys() if normal is not None else []) if k != "/Off"]


def fields(path, password=None):
    """{name: {"type", "value", "page", "options"|"states"}} of the form at path."""
    reader = open_pdf(path, password)
    out = {}
    for page, w, field in _widgets(reader.pages):
        name = _name(field)
        ft = str(_inherited(field, "/FT") or "")
        flags = int(_inherited(field, "/Ff") or 0)
        kind = {"/Tx": "text", "/Ch": "choice", "/Sig": "signature"}.get(ft)
        if ft == "/Btn":
            kind = "radio" if flags & RADIO else "button" if flags & PUSHBUTTON else "checkbox"
        v = _inherited(field, "/V")
        entry = out.setdefault(name, {"type": kind or ft, "value": None if v is None else str(v).lstrip("/"), "page": page})
        if kind in ("checkbox", "radio"):
            entry.setdefault("states", [])
            entry["states"] += [s for s in _states(w) if s not in entry["states"]]
        elif kind == "choice":
            opts = _inherited(field, "/Opt") or []
            entry["options"] = [str(o[1] if isinstance(o, list) else o) for o in opts]
    if not out:
        raise PagesError("%s has no form fields" % path)
    return out


def _truthy(v):
    return v is True or str(v).lower() in ("true", "yes", "on", "1", "x", "checked")


def fill(path, values, out, read_only=False, password=None):
    """Write path's form with values filled in to out; returns the names filled."""
    known = fields(path, password)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise PagesError("no field named %s; the fields are: %s" % (", ".join(unknown), ", ".join(sorted(known))))
    for name, v in values.items():
        f = known[name]
        if f["type"] == "radio" and str(v) not in f["states"]:
            raise PagesError("%s: %r is not one of the radio states %s" % (name, v, f["states"]))
        if f["type"] == "choice" and f.get("options") and str(v) not in f["options"]:
            raise PagesError("%s: %r is not one of the options %s" % (name, v, f["options"]))
    reader = open_pdf(path, password)
    writer = PdfWriter()
    writer.clone_reader_document_root(reader)
    for _, w, field in _widgets(writer.pages):
        name = _name(field)
        if name not in values:
            continue
        v = values[name]
        kind = known[name]["type"]
        if kind == "checkbox":
            on = (_states(w) or ["Yes"])[0]
            state = NameObject("/" + on if _truthy(v) else "/Off")
            field[NameObject("/V")] = state
            w[NameObject("/AS")] = state
        elif kind == "radio":
            chosen = NameObject("/" + str(v))
            field[NameObject("/V")] = chosen
            w[NameObject("/AS")] = chosen if str(v) in _states(w) else NameObject("/Off")
        elif isinstance(v, list):
            field[NameObject("/V")] = ArrayObject(TextStringObject(str(x)) for x in v)
        else:
            field[NameObject("/V")] = TextStringObject("" if v is None else str(v))
        if read_only:
            field[NameObject("/Ff")] = NumberObject(int(field.get("/Ff", 0)) | 1)
    # Ask viewers to draw the new values (the old appearance streams show the old ones).
    writer.set_need_appearances_writer()
    with open(out, "wb") as f:
        writer.write(f)
    return sorted(values)


def main(argv=None):
    ap = argparse.ArgumentParser(description="List or fill PDF form fields.")
    ap.add_argument("--password")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("fields")
    p.add_argument("path")
    p = sub.add_parser("fill")
    p.add_argument("path")
    p.add_argument("values", help="JSON file {field name: value}")
    p.add_argument("out")
    p.add_argument("--read-only", action="store_true")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "fields":
            print(json.dumps(fields(args.path, args.password), indent=2))
        else:
            with open(args.values, encoding="utf-8") as f:
                values = json.load(f)
            if not isinstance(values, dict):
                raise PagesError("%s must hold a JSON object {field name: value}" % args.values)
            filled = fill(args.path, values, args.out, args.read_only, args.password)
            print("wrote %s: filled %s" % (args.out, ", ".join(filled)))
    except json.JSONDecodeError as e:
        print("forms.py: %s is not valid JSON: %s" % (args.values, e), file=sys.stderr)
        return 1
    except (PagesError, OSError) as e:
        print("forms.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
