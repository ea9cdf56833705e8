"""File renamer: prefix mode names and a rename that never overwrites (SPEC §4.2, §6).

``rename`` moves one directory entry inside the repository.  It is atomic and refuses to
replace an existing destination *at the moment of the rename*, not just after a check: on
Linux it is ``renameat2(..., RENAME_NOREPLACE)``; where that is missing (old kernel or libc, a
file system without support) a regular file is hard-linked to the new name — ``link`` fails if
the name exists — and then unlinked from the old one, and a symlink is re-created with
``symlink``, which fails the same way.  A symlink is always moved as a link: its target is
never touched and never checked.  In the fallback a crash between the two steps leaves both
names (never neither), which the reconciler reports and ``fix`` resolves.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import stat
import sys
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from regauto import docid
from regauto.errors import BadInputError
from regauto.pathguard import NAME_MAX, PathGuard

NEVER_RENAME_PATTERNS: tuple[str, ...] = (
    "README*", "LICENSE*", "CHANGELOG*", "CONTRIBUTING*", "__init__.py", "__main__.py",
    "conftest.py", "setup.py", "pyproject.toml", ".*",
)
# The patterns as one regex (``fnmatchcase`` of any of them), and the words that also match
# as a whole stem in any case: asked of every prefix-mode file a check judges.
_NEVER_RENAME_RE = re.compile("|".join(f"(?:{fnmatch.translate(p)})"
                                       for p in NEVER_RENAME_PATTERNS))
_NEVER_RENAME_STEMS = frozenset(p[:-1].lower() for p in NEVER_RENAME_PATTERNS
                                if p.endswith("*"))
_RENAME_NOREPLACE = 1
_AT_FDCWD = -100
_PREFIX_BYTES = 17  # "<16 digits>_"


class RenameError(BadInputError):
    """A rename was refused or failed; the message names both paths."""


def never_renamed(rel_path: str, named: Collection[str] = ()) -> bool:
    """True for names prefix mode must leave alone, and for anything in a dot-directory;
    also for ``named``: the files the repository's toolchains name (``Config.never_rename``).

    The patterns match as written (``README*`` covers ``README_old.md``); in addition the
    words match in any case as a whole name or stem (``Readme.md``, ``license.txt``), but not
    inside a longer lower-case name (``readme_parser.py`` is an ordinary module).
    """
    parts = rel_path.split("/")
    if rel_path in named or any(part.startswith(".") for part in parts[:-1]):
        return True
    name = parts[-1]
    return (_NEVER_RENAME_RE.match(name) is not None
            or name.split(".", 1)[0].lower() in _NEVER_RENAME_STEMS)


def prefix_fits(rel_path: str) -> bool:
    """Does the prefixed name fit in one file name (``NAME_MAX`` bytes)?  A name that does
    not stays in registry mode: a rename that can never happen (``ENAMETOOLONG``) would be a
    drift no ``fix`` repairs."""
    name = rel_path.rpartition("/")[2]
    if docid.claimed_by_name(name) is not None:
        return True  # prefixed already: a new prefix keeps the length
    return len(name.encode("utf-8", "surrogateescape")) + _PREFIX_BYTES <= NAME_MAX


def claimed_prefix_id(rel_path: str) -> str | None:
    """The doc_id a file's name claims with a valid ``<16 digits>_`` prefix."""
    return docid.claimed_by_name(rel_path.rsplit("/", 1)[-1])


def prefixed_name(rel_path: str, doc_id: str) -> str:
    """``docs/a.md`` -> ``docs/<doc_id>_a.md``; a valid prefix already there is replaced."""
    if not docid.is_valid(doc_id):
        raise ValueError(f"not a valid doc_id: {doc_id!r}")
    head, sep, name = rel_path.rpartition("/")
    if docid.claimed_by_name(name) is not None:
        name = name[17:]  # drop "<16 digits>_"
    return f"{head}{sep}{doc_id}_{name}"


def rename(
    root: Path,
    src_rel: str,
    dst_rel: str,
    *,
    on_rename: Callable[[str, str], None] | None = None,
) -> None:
    """Rename ``src_rel`` to ``dst_rel`` under ``root``; never overwrite ``dst_rel``.

    ``on_rename(src_rel, dst_rel)`` runs after the rename succeeded (the pipeline records the
    event with the suppression manager there); an exception from it propagates, with the
    rename done.  Raises ``RenameError`` for an unsafe path, a missing source, a non-regular
    source, a missing destination folder or an existing destination.
    """
    what = f"cannot rename {src_rel!r} to {dst_rel!r}"
    # Neither name may pass through a symlinked folder (or leave the repository): the last
    # component is never resolved (it may be a symlink we move, as a link).
    guard = PathGuard(root)
    for rel in (src_rel, dst_rel):
        problem = guard.problem(rel)
        if problem:
            raise RenameError(f"{what}: {problem}")
    if src_rel == dst_rel:
        return
    src, dst = root / src_rel, root / dst_rel
    try:
        mode = os.lstat(src).st_mode
    except FileNotFoundError:
        raise RenameError(f"{what}: the source does not exist") from None
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise RenameError(f"{what}: the source is not a regular file or symlink")
    try:
        _rename_noreplace(src, dst, symlink=stat.S_ISLNK(mode))
    except FileExistsError:
        raise RenameError(f"{what}: the destination exists; nothing was changed") from None
    except OSError as e:
        raise RenameError(f"{what}: {e.strerror or e}") from None
    if on_rename is not None:
        on_rename(src_rel, dst_rel)


def _rename_noreplace(src: Path, dst: Path, *, symlink: bool) -> None:
    renameat2 = _get_renameat2()
    if renameat2 is not None:
        if renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst),
                      _RENAME_NOREPLACE) == 0:
            return
        import ctypes

        err = ctypes.get_errno()
        if err not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # not: unsupported here
            raise OSError(err, os.strerror(err), str(src), None, str(dst))
    if sys.platform == "win32":
        os.rename(src, dst)  # never replaces an existing file on Windows
        return
    if symlink:
        os.symlink(os.readlink(src), dst)  # EEXIST if dst exists: atomic "create if absent"
    else:
        os.link(src, dst, follow_symlinks=False)
    os.unlink(src)


_NOT_LOADED: Any = object()
_renameat2: Any = _NOT_LOADED  # libc's renameat2, None where absent; tests replace it


def _get_renameat2() -> Callable[..., int] | None:
    """Loaded on the first rename: ctypes costs ~2 ms to import and most hooks rename nothing."""
    global _renameat2
    if _renameat2 is _NOT_LOADED:
        _renameat2 = _load_renameat2()
    fn: Callable[..., int] | None = _renameat2
    return fn


def _load_renameat2() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        # The process's own symbols include libc's; no find_library (it runs ldconfig).
        fn = ctypes.CDLL(None, use_errno=True).renameat2  # glibc >= 2.28, musl >= 1.2.2
    except (OSError, AttributeError):
        return None
    fn.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    fn.restype = ctypes.c_int
    return fn

