"""The path guard: which repository paths regauto may read or write, and how.

A path is used only when it is normalised, has no ``.git`` component (at any depth), is not
inside a reserved folder (the state dir, the registry folder) and every folder on the way is
a real directory: a symlinked folder (``src_vendor -> /elsewhere``) is a symlink entry, as
git records it, and nothing below it is a document.  The last component is opened with
``O_NOFOLLOW``, so a symlink is never read or written through either.

Folders are ``lstat``ed once per guard (one guard per run): a batch of 100k files in 2k
folders costs 2k ``lstat`` calls, not one per file and component.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from regauto.errors import BadInputError

NAME_MAX = 255  # bytes in one file name on the common Linux and macOS file systems
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_ABSENT = " does not exist"  # how a missing folder's reason ends (see ``problem``)


class NotRegular(OSError):
    """The path is a symlink, folder, FIFO, socket or device, not a regular file."""


def lexical_problem(rel: str) -> str | None:
    """Why ``rel`` is not a usable repository path by its spelling alone, or None."""
    if (rel and "/." not in rel and "//" not in rel and "\0" not in rel
            and rel[0] not in "/." and rel[-1] != "/" and not os.path.isabs(rel)):
        return None  # no component starts with a dot: the common case, checked fast
    if not rel or "\0" in rel:
        return "empty path or NUL in path"
    if rel.startswith("/") or os.path.isabs(rel):
        return f"{rel!r} is absolute; paths must be relative to the repository"
    parts = rel.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return f"{rel!r} is not normalised or leaves the repository"
    if ".git" in parts:
        return f"{rel!r} is inside .git"
    return None


class PathGuard:
    """The checks for paths below ``root``; ``reserved``: repository-relative folders
    regauto keeps for itself (never a document, never written as one)."""

    def __init__(self, root: Path, reserved: Iterable[str] = ()) -> None:
        self.root = root
        self._root = os.fspath(root)
        self.reserved = tuple(r.strip("/") + "/" for r in reserved if r.strip("/"))
        self._folders: dict[str, str] = {"": ""}  # folder -> why it is unusable ("": it is not)

    def folder_problem(self, rel_dir: str) -> str:
        """Why ``rel_dir`` is not an existing real folder of the repository ("": it is)."""
        why = self._folders.get(rel_dir)
        if why is None:
            head = rel_dir.rpartition("/")[0]
            why = self.folder_problem(head)
            if not why:
                try:
                    mode = os.lstat(os.path.join(self._root, rel_dir)).st_mode
                except OSError:
                    mode = 0
                if stat.S_ISLNK(mode):
                    why = (f"{rel_dir!r} is a symlinked folder; regauto never follows one "
                           "(it may lead outside the repository)")
                elif not stat.S_ISDIR(mode):
                    why = f"the folder {rel_dir!r}{_ABSENT}"
            self._folders[rel_dir] = why
        return why

    def problem(self, rel: str, *, creating: bool = False) -> str | None:
        """Why regauto must not use ``rel`` (None: it may; the path need not exist).
        ``creating``: folders on the way may be absent too (the caller creates them)."""
        why = lexical_problem(rel)
        if why is not None:
            return why
        if (rel + "/").startswith(self.reserved):
            return f"{rel!r} is inside a folder regauto keeps for itself"
        why = self.folder_problem(rel.rpartition("/")[0])
        if not why or (creating and why.endswith(_ABSENT)):
            return None
        return why

    def reachable(self, rel: str) -> bool:
        return self.problem(rel) is None


def read_regular(full: str | os.PathLike[str]) -> tuple[bytes, int]:
    """Content and ``st_mode`` of a regular file, never following a symlink in the last
    component and never blocking on a FIFO.  ``FileNotFoundError`` when it is absent,
    ``NotRegular`` for anything else."""
    try:
        fd = os.open(full, os.O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(errno.ENOENT, "no such file", os.fspath(full)) from None
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR, errno.EMLINK):
            # ELOOP (EMLINK on FreeBSD): a symlink; ENXIO: a FIFO or socket; EISDIR.
            raise NotRegular(e.errno, _what(e.errno), os.fspath(full)) from None
        raise
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise NotRegular(errno.EINVAL, _kind(st.st_mode), os.fspath(full))
        return f.read(), st.st_mode


def _what(err: int) -> str:
    return {errno.ELOOP: "a symlink", errno.EMLINK: "a symlink",
            errno.EISDIR: "a folder"}.get(err, "not a regular file")


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISLNK(mode):
        return "a symlink"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def regular_or_absent(path: Path, what: str) -> os.stat_result | None:
    """``lstat`` of a file regauto owns (a shard, ``meta.json``): None when absent;
    ``BadInputError`` naming it when it is anything but a regular file."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not stat.S_ISREG(st.st_mode):
        raise BadInputError(f"{path}: {what} is {_kind(st.st_mode)}; it must be a regular file "
                            "inside the repository")
    return st


def read_owned(path: Path, what: str) -> bytes | None:
    """The bytes of a file regauto owns (a shard, ``meta.json``): None when absent;
    ``BadInputError`` naming it when it is a symlink, a folder or another odd file."""
    try:
        return read_regular(path)[0]
    except FileNotFoundError:
        return None
    except NotRegular as e:
        raise BadInputError(f"{path}: {what} is {e.strerror}; it must be a regular file "
                            "inside the repository") from None


def check_folder(root: Path, rel: str, what: str) -> None:
    """Every existing component of ``root/rel`` must be a real folder: a symlink or a file
    there is a ``BadInputError`` naming it (an absent tail is fine: it is created later)."""
    cur = root
    for part in rel.strip("/").split("/"):
        cur = cur / part
        try:
            mode = os.lstat(cur).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return
        if not stat.S_ISDIR(mode):
            raise BadInputError(f"{cur}: {what} is {_kind(mode)}; it must be a folder "
                                "inside the repository")
