"""The Markdown the docx, pdf and pptx skills read, as blocks and inline spans.

Each skill folder stands alone (a request may load one without the others), so each
carries an identical copy of this module.

parse(text) returns Blocks of these kinds, with data:
    heading    (level, text)             "#".."######"
    paragraph  text                      consecutive plain lines, joined by spaces
    list       [(level, numbered, text)] "-", "*", "+" or "1." items; two spaces of indent per level
    table      [[cell, ...], ...]        pipe table; the |---| separator row is dropped
    image      (caption, path, width)    ![caption](path) or ![caption](path){width=3in}; width in inches or None
    code       text                      ``` fenced block
    quote      text                      "> " line
    rule       None                      "---", "***" or "___" alone
    pagebreak  None                      "\\pagebreak" alone
    toc        None                      "[TOC]" alone
    notes      text                      "Notes: ..." (only with notes=True)
spans(text) splits inline text into (text, style) pairs, style a frozenset of "bold",
"italic", "code", and ("link", url) for links.
"""

import re
from collections import namedtuple

Block = namedtuple("Block", "kind data")

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*$")
_LIST = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$")
_IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)(?:\{width=([\d.]+)(in|cm)\})?$")
_SEPARATOR = re.compile(r":?-+:?")
_INLINE = re.compile(
    r"\*\*(?P<b>.+?)\*\*|__(?P<b2>.+?)__|`(?P<code>[^`]+)`|\[(?P<lt>[^\]]+)\]\((?P<url>[^)\s]+)\)"
    r"|(?<![\w*])\*(?P<i>[^*\s][^*]*?)\*(?![\w*])|(?<!\w)_(?P<i2>[^_\s][^_]*?)_(?!\w)")


def parse(text, notes=False):
    """The Blocks of a Markdown text."""
    lines = text.splitlines()
    blocks, para = [], []
    i = 0

    def flush():
        if para:
            blocks.append(Block("paragraph", " ".join(para)))
            para.clear()

    while i < len(lines):
        line, s = lines[i], lines[i].strip()
        i += 1
        m = _HEADING.match(s)
        img = _IMAGE.match(s)
        item = _LIST.match(line)
        if not s:
            flush()
        elif m:
            flush()
            blocks.append(Block("heading", (len(m.group(1)), m.group(2))))
        elif s.startswith("```"):
            flush()
            code = []
            while i < len(lines) and not lines[i].strip().startswith("```"):
                code.append(lines[i])
                i += 1
            i += 1
            blocks.append(Block("code", "\n".join(code)))
        elif s in ("---", "***", "___"):
            flush()
            blocks.append(Block("rule", None))
        elif s == "\\pagebreak":
            flush()
            blocks.append(Block("pagebreak", None))
        elif s == "[TOC]":
            flush()
            blocks.append(Block("toc", None))
        elif notes and s.lower().startswith("notes:"):
            flush()
            blocks.append(Block("notes", s[6:].strip()))
        elif img:
            flush()
            width = float(img.group(3)) / (2.54 if img.group(4) == "cm" else 1) if img.group(3) else None
            blocks.append(Block("image", (img.group(1), img.group(2), width)))
        elif s.startswith("|"):
            flush()
            rows = []
            while True:
                cells = [c.strip() for c in s.strip("|").split("|")]
                if not all(_SEPARATOR.fullmatch(c) for c in cells if c):
                    rows.append(cells)
                if i >= len(lines) or not lines[i].strip().startswith("|"):
                    break
                s = lines[i].strip()
                i += 1
            blocks.append(Block("table", rows))
        elif s.startswith(">"):
            flush()
            blocks.append(Block("quote", s.lstrip(">").strip()))
        elif item:
            flush()
            items = []
            while item:
                items.append((len(item.group(1).expandtabs(4)) // 2, item.group(2)[0].isdigit(), item.group(3).strip()))
                if i >= len(lines):
                    break
                item = _LIST.match(lines[i])
                if item:
                    i += 1
            blocks.append(Block("list", items))
        else:
            para.append(s)
    flush()
    return blocks


def spans(text, style=frozenset()):
    """[(text, style)] of inline Markdown: **bold**, *italic*, `code`, [links](url)."""
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        if m.start() > pos:
            out.append((text[pos:m.start()], style))
        if m.group("b") or m.group("b2"):
            out.extend(spans(m.group("b") or m.group("b2"), style | {"bold"}))
        elif m.group("i") or m.group("i2"):
            out.extend(spans(m.group("i") or m.group("i2"), style | {"italic"}))
        elif m.group("code"):
            out.append((m.group("code"), style | {"code"}))
        else:
            out.append((m.group("lt"), style | {("link", m.group("url"))}))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], style))
    return out


def link(style):
    """The URL of a span's style, or None."""
    return next((s[1] for s in style if isinstance(s, tuple) and s[0] == "link"), None)
