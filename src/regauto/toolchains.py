"""The documentation toolchains a repository uses, read from their configuration (issue 13).

Sphinx (``conf.py``: ``root_doc``/``master_doc``, ``extensions``, ``source_suffix``), MyST (a
Sphinx project with ``myst_parser``/``myst_nb``) and MkDocs (``mkdocs.yml``: ``docs_dir``,
``nav``).  Nothing is executed: ``conf.py`` is parsed with :mod:`ast` (only literal
module-level assignments count) and ``mkdocs.yml`` is read for the two keys we need by a
small line parser (PyYAML is not a runtime dependency, and its full loader would build
arbitrary ``!!python`` objects).

:func:`named_files` lists what prefix mode must never rename besides SPEC's list: each
toolchain's root document and every file its configuration names, ``pyproject.toml``'s
``readme`` and ``MANIFEST.in``'s explicit entries — renaming any of them breaks a build.
It looks only at a few fixed places, so it is cheap enough to run on every command.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from regauto import tomlcache

SPHINX_CONF_DIRS = ("", "docs", "doc", "docs/source", "doc/source", "documentation")
MKDOCS_NAMES = ("mkdocs.yml", "mkdocs.yaml")
MYST_EXTENSIONS = ("myst_parser", "myst_nb")


@dataclass(frozen=True)
class Toolchain:
    """One documentation build: what it is, where its sources live, what it names."""

    kind: str  # "sphinx" or "mkdocs"
    config: str  # repo path of conf.py / mkdocs.yml
    source_dir: str  # repo path of the folder it builds ("" for the root)
    suffixes: tuple[str, ...]  # the document suffixes it reads
    root_doc: str | None  # repo path of the root document, when it exists
    named: tuple[str, ...]  # every repo path its configuration names (root_doc included)
    myst: bool = False  # Sphinx reads Markdown through MyST

    @property
    def label(self) -> str:
        return "Sphinx + MyST" if self.myst else ("Sphinx" if self.kind == "sphinx" else "MkDocs")


def join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


# -- Sphinx ------------------------------------------------------------------------------------
def conf_literals(source: str) -> dict[str, object]:
    """The module-level ``NAME = <literal>`` assignments of a ``conf.py``, never run."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    found: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name):
            try:
                found[target.id] = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
    return found


def _suffixes(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple, dict)):
        return tuple(s for s in value if isinstance(s, str))
    return (".rst",)


def sphinx(root: Path, conf_dir: str) -> Toolchain | None:
    conf = join(conf_dir, "conf.py")
    text = _read(root / conf)
    if text is None:
        return None
    lit = conf_literals(text)
    exts = lit.get("extensions")
    myst = isinstance(exts, (list, tuple)) and any(e in MYST_EXTENSIONS for e in exts)
    suffixes = _suffixes(lit.get("source_suffix", ".rst"))
    if myst and ".md" not in suffixes:
        suffixes = (*suffixes, ".md")
    doc = lit.get("root_doc", lit.get("master_doc", "index"))
    root_doc = None
    if isinstance(doc, str):
        for suffix in suffixes:
            if (root / join(conf_dir, doc + suffix)).is_file():
                root_doc = join(conf_dir, doc + suffix)
                break
    named = (root_doc,) if root_doc else ()
    return Toolchain("sphinx", conf, conf_dir, suffixes, root_doc, named, myst)


# -- MkDocs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NavEntry:
    line: int  # 1-based line in mkdocs.yml
    start: int  # byte offset of the path in the file
    end: int
    path: str  # as written, relative to docs_dir


_TOP_KEY = re.compile(rb"^([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*(?:#.*)?$")
_NAV_ITEM = re.compile(rb"^\s*-\s+(?:(?:\"[^\"]*\"|'[^']*'|[^:#]*?)\s*:\s+)?(\S[^#]*?)\s*(?:#.*)?$")


def _unquote(raw: bytes, start: int) -> tuple[bytes, int]:
    if len(raw) >= 2 and raw[:1] in (b"'", b'"') and raw[-1:] == raw[:1]:
        return raw[1:-1], start + 1
    return raw, start


def mkdocs_nav(data: bytes) -> tuple[str, list[NavEntry]]:
    """``(docs_dir, nav entries)`` of an ``mkdocs.yml``: the top-level ``docs_dir`` scalar
    and every path-like leaf of the top-level ``nav`` block (external URLs left out)."""
    docs_dir = "docs"
    entries: list[NavEntry] = []
    in_nav = False
    offset = 0
    for number, line in enumerate(data.splitlines(keepends=True), 1):
        body = line.rstrip(b"\r\n")
        top = _TOP_KEY.match(body) if body[:1] not in (b" ", b"\t", b"-") else None
        if top is not None:
            in_nav = top.group(1) == b"nav"
            if top.group(1) == b"docs_dir" and top.group(2):
                value, _ = _unquote(top.group(2), 0)
                docs_dir = value.decode("utf-8", "replace").strip("/") or "docs"
        elif in_nav and body.strip():
            m = _NAV_ITEM.match(body)
            if m is not None:
                value, start = _unquote(m.group(1), m.start(1))
                text = value.decode("utf-8", "replace")
                if text and "://" not in text and not text.endswith(":") and "." in text:
                    entries.append(NavEntry(number, offset + start,
                                            offset + start + len(value), text))
        offset += len(line)
    return docs_dir, entries


def mkdocs(root: Path) -> Toolchain | None:
    for name in MKDOCS_NAMES:
        try:
            data = (root / name).read_bytes()
        except OSError:
            continue
        docs_dir, nav = mkdocs_nav(data)
        named = [join(docs_dir, e.path) for e in nav]
        root_doc = None
        for index in ("index.md", "README.md"):
            if (root / join(docs_dir, index)).is_file():
                root_doc = join(docs_dir, index)
                named.append(root_doc)
                break
        return Toolchain("mkdocs", name, docs_dir, (".md", ".markdown"), root_doc,
                         tuple(dict.fromkeys(named)))
    return None


# -- packaging ---------------------------------------------------------------------------------
def packaging_named(root: Path, cache_dir: Path | None = None) -> list[str]:
    """``pyproject.toml``'s readme (PEP 621 and Poetry) and ``MANIFEST.in``'s literal
    ``include`` entries; ``cache_dir``: see ``tomlcache``."""
    named: list[str] = []
    try:
        data = tomlcache.load(root / "pyproject.toml", cache_dir)
    except OSError:  # first: naming the decode error imports tomllib
        data = {}
    except (UnicodeDecodeError, tomlcache.decode_error()):
        data = {}
    for table in (data.get("project"), (data.get("tool") or {}).get("poetry")):
        readme = table.get("readme") if isinstance(table, dict) else None
        if isinstance(readme, dict):
            readme = readme.get("file")
        if isinstance(readme, str):
            named.append(readme)
        elif isinstance(readme, list):
            named.extend(r for r in readme if isinstance(r, str))
    for line in (_read(root / "MANIFEST.in") or "").splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] == "include":
            named.extend(w for w in words[1:] if not any(c in w for c in "*?["))
    return named


def detect(root: Path) -> list[Toolchain]:
    """The toolchains configured at the usual places under ``root``."""
    found: list[Toolchain] = []
    for conf_dir in SPHINX_CONF_DIRS:
        tc = sphinx(root, conf_dir)
        if tc is not None:
            found.append(tc)
    tc = mkdocs(root)
    if tc is not None:
        found.append(tc)
    return found


def named_files(root: Path, cache_dir: Path | None = None) -> tuple[str, ...]:
    """Every repo path a toolchain or packaging configuration names: never renamed
    (``cache_dir``: see ``tomlcache``)."""
    named: list[str] = []
    for tc in detect(root):
        named.extend(tc.named)
    named.extend(packaging_named(root, cache_dir))
    return tuple(dict.fromkeys(p.strip("/") for p in named if p and not p.startswith("/")))
