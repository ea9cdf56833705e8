"""References in reStructuredText: ``:doc:`` roles, ``toctree`` entries, the
``include``/``literalinclude``/``image``/``figure`` directives and hyperlinks
(`` `text <path>`_ ``, ``.. _name: path``) that name a repository file.

A line scanner, not docutils: parsing a document with docutils needs its Sphinx context
(roles and directives it does not know are errors), and the spans must be bytes of the
source.  Literal blocks (``::``) and ``code-block``/``code``/``sourcecode`` bodies are skipped,
so an example of reST in a document is not taken for a reference.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from regauto.automation.references import (
    Reference,
    byte_len,
    decode,
    line_starts,
    make,
    split_anchor,
)

_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+([\w:-]+)::(?:[ \t]+(.*?))?\s*$")
_FILE_DIRECTIVES = ("include", "literalinclude", "image", "figure")
_CODE_DIRECTIVES = ("code-block", "code", "sourcecode", "highlight")
_DOC_ROLE = re.compile(r":(?:std:)?doc:`(?:[^`<]*<([^>`]+)>|([^`]+))`")
_HYPERLINK = re.compile(r"`[^`<]*<([^>`]+)>`__?")
_TARGET = re.compile(r"^\s*\.\.\s+_[^:]+:\s+(\S+)\s*$")
_TOC_ENTRY = re.compile(r"^(\s*)(?:[^<\n]*<([^>\n]+)>|(\S.*?))\s*$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def scan_rst(path: str, data: bytes, srcdir: str = "") -> list[Reference]:
    text = decode(data)
    lines = text.split("\n")
    starts = line_starts(data)
    base = posixpath.dirname(path)
    refs: list[Reference] = []

    def add(i: int, col: int, raw: str, kind: str, **kw: Any) -> None:
        at = starts[i] + byte_len(lines[i][:col])
        ref = make(path, i + 1, at, raw, kind, base=base, srcdir=srcdir, **kw)
        if ref is not None:
            refs.append(ref)

    skip_above: int | None = None  # inside a literal block: lines indented deeper than this
    toc_above: int | None = None  # inside a toctree: entries indented deeper than this
    for i, line in enumerate(lines):
        stripped = line.strip()
        if skip_above is not None:
            if not stripped or _indent(line) > skip_above:
                continue
            skip_above = None
        if toc_above is not None:
            if not stripped:
                continue
            if _indent(line) > toc_above:
                _toc_entry(line, i, add)
                continue
            toc_above = None
        d = _DIRECTIVE.match(line)
        if d is not None:
            name, arg = d.group(2), d.group(3) or ""
            if name in _CODE_DIRECTIVES:
                skip_above = len(d.group(1))
            elif name == "toctree":
                toc_above = len(d.group(1))
            elif name in _FILE_DIRECTIVES and arg:
                add(i, d.start(3), arg, name)
            continue
        m = _TARGET.match(line)
        if m is not None:
            add(i, m.start(1), split_anchor(m.group(1)), "link")
        for m in _DOC_ROLE.finditer(line):
            g = 1 if m.group(1) is not None else 2
            add(i, m.start(g), split_anchor(m.group(g).strip()), "doc", doc=True)
        for m in _HYPERLINK.finditer(line):
            raw = m.group(1)
            if not raw.endswith("_"):  # `text <name_>`_ names a target, not a file
                add(i, m.start(1), split_anchor(raw), "link")
        if stripped.endswith("::") and not stripped.startswith(".."):
            skip_above = _indent(line)
    return sorted(refs, key=lambda r: r.start)


def _toc_entry(line: str, i: int, add: Any) -> None:
    stripped = line.strip()
    if stripped.startswith(":") or stripped == "self" or "://" in stripped or "*" in stripped:
        return
    m = _TOC_ENTRY.match(line)
    if m is None:
        return
    g = 2 if m.group(2) is not None else 3
    add(i, m.start(g), m.group(g).strip(), "toctree", doc=True)
