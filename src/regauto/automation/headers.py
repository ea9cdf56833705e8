"""Header mode (SPEC §4.2): a file carries its id as a ``doc_id: <id>`` comment.

Where the header goes:

- ``#``-comment languages: line 1, but after a shebang, a PEP 263 encoding / Emacs ``-*-`` line
  (Python, Ruby and Emacs only honour these on lines 1–2) and Dockerfile parser directives
  (ignored by Docker once any comment precedes them);
- XML/SVG/HTML: after an ``<?xml …?>`` declaration or a ``<!DOCTYPE …>`` line, which must stay
  first;
- Markdown: a ``doc_id:`` key as the first key of existing YAML front matter, else
  ``<!-- doc_id: … -->`` on line 1;
- Go and reStructuredText: followed by a blank line, so that the header does not become the
  first line of a Go package doc comment, and an rST comment block ends properly.

Everything works on bytes: the rest of the file, its encoding, BOM and line ends (``\\n``,
``\\r\\n``) are kept exactly.  A file that already claims the id is returned unchanged; an
existing ``doc_id:`` header with another (or an invalid) value is replaced where it stands.
Only the first ``HEADER_WINDOW`` lines (and, for Markdown, the whole front matter) are read.
"""

from __future__ import annotations

import functools
import re

from regauto import docid
from regauto.automation.extractors.markdown import front_matter_end

HEADER_WINDOW = 10
_BOM = b"\xef\xbb\xbf"

_HASH = ("# ", "")
_SLASH = ("// ", "")
_DASH = ("-- ", "")
_HTML = ("<!-- ", " -->")
_STYLES: dict[str, tuple[str, str]] = {
    **dict.fromkeys(
        ("python", "pyi", "python2", "python3", "cython", "shell", "bash", "sh", "zsh", "ksh",
         "dash", "ash", "fish", "yaml", "toml", "ini", "ruby", "perl", "r", "makefile",
         "dockerfile", "cmake", "dotenv", "gitignore", "gitattributes", "dockerignore",
         "editorconfig", "terraform", "hcl", "nix", "powershell", "julia", "elixir", "crystal",
         "nim", "coffee", "awk", "graphql", "bazel", "meson", "starlark", "tcl", "gitconfig"),
        _HASH,
    ),
    **dict.fromkeys(
        ("c", "c++", "c#", "java", "javascript", "jsx", "ts", "tsx", "go", "rust", "swift",
         "kotlin", "scala", "dart", "groovy", "proto", "zig", "solidity", "objective-c",
         "objective-c++", "scss", "less", "jsonnet", "cuda", "vala", "hlsl", "sass"),
        _SLASH,
    ),
    **dict.fromkeys(("sql", "lua", "luau", "haskell", "elm", "purescript", "idris"), _DASH),
    **dict.fromkeys(("markdown", "html", "xhtml", "xml", "svg", "vue"), _HTML),
    **dict.fromkeys(("tex", "erlang"), ("% ", "")),
    **dict.fromkeys(("clojure", "clojurescript", "scheme"), (";; ", "")),
    "css": ("/* ", " */"),
    "rst": (".. ", ""),  # an rST comment: explicit markup that is not a directive
}
_BLANK_AFTER = frozenset({"go", "rst"})
# Not listed, on purpose: json (no comments), mdx (HTML comments are a syntax error in MDX 2),
# php (a comment must follow the "<?php" tag), csv, text and every binary kind.

_SHEBANG = re.compile(rb"^#!")
_CODING = re.compile(rb"^[ \t\f]*#.*?(coding[:=]|-\*-)")
_DOCKER_DIRECTIVE = re.compile(rb"^#[ \t]*[A-Za-z_]+[ \t]*=")
_XML_PROLOGUE = re.compile(rb"^(<\?xml\b.*\?>|<!DOCTYPE\b[^>]*>)[ \t]*\r?\n?$", re.IGNORECASE)
_FM_KEY = re.compile(rb"""^doc_id[ \t]*:[ \t]*["']?([^\r\n"']*?)["']?[ \t]*\r?\n?$""")


def comment_style(kind: str) -> tuple[str, str] | None:
    """``(prefix, suffix)`` of a one-line comment for ``kind``; None: no comment syntax."""
    return _STYLES.get(kind)


def read_header_id(kind: str, data: bytes) -> str | None:
    """The valid doc_id the file claims with its header, else None."""
    style = comment_style(kind)
    if style is None or b"doc_id" not in data:
        return None  # every form of the header spells "doc_id" (a check asks ~100k files)
    body = data.removeprefix(_BOM)
    if kind != "markdown":
        body = _first_lines(body, HEADER_WINDOW)
    found = _find_header(kind, style, body.splitlines(keepends=True))
    if found is None:
        return None
    value = found[1]
    return value if docid.is_valid(value) else None


def embed_header(kind: str, data: bytes, doc_id: str) -> bytes | None:
    """``data`` carrying ``doc_id`` in its header; None if ``kind`` has no comment syntax."""
    style = comment_style(kind)
    if style is None:
        return None
    if not docid.is_valid(doc_id):
        raise ValueError(f"not a valid doc_id: {doc_id!r}")
    if read_header_id(kind, data) == doc_id:
        return data  # idempotent, and a hand-formatted header is left alone
    bom = _BOM if data.startswith(_BOM) else b""
    lines = data[len(bom):].splitlines(keepends=True)
    eol = _line_end(data)
    prefix, suffix = style
    found = _find_header(kind, style, lines)
    fm_end = front_matter_end(lines) if kind == "markdown" else None

    if found is not None:
        i = found[0]
        own_eol = lines[i][len(lines[i].rstrip(b"\r\n")):]
        in_front_matter = fm_end is not None and 0 < i < fm_end
        text = f"doc_id: {doc_id}" if in_front_matter else f"{prefix}doc_id: {doc_id}{suffix}"
        lines[i] = text.encode() + own_eol
    elif fm_end is not None:
        lines.insert(1, f"doc_id: {doc_id}".encode() + eol)
    else:
        at = _preamble_length(kind, lines)
        if at and not lines[at - 1].endswith((b"\n", b"\r")):
            lines[at - 1] += eol  # a file that is only a shebang without a newline
        new = [f"{prefix}doc_id: {doc_id}{suffix}".encode() + eol]
        if kind in _BLANK_AFTER and at < len(lines) and lines[at].strip():
            new.append(eol)
        lines[at:at] = new
    return bom + b"".join(lines)


def _find_header(
    kind: str, style: tuple[str, str], lines: list[bytes]
) -> tuple[int, str] | None:
    """(line index, claimed value) of the first ``doc_id:`` header, looking where it may be."""
    if kind == "markdown":
        end = front_matter_end(lines)
        if end is not None:
            for i in range(1, end):
                m = _FM_KEY.match(lines[i])
                if m:
                    return i, m.group(1).decode("ascii", errors="replace")
    pattern = _comment_pattern(style)
    for i, line in enumerate(lines[:HEADER_WINDOW]):
        m = pattern.match(line)
        if m:
            return i, m.group(1).decode("ascii", errors="replace")
    return None


def _first_lines(data: bytes, n: int) -> bytes:
    """A start of ``data`` whose first ``n`` lines are those of ``data``: all a header
    search outside front matter looks at, without splitting a whole file into lines.  Cut
    after the ``n``-th ``\\n``: lines also end at a lone ``\\r``, so at least ``n`` lines
    come before it, each whole."""
    end = -1
    for _ in range(n):
        end = data.find(b"\n", end + 1)
        if end < 0:
            return data
    return data[: end + 1]


@functools.cache  # a handful of styles; compiled once, not looked up per file
def _comment_pattern(style: tuple[str, str]) -> re.Pattern[bytes]:
    # Tolerant of spacing ("#doc_id:x"), strict about the comment starting the line.
    prefix, suffix = (re.escape(part.strip()).encode() for part in style)
    return re.compile(
        rb"^" + prefix + rb"[ \t]*doc_id[ \t]*:[ \t]*([^\r\n]*?)[ \t]*" + suffix + rb"[ \t]*\r?\n?$"
    )


def _preamble_length(kind: str, lines: list[bytes]) -> int:
    """How many leading lines must stay before the header."""
    at = 0
    if lines and _SHEBANG.match(lines[0]) and kind not in ("markdown", "rst"):
        at = 1
    if comment_style(kind) == _HASH:
        # PEP 263 and Emacs only look at lines 1-2.
        while at < min(len(lines), 2) and _CODING.match(lines[at]):
            at += 1
        if kind == "dockerfile":
            while at < min(len(lines), 5) and _DOCKER_DIRECTIVE.match(lines[at]):
                at += 1
    if comment_style(kind) == _HTML and kind != "markdown":
        while at < min(len(lines), 2) and _XML_PROLOGUE.match(lines[at]):
            at += 1
    return at


def _line_end(data: bytes) -> bytes:
    """The file's own line end style: that of its first line break, else ``\\n``."""
    i = data.find(b"\n")
    if i > 0 and data[i - 1 : i] == b"\r":
        return b"\r\n"
    if i < 0 and b"\r" in data:
        return b"\r"
    return b"\n"
