"""Intra-repository references: find them in a file, and rewrite them when their target moves.

A :class:`Reference` is one place in one file that names another file of the repository:
a Markdown link, image or reference definition, a reST ``:doc:`` role, ``toctree`` entry,
``include``/``literalinclude``/``image``/``figure`` directive or hyperlink, a MyST ``{doc}``
role or ``{toctree}``/``{include}``… block, an MkDocs ``nav`` entry.  It records the byte
span of the *path* only, so a rewrite keeps anchors (``#section``), titles, link text and
every other byte as they were.

Scanning is per kind of file (``ref_markdown``, ``ref_rst``, ``toolchains.mkdocs_nav``);
:func:`scan` dispatches by name.  :func:`rewrite` takes a mapping old path → new path.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
MARKDOWN_SUFFIXES = (".md", ".markdown")
RST_SUFFIXES = (".rst",)
MKDOCS_NAMES = ("mkdocs.yml", "mkdocs.yaml")


@dataclass(frozen=True)
class Reference:
    """One reference: ``source`` names ``target`` on ``line`` with the bytes
    ``[start, end)`` (the path as written, without anchor or title).

    ``doc``: a Sphinx document name (no suffix): ``target`` is then the repository path
    without suffix, and a file matches whatever its suffix.  ``absolute``: written from the
    Sphinx source folder (``/guide/intro``), ``base`` being that folder; otherwise ``base`` is
    the folder the written path is relative to.  ``encoded``: percent-encoded (a URL)."""

    source: str
    line: int
    start: int
    end: int
    written: str
    target: str
    kind: str
    base: str
    doc: bool = False
    absolute: bool = False
    encoded: bool = False

    def names(self, path: str) -> bool:
        """Does this reference point at the repository file ``path``?"""
        if self.doc:
            return posixpath.splitext(path)[0] == self.target
        return path == self.target


def resolve(base: str, written: str) -> str | None:
    """The repository path ``written`` names relative to the folder ``base``; None when it
    is empty, a URL, or leaves the repository."""
    if not written or _SCHEME.match(written) or written.startswith(("#", "//")):
        return None
    joined = posixpath.normpath(posixpath.join(base, written)) if base else (
        posixpath.normpath(written))
    if joined in (".", "") or joined.startswith("../") or joined == "..":
        return None
    return joined


def make(source: str, line: int, start: int, raw: str, kind: str, *, base: str,
         srcdir: str = "", doc: bool = False, url: bool = False) -> Reference | None:
    """A reference for the path ``raw`` written at byte ``start`` (anchor and query already
    cut off), or None when it does not name a repository file."""
    written = unquote(raw) if url else raw
    absolute = written.startswith("/")
    if absolute and not doc and kind not in ("include", "literalinclude", "image", "figure"):
        return None  # a site-absolute URL: not a repository path we can tell
    folder = srcdir if absolute else base
    target = resolve(folder, written.lstrip("/") if absolute else written)
    if target is None:
        return None
    return Reference(source, line, start, start + len(raw.encode("utf-8", "surrogateescape")),
                     raw, target, kind, folder, doc, absolute, url and raw != written)


def split_anchor(raw: str) -> str:
    """``a.md#x`` -> ``a.md``; ``a.md?q`` -> ``a.md``."""
    for sep in ("#", "?"):
        raw = raw.split(sep, 1)[0]
    return raw


def scan(path: str, data: bytes, srcdir: str = "") -> list[Reference]:
    """Every intra-repository reference in the file ``path`` with content ``data``.
    ``srcdir``: the Sphinx source folder the file belongs to (for ``/absolute`` names)."""
    name = path.rsplit("/", 1)[-1]
    if name in MKDOCS_NAMES:
        from regauto.automation.ref_nav import scan_nav

        return scan_nav(path, data)
    if name.lower().endswith(MARKDOWN_SUFFIXES):
        from regauto.automation.ref_markdown import scan_markdown

        return scan_markdown(path, data, srcdir)
    if name.lower().endswith(RST_SUFFIXES):
        from regauto.automation.ref_rst import scan_rst

        return scan_rst(path, data, srcdir)
    return []


def can_refer(path: str) -> bool:
    """Whether :func:`scan` looks into ``path`` at all (the others never hold references)."""
    name = path.rsplit("/", 1)[-1]
    return name in MKDOCS_NAMES or name.lower().endswith(MARKDOWN_SUFFIXES + RST_SUFFIXES)


def new_written(ref: Reference, new_path: str) -> str:
    """How ``ref`` writes ``new_path``, in its own style (relative or absolute, docname or
    file name, percent-encoded or not)."""
    target = posixpath.splitext(new_path)[0] if ref.doc else new_path
    rel = posixpath.relpath(target, ref.base or ".")
    if ref.absolute:
        rel = "/" + rel
    elif ref.written.startswith("./") and not rel.startswith("../"):
        rel = "./" + rel
    if ref.encoded or (ref.kind in ("link", "image", "definition") and " " in rel):
        rel = quote(rel, safe="/#:@!$&'*+,;=~")
    return rel


def target_of(ref: Reference, moved: Mapping[str, str]) -> str | None:
    """The new path of ``ref``'s target when ``moved`` (old -> new) moves it."""
    if not ref.doc:
        return moved.get(ref.target)
    for old, new in moved.items():
        if ref.names(old):
            return new
    return None


def rewrite(data: bytes, refs: list[Reference], moved: Mapping[str, str]
            ) -> tuple[bytes, list[tuple[Reference, str]]]:
    """``data`` with every reference in ``refs`` whose target ``moved`` re-pointed, and the
    list of (reference, new text).  Only the path bytes change; spans are applied from the
    end so the earlier offsets stay valid."""
    done: list[tuple[Reference, str]] = []
    out = data
    for ref in sorted(refs, key=lambda r: r.start, reverse=True):
        new_path = target_of(ref, moved)
        if new_path is None:
            continue
        text = new_written(ref, new_path)
        if text == ref.written:
            continue
        out = out[: ref.start] + text.encode("utf-8", "surrogateescape") + out[ref.end:]
        done.append((ref, text))
    done.reverse()
    return out, done


def line_starts(data: bytes) -> list[int]:
    """The byte offset where each line starts (index 0 = line 1)."""
    starts = [0]
    for m in re.finditer(rb"\n", data):
        starts.append(m.end())
    return starts


def decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def byte_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))
