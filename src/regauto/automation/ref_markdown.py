"""References in Markdown (CommonMark through ``markdown-it-py``, plus MyST's additions).

markdown-it decides what is a link (never inside code, an escaped bracket is no link); its
token maps give each block's lines.  Inside those lines the destinations are located in the
source bytes and kept only when markdown-it produced the same (normalised) destination, so
the span is exact and a look-alike in a code span is left alone.  Reference definitions are
found on lines outside code blocks.  MyST: ``{doc}`` roles in text and the ``{toctree}``,
``{include}``, ``{literalinclude}``, ``{image}`` and ``{figure}`` fenced directives.
"""

from __future__ import annotations

import functools
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

_INLINE_DEST = re.compile(r"\]\(\s*(<[^>\n]*>|[^\s()<>]*(?:\([^\s()]*\)[^\s()<>]*)*)")
_DEFINITION = re.compile(r"^ {0,3}\[(?:[^\]\\]|\\.)+\]:[ \t]*(<[^>\n]*>|\S+)")
_DOC_ROLE = re.compile(r"\{doc\}`(?:[^`<]*<([^>`]+)>|([^`]+))`")
_FILE_DIRECTIVES = ("include", "literalinclude", "image", "figure")
_TOC_ENTRY = re.compile(r"^(\s*)(?:[^<\n]*<([^>\n]+)>|(\S.*?))\s*$")


@functools.lru_cache(maxsize=1)
def _parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def _hrefs(token: Any, found: set[str]) -> None:
    for child in token.children or ():
        if child.type == "link_open":
            found.add(str(child.attrGet("href") or ""))
        elif child.type == "image":
            found.add(str(child.attrGet("src") or ""))


def scan_markdown(path: str, data: bytes, srcdir: str = "") -> list[Reference]:
    text = decode(data)
    lines = text.split("\n")
    starts = line_starts(data)
    md = _parser()
    tokens = md.parse(text, {})
    base = posixpath.dirname(path)
    refs: list[Reference] = []
    code: set[int] = set()  # 0-based lines inside code blocks

    def at(line0: int, col: int) -> int:
        return starts[line0] + byte_len(lines[line0][:col])

    def add(line0: int, col: int, raw: str, kind: str, **kw: Any) -> None:
        ref = make(path, line0 + 1, at(line0, col), raw, kind, base=base, srcdir=srcdir, **kw)
        if ref is not None:
            refs.append(ref)

    for tok in tokens:
        if tok.map is None:
            continue
        first, last = tok.map
        if tok.type in ("fence", "code_block"):
            code.update(range(first, last))
            if tok.type == "fence":
                _myst_fence(tok, lines, first, last, add)
        elif tok.type == "inline":
            hrefs: set[str] = set()
            _hrefs(tok, hrefs)
            for i in range(first, last):
                _links_on_line(lines[i], i, hrefs, md, add)
                for m in _DOC_ROLE.finditer(lines[i]):
                    g = 1 if m.group(1) is not None else 2
                    add(i, m.start(g), split_anchor(m.group(g).strip()), "doc", doc=True)
    for i, line in enumerate(lines):
        if i in code:
            continue
        d = _DEFINITION.match(line)
        if d is not None:
            raw, col = d.group(1), d.start(1)
            if raw.startswith("<"):
                raw, col = raw[1:-1], col + 1
            add(i, col, split_anchor(raw), "definition", url=True)
    return sorted(refs, key=lambda r: r.start)


def _links_on_line(line: str, i: int, hrefs: set[str], md: Any, add: Any) -> None:
    for m in _INLINE_DEST.finditer(line):
        raw, col = m.group(1), m.start(1)
        if raw.startswith("<"):
            raw, col = raw[1:-1], col + 1
        if not raw or md.normalizeLink(raw) not in hrefs:
            continue
        kind = "image" if m.start() > 0 and "![" in line[: m.start()] else "link"
        add(i, col, split_anchor(raw), kind, url=True)


def _myst_fence(tok: Any, lines: list[str], first: int, last: int, add: Any) -> None:
    """MyST directives written as fences: ```{toctree} and ```{include} path."""
    info = tok.info.strip()
    if not info.startswith("{"):
        return
    name = info[1:].split("}", 1)[0]
    if name in _FILE_DIRECTIVES:
        arg = info.split("}", 1)[1].strip()
        if arg:
            fence_line = lines[first]
            add(first, fence_line.index(arg, fence_line.index("}")), arg, name)
        return
    if name != "toctree":
        return
    in_options = False
    for i in range(first + 1, max(first + 1, last - 1)):
        line = lines[i]
        stripped = line.strip()
        if stripped == "---":
            in_options = not in_options
            continue
        if in_options or not stripped or stripped.startswith(":") or stripped == "self":
            continue
        m = _TOC_ENTRY.match(line)
        if m is None or "://" in stripped or "*" in stripped:
            continue
        g = 2 if m.group(2) is not None else 3
        add(i, m.start(g), m.group(g).strip(), "toctree", doc=True)
