"""Where document content comes from: the working tree, or git's index (staged content).

The pre-commit hook must register exactly what will be committed, so it reads the index
(``GIT_INDEX_FILE`` included); ``sync``, ``fix`` and the watcher read the working tree.
Both give the same :class:`FileContent`: bytes, and the git-style mode (regular,
executable, symlink), so a record depends only on what git stores — two clones produce
byte-identical registries.
"""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

from regauto import git, pathguard
from regauto.config import Config

MODE_FILE = "100644"
MODE_EXEC = "100755"
MODE_LINK = "120000"


@dataclass(frozen=True)
class FileContent:
    """A file's bytes as one content source holds them (the index, a commit, a read of
    the work tree), with its git mode."""

    path: str
    data: bytes
    mode: str

    @functools.cached_property
    def blob(self) -> str:
        return git.blob_id(self.data)

    @property
    def executable(self) -> bool:
        return self.mode == MODE_EXEC

    @property
    def symlink(self) -> bool:
        return self.mode == MODE_LINK

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def head(self) -> bytes:
        """The first KiB: all the classifier looks at."""
        return self.data[:1024]

    def renamed(self, path: str) -> FileContent:
        return FileContent(path, self.data, self.mode)


class DiskFile(NamedTuple):
    """A regular work-tree file known by its hash and size, its bytes left on disk.

    A batch of 100k files then holds hashes, not a gigabyte of content: the pipeline's
    workers read the files themselves (``disk_jobs``).  ``data`` reads the file again, as
    it is now (the rare callers accept that it may have changed since it was hashed).
    """

    root: Path
    path: str
    mode: str
    size: int
    blob: str

    @property
    def executable(self) -> bool:
        return self.mode == MODE_EXEC

    @property
    def symlink(self) -> bool:
        return False

    @property
    def data(self) -> bytes:
        if not pathguard.PathGuard(self.root).reachable(self.path):
            return b""
        try:
            return read_regular(self.root / self.path)[0]
        except (FileNotFoundError, Skipped):
            return b""

    @property
    def head(self) -> bytes:
        return self.data[:1024]

    def renamed(self, path: str) -> DiskFile:
        return DiskFile(self.root, path, self.mode, self.size, self.blob)


Content = FileContent | DiskFile


class Skipped(Exception):
    """The path exists but is not a document (FIFO, socket, device, directory)."""


def read_regular(full: Path) -> tuple[bytes, int]:
    """Content and ``st_mode`` of a regular file.  Never follows a symlink and never blocks
    on a FIFO, even one swapped in after the caller's ``lstat``: raises ``Skipped`` for
    anything but a regular file, ``FileNotFoundError`` when it is gone."""
    try:
        return pathguard.read_regular(full)
    except pathguard.NotRegular as e:
        raise Skipped(f"not a regular file ({e.strerror or e})") from None


class Source(Protocol):
    name: str

    def read_many(self, paths: list[str]) -> dict[str, FileContent | None]:
        """Content per path; None for a path that does not exist here.  Raises nothing
        for odd files: those are left out of the result and reported by ``skipped``."""
        ...

    def exists(self, path: str) -> bool: ...

    skipped: dict[str, str]


class WorkTree:
    name = "worktree"

    def __init__(self, root: Path, guard: pathguard.PathGuard | None = None) -> None:
        self.root = root
        self.guard = guard or pathguard.PathGuard(root)
        self.skipped: dict[str, str] = {}

    def read(self, path: str) -> FileContent | None:
        """The document at ``path``; None when absent, or not reachable without following
        a symlinked folder (git lists the symlink itself, never a path below it)."""
        if not self.guard.reachable(path):
            return None
        full = self.root / path
        if not pathguard.O_NOFOLLOW and os.path.islink(full):  # no O_NOFOLLOW (Windows)
            return FileContent(path, os.fsencode(os.readlink(full)), MODE_LINK)
        try:
            data, st_mode = pathguard.read_regular(full)  # one open, no lstat before it
        except FileNotFoundError:
            return None
        except pathguard.NotRegular as e:
            if e.errno not in (errno.ELOOP, errno.EMLINK):
                raise Skipped("not a regular file") from None
            try:  # a symlink, recorded as git records it: the link text is the content
                return FileContent(path, os.fsencode(os.readlink(full)), MODE_LINK)
            except FileNotFoundError:
                return None
            except OSError:  # replaced by a regular file since: read it next time
                raise Skipped("changed while it was read") from None
        return FileContent(path, data, MODE_EXEC if st_mode & 0o111 else MODE_FILE)

    def read_many(self, paths: list[str]) -> dict[str, FileContent | None]:
        return dict(self.iter_read(paths))

    def iter_read(self, paths: list[str]) -> Iterator[tuple[str, FileContent | None]]:
        """``read`` one path after another (so a caller can keep less than all the bytes);
        odd files are left out and recorded in ``skipped``."""
        for p in paths:
            try:
                yield p, self.read_document(p)
            except Skipped as e:
                self.skipped[p] = str(e)

    def read_document(self, path: str) -> FileContent | None:
        """``read``, with every reason not to read a path as a document as ``Skipped``."""
        try:
            return self.read(path)
        except PermissionError:
            raise Skipped("permission denied") from None
        except IsADirectoryError:
            raise Skipped("a directory") from None

    def exists(self, path: str) -> bool:
        return self.guard.reachable(path) and os.path.lexists(self.root / path)


class Index:
    """Staged content (``git ls-files -s`` + ``git cat-file --batch``).

    Only the entries asked for are listed: the pre-commit hook touches a handful of paths
    in an index that may hold 100k.
    """

    name = "index"

    def __init__(self, root: Path, known: dict[str, git.IndexEntry | None] | None = None) -> None:
        """``known``: entries the caller already has (the hook's staged diff tells them),
        so that the index is not listed again for them."""
        self.root = root
        self.skipped: dict[str, str] = {}
        self._entries: dict[str, git.IndexEntry | None] = dict(known or {})
        # The paths the caller's staged diff names (True: in the index), None without one.
        self.staged: dict[str, bool] | None = (
            None if known is None else {p: e is not None for p, e in known.items()})

    def _lookup(self, paths: list[str]) -> None:
        missing = [p for p in paths if p not in self._entries]
        if missing:
            found = git.ls_files_stage(self.root, missing)
            for p in missing:
                self._entries[p] = found.get(p)

    def read_many(self, paths: list[str]) -> dict[str, FileContent | None]:
        self._lookup(paths)
        wanted = {p: self._entries[p] for p in paths}
        blobs = git.cat_blobs(
            self.root,
            [e.blob for e in wanted.values() if e is not None and e.mode != "160000"],
        )
        out: dict[str, FileContent | None] = {}
        for p, e in wanted.items():
            if e is None:
                out[p] = None
            elif e.mode == "160000":
                self.skipped[p] = "a submodule"
            else:
                mode = e.mode if e.mode in (MODE_EXEC, MODE_LINK) else MODE_FILE
                out[p] = FileContent(p, blobs[e.blob], mode)
        return out

    def exists(self, path: str) -> bool:
        self._lookup([path])
        return self._entries[path] is not None


def list_documents(root: Path, config: Config, is_git: bool) -> list[str]:
    """Every included document path in the working tree (git: tracked + untracked, not
    ignored; elsewhere: a walk that skips dot-git and the state dir)."""
    if is_git:
        paths = set(git.ls_files_stage(root)) | set(git.ls_files_untracked(root))
        candidates = sorted(p for p in paths if os.path.lexists(root / p))
    else:
        candidates = []
        for dirpath, dirnames, filenames in os.walk(root):
            rel_dir = os.path.relpath(dirpath, root)
            dirnames[:] = sorted(d for d in dirnames if d != ".git")
            for f in filenames:
                rel = f if rel_dir == "." else f"{rel_dir}/{f}".replace(os.sep, "/")
                candidates.append(rel)
            for d in list(dirnames):  # symlinks to directories are documents, not followed
                full = os.path.join(dirpath, d)
                if os.path.islink(full):
                    dirnames.remove(d)
                    candidates.append(d if rel_dir == "." else f"{rel_dir}/{d}")
        candidates.sort()
    return [p for p in candidates if config.is_included(p)]
