"""Classifier: ``kind`` and ``tags`` from ``identify``, ``role`` from path conventions (SPEC §6).

``tags`` are what ``identify.identify.tags_from_path`` reports, with one deliberate difference:
"executable" comes from the mode bits (any ``x`` bit) instead of ``os.access``.  ``os.access``
answers for the *current user* (root sees every file with an ``x`` bit as executable, another
user only their own bits), and the registry must be the same on every machine (SPEC §3).

``kind`` is one tag picked by a fixed rule, so the same tags always give the same kind:

1. the language/format tags are the tags minus the generic ones (file, text, binary, ...);
2. the first of them in ``PREFERRED`` wins (``python`` over ``python3``, ``json`` over
   ``jupyter``, ``c`` over ``c++`` for a ``.h`` header);
3. otherwise the alphabetically first that is not a mere qualifier (``header``, ``image``, ...);
4. with none left: ``symlink``, ``binary`` or ``text``.

``role`` follows path conventions; config rules override it later (the pipeline's job).
Symlinks are never followed: a symlink is classified by its own name, tags ``("symlink",)``.
"""

from __future__ import annotations

import functools
import io
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from identify import identify

from regauto.errors import BadInputError

ROLES = ("source", "test", "doc", "config", "script", "data", "other")

# Tags that say what sort of file system object or encoding it is, not what it contains.
GENERIC_TAGS = frozenset(
    {"file", "text", "binary", "executable", "non-executable", "symlink", "directory", "socket",
     "plain-text"}
)
# Tags that refine another tag of the same file; only used when nothing better is there.
QUALIFIER_TAGS = frozenset(
    {"python2", "python3", "header", "image", "audio", "pyproject", "cargo", "jupyter",
     "bash", "sh", "zsh", "ksh", "dash", "ash", "json5", "xml"}
)
# The main formats in a fixed order: decides between several language tags on one file.
PREFERRED = (
    "python", "pyi", "cython", "markdown", "mdx", "rst", "asciidoc", "json", "yaml", "toml",
    "ini", "shell", "javascript", "jsx", "ts", "tsx", "c", "c++", "c#", "objective-c",
    "go", "rust", "java", "kotlin", "scala", "swift", "ruby", "perl", "php", "lua", "sql",
    "html", "css", "svg", "tex", "dockerfile", "makefile", "csv", "tsv",
)

_TEST_DIRS = frozenset({"tests", "test"})
_DOC_DIRS = frozenset({"docs", "doc"})
_DATA_DIRS = frozenset({"data"})
_SCRIPT_DIRS = frozenset({"scripts", "bin"})
_DOC_KINDS = frozenset({"markdown", "mdx", "rst", "asciidoc", "tex", "myst", "quarto"})
_DOC_NAMES = ("readme", "license", "changelog", "contributing", "authors", "notice", "copying")
_CONFIG_TAGS = frozenset(
    {"toml", "yaml", "ini", "json", "json5", "dotenv", "editorconfig", "java-properties",
     "gitignore", "gitattributes", "gitmodules", "dockerignore", "npmignore", "prettierignore",
     "babelrc", "flake8", "pylintrc", "coveragerc", "pypirc", "isort", "yamllint"}
)
_DATA_TAGS = frozenset({"csv", "tsv", "geojson", "kml", "gpx", "wkt"})
_DATA_EXTENSIONS = frozenset(
    {".parquet", ".feather", ".arrow", ".avro", ".orc", ".jsonl", ".ndjson", ".npy", ".npz",
     ".h5", ".hdf5", ".sqlite", ".sqlite3", ".db", ".pkl", ".pickle", ".xls", ".xlsx", ".dat"}
)
_SHELL_TAGS = frozenset({"shell", "fish", "powershell", "batch", "nushell", "tcsh", "csh"})
# Text kinds that are not program source even though identify gives them a format tag.
_NON_SOURCE_KINDS = frozenset({"text", "binary", "symlink", "xml", "svg", "diff", "pem", "bib",
                               "pofile", "plist", "icalendar"})
_NOT_CODE = _NON_SOURCE_KINDS | _DOC_KINDS | _CONFIG_TAGS | _DATA_TAGS

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class Classification(NamedTuple):
    kind: str
    tags: tuple[str, ...]
    role: str


def classify(abs_path: Path, rel_path: str) -> Classification:
    """Classify the file at ``abs_path`` (never following a symlink) known as ``rel_path``.

    Raises ``FileNotFoundError`` if it vanished, ``BadInputError`` for a directory, FIFO,
    socket or device (SPEC §11: non-regular files are skipped, and opening a FIFO would hang).
    """
    st = os.lstat(abs_path)
    if stat.S_ISLNK(st.st_mode):
        return classify_content(rel_path, b"", symlink=True)
    if not stat.S_ISREG(st.st_mode):
        raise BadInputError(f"{rel_path}: not a regular file or symlink; skipped")

    @functools.cache
    def read_head() -> bytes:
        # No-follow and non-blocking: the entry may have been swapped for a symlink or a FIFO
        # since the lstat.  1 KiB is all identify looks at (shebang, binary check).
        fd = os.open(abs_path, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            return f.read(1024)

    return _classification(rel_path, read_head, executable=bool(st.st_mode & 0o111))


def classify_content(
    rel_path: str, data: bytes, *, executable: bool = False, symlink: bool = False
) -> Classification:
    """Classify content that is not (or not only) on disk, e.g. a staged blob from the index.

    ``data`` needs only the first KiB; ``executable``/``symlink`` come from the git mode
    (``100755`` / ``120000``).
    """
    return _classification(rel_path, lambda: data, executable=executable, symlink=symlink)


def _classification(
    rel_path: str, read_head: Callable[[], bytes], *, executable: bool, symlink: bool = False
) -> Classification:
    name = rel_path.rsplit("/", 1)[-1]
    tags = (identify.SYMLINK,) if symlink else _tags(name, read_head, executable=executable)
    kind = kind_from_tags(tags)
    return Classification(kind=kind, tags=tags, role=role_for(rel_path, kind, tags))


def _tags(name: str, read_head: Callable[[], bytes], *, executable: bool) -> tuple[str, ...]:
    # Mirrors identify.tags_from_path, minus its file system access.  As there, the content
    # is read only when the name gives no tags or no text/binary tag; for most files it does.
    tags = {identify.FILE, identify.EXECUTABLE if executable else identify.NON_EXECUTABLE}
    by_name = identify.tags_from_filename(name)
    if by_name:
        tags |= by_name
    elif executable:
        shebang = identify.parse_shebang(io.BytesIO(read_head()))
        if shebang:
            tags |= identify.tags_from_interpreter(shebang[0])
    if not tags & identify.ENCODING_TAGS:
        tags.add(identify.TEXT if identify.is_text(io.BytesIO(read_head())) else identify.BINARY)
    elif identify.TEXT in tags and b"\0" in read_head()[:1024]:
        # Named like text but is not (a NUL byte, git's own test): tagged binary, so it is
        # never edited as text (no header written into it).  The first KiB, as identify
        # looks at.
        tags = (tags - {identify.TEXT}) | {identify.BINARY}
    return tuple(sorted(tags))


def kind_from_tags(tags: tuple[str, ...] | frozenset[str] | set[str]) -> str:
    """The main file type among ``tags`` (see the module docstring for the rule)."""
    specific = set(tags) - GENERIC_TAGS
    for tag in PREFERRED:
        if tag in specific:
            return tag
    main = sorted(specific - QUALIFIER_TAGS) or sorted(specific)
    if main:
        return main[0]
    for fallback in (identify.SYMLINK, identify.BINARY, identify.TEXT):
        if fallback in tags:
            return fallback
    return "other"


def role_for(rel_path: str, kind: str, tags: tuple[str, ...]) -> str:
    """The role by path conventions; the first matching rule wins, in the order below."""
    cut = rel_path.rfind("/")
    lower = rel_path[cut + 1:].lower()
    ext = os.path.splitext(lower)[1]
    in_tests, in_docs, in_data, in_scripts = _folder_roles(rel_path[:cut]) if cut >= 0 else (
        False, False, False, False)
    tagset = set(tags)
    text = identify.TEXT in tagset
    code = text and kind not in _NOT_CODE

    if in_tests or _is_test_name(lower):
        return "test"
    if lower.startswith("requirements") and ext in (".txt", ".in"):
        return "config"  # a plain-text file, but a dependency list, not prose
    if (
        in_docs
        or kind in _DOC_KINDS
        or "plain-text" in tagset
        or lower.split(".", 1)[0] in _DOC_NAMES
    ):
        return "doc"
    if tagset & _DATA_TAGS or ext in _DATA_EXTENSIONS:
        return "data"
    # A package named "data" (src/pkg/data/__init__.py) stays source; files in it are data.
    if in_data and not code:
        return "data"
    if tagset & _CONFIG_TAGS or ext in (".cfg", ".conf"):
        return "config"
    if text and (identify.EXECUTABLE in tagset or in_scripts or tagset & _SHELL_TAGS):
        return "script"
    if code:
        return "source"
    return "other"


@functools.lru_cache(maxsize=4096)
def _folder_roles(parent: str) -> tuple[bool, bool, bool, bool]:
    """Whether a path under ``parent`` lies in a tests, docs, data or scripts folder: asked
    once per folder, not once per file (a check classifies every one of 100k files)."""
    dirs = set(parent.split("/"))
    return (bool(dirs & _TEST_DIRS), bool(dirs & _DOC_DIRS), bool(dirs & _DATA_DIRS),
            bool(dirs & _SCRIPT_DIRS))


def _is_test_name(lower: str) -> bool:
    if lower == "conftest.py":
        return True
    if lower.endswith(".py") and (lower.startswith("test_") or lower.endswith("_test.py")):
        return True
    if lower.endswith("_test.go"):
        return True
    # JavaScript/TypeScript conventions: foo.test.ts, foo.spec.js
    parts = lower.split(".")
    return len(parts) >= 3 and parts[-2] in ("test", "spec")
