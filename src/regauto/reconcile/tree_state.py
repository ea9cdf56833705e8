"""The tree side of a check: every included document and its blob, reading as little as
possible (SPEC §8.2).

In git, the blobs come from the index (``git ls-files -s``) and ``git status`` (run with
``GIT_OPTIONAL_LOCKS=0``: a read-only command must not refresh the index) names the only
files whose content may differ from it — modified in the work tree, untracked, unmerged.
Only those are read and hashed.  Outside git a walk ``lstat``s every file and a stat cache
in the state dir (size, mtime, ctime, inode, mode → blob) stands in for the index; a file
modified within the last two seconds is not cached (its mtime may not change on the next
write: git's "racy" case).

The scan happens in two steps so that a repeated clean check can stop early: ``prepare``
runs ``git status`` and hashes the changed files, which with the index checksum gives a
``key`` for the whole tree state; ``complete`` lists the index.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from regauto import git, stages
from regauto.automation.tree import MODE_EXEC, MODE_FILE, MODE_LINK, FileContent, Skipped, WorkTree
from regauto.config import Config
from regauto.globmatch import compile_glob
from regauto.project import Project
from regauto.reconcile.cache import Cache

MODE_GITLINK = "160000"
RACY_NS = 2_000_000_000
HEAD_BYTES = 8192  # a header is within the first lines (Markdown: its front matter)
KEEP_BYTES = 256 * 1024  # changed files this small keep their bytes for the plan
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_UNMERGED = frozenset({"DD", "AU", "UD", "UA", "DU", "AA", "UU"})


@dataclass
class Doc:
    path: str
    blob: str
    mode: str  # git's mode: 100644, 100755 or 120000
    content: FileContent | None = None  # set when this scan read the file


def inclusion(config: Config) -> Callable[[str], bool]:
    """``config.is_included`` as one compiled regex per side: the same answer, at a cost a
    100k-path listing can afford."""
    excl = [*config.builtin_excludes(), *config.exclude]
    ex = re.compile("|".join(f"(?:{compile_glob(p).pattern})" for p in excl), re.DOTALL)
    if all(p in ("**", "**/*") for p in config.include):
        return lambda p: ex.match(p) is None
    inc = re.compile("|".join(f"(?:{compile_glob(p).pattern})" for p in config.include),
                     re.DOTALL)
    return lambda p: ex.match(p) is None and inc.match(p) is not None


@dataclass
class TreeState:
    project: Project
    included: Callable[[str], bool]
    docs: dict[str, Doc] = field(default_factory=dict)
    renames: dict[str, str] = field(default_factory=dict)  # new path -> old path (git)
    skipped: dict[str, str] = field(default_factory=dict)
    key: str = ""
    started_ns: int = field(default_factory=time.time_ns)
    adopted: bool = False  # a recorded file outside the listing (git-ignored) was found
    _read: dict[str, Doc] = field(default_factory=dict)
    _blobs: dict[str, tuple[str, str]] | None = None
    _deleted: set[str] = field(default_factory=set)
    _worktree: WorkTree | None = None

    @property
    def changed(self) -> bool:
        """Did ``prepare`` find an included file that differs from the index (modified,
        deleted, untracked, unmerged)?"""
        return bool(self._read or self._deleted)

    @property
    def worktree(self) -> WorkTree:
        if self._worktree is None:
            self._worktree = WorkTree(self.project.root)
        return self._worktree

    # -- reading single files ----------------------------------------------------------------
    def read_doc(self, path: str) -> Doc | None:
        """Read ``path`` from the work tree as a document (None: absent or not a document)."""
        try:
            c = self.worktree.read(path)
        except Skipped as e:
            self.skipped[path] = str(e)
            return None
        except PermissionError:
            self.skipped[path] = "permission denied"
            return None
        except (IsADirectoryError, NotADirectoryError):
            self.skipped[path] = "a directory"
            return None
        if c is None:
            return None
        return Doc(path, c.blob, c.mode, c if len(c.data) <= KEEP_BYTES else None)

    def head(self, path: str, *, whole: bool = False) -> tuple[bytes, bool]:
        """The first ``HEAD_BYTES`` of a listed document (all of it with ``whole``, or
        when the head ends inside what a header search reads) and whether those bytes are
        verified to be the listed blob's: read by this scan, or unchanged since before
        ``git status`` or the walk looked at it (neither modified nor changed in status
        since ``RACY_NS`` before the scan started: a write during the read would show)."""
        doc = self.docs.get(path)
        if doc is None:
            return b"", False
        if doc.content is not None:
            return doc.content.data, True
        return read_head(str(self.project.root), path, self.started_ns, whole=whole)

    def adopt(self, path: str) -> Doc | None:
        """A path the listing did not show (recorded, but ignored by git): a document if
        it exists — the pipeline would read it."""
        if path in self.docs:
            return self.docs[path]
        if not os.path.lexists(self.project.root / path):
            return None
        doc = self.read_doc(path)
        if doc is not None:
            self.docs[path] = doc
            self.adopted = True
        return doc

    # -- scanning ----------------------------------------------------------------------------
    @stages.timed("list the tree (git index)")
    def prepare(self) -> str:
        """First step: the changed files (git) and the tree ``key``."""
        if not self.project.is_git:
            self._walk()
            return self.key
        h = hashlib.sha256(_index_checksum(self.project).encode())
        for e in sorted(git.status(self.project.root), key=lambda e: e.path):
            y = e.xy[1]
            if e.old_path is not None:
                self.renames[e.path] = e.old_path
            if not self.included(e.path):
                continue
            if y == "D":
                self._deleted.add(e.path)
                state = "-"
            elif e.xy == "??" or y != " " or e.xy in _UNMERGED:
                doc = self.read_doc(e.path)
                if doc is None:
                    self._deleted.add(e.path)
                    state = "-"
                else:
                    self._read[e.path] = doc
                    state = f"{doc.mode} {doc.blob}"
            else:
                state = "index"
            h.update(f"\0{e.xy}\0{e.path}\0{e.old_path or ''}\0{state}".encode(
                "utf-8", "surrogateescape"))
        self.key = h.hexdigest()
        return self.key

    def blobs(self) -> dict[str, tuple[str, str]]:
        """``{path: (mode, blob)}`` of every file as the work tree has it (the index, with
        this scan's reads and deletions applied), before the inclusion filter."""
        if self._blobs is None:
            if not self.project.is_git:
                self._blobs = {p: (d.mode, d.blob) for p, d in self.docs.items()}
            else:
                merged, _unmerged = git.index_blobs(self.project.root)
                for p in self._deleted:
                    merged.pop(p, None)
                for p, d in self._read.items():
                    merged[p] = (d.mode, d.blob)
                self._blobs = merged
        return self._blobs

    def entries(self) -> set[str]:
        """Every file as ``"<mode> <blob> 0\t<path>"`` (the index's own lines, with this
        scan's reads and deletions applied), before the inclusion filter: a whole listing
        compared as a set costs next to nothing."""
        if not self.project.is_git:
            return {f"{d.mode} {d.blob} 0\t{p}" for p, d in self.docs.items()}
        out = set(git.index_lines(self.project.root))
        changed = sorted(self._deleted | set(self._read))
        if changed:
            out -= set(git.index_lines(self.project.root, changed))
            out |= {f"{d.mode} {d.blob} 0\t{p}" for p, d in self._read.items()}
        return out

    @stages.timed("read the tree")
    def complete(self) -> None:
        """Second step: every included document."""
        if not self.project.is_git:
            return
        included, read = self.included, self._read
        self.docs = {
            p: read.get(p) or Doc(p, blob, mode if mode in (MODE_EXEC, MODE_LINK) else MODE_FILE)
            for p, (mode, blob) in self.blobs().items()
            if mode != MODE_GITLINK and included(p)}

    def _walk(self) -> None:
        root = self.project.root
        cache = Cache(self.project.state_dir, "stat")
        old = cache.load()
        new: dict[str, tuple[int, int, int, int, int, str]] = {}
        now = time.time_ns()
        h = hashlib.sha256()
        for rel in _walk_paths(root):
            if not self.included(rel):
                continue
            try:
                st = os.lstat(root / rel)
            except OSError:
                continue
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                self.skipped[rel] = "not a regular file"
                continue
            sig = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode)
            hit = old.get(rel)
            if hit is not None and tuple(hit[:5]) == sig:
                doc = Doc(rel, hit[5], _mode_of(st.st_mode))
            else:
                read = self.read_doc(rel)
                if read is None:
                    continue
                doc = read
            self.docs[rel] = doc
            if now - max(st.st_mtime_ns, st.st_ctime_ns) > RACY_NS:
                new[rel] = (*sig, doc.blob)
            h.update(f"\0{rel}\0{doc.mode}\0{doc.blob}".encode("utf-8", "surrogateescape"))
        cache.replace(new)
        cache.save()
        self.key = h.hexdigest()


def read_head(root: str, path: str, started_ns: int, *,
              whole: bool = False) -> tuple[bytes, bool]:
    """``TreeState.head`` of a file not read by the scan (a module function: a ``fanout``
    worker reads half of a cold check's heads)."""
    # A cold check of a clean 100k-file repository reads ~75k heads: one open, read and
    # fstat each (no lstat before and after, no file object), since the fd's own ctime
    # after the read already tells whether the file changed while it was read.
    full = os.path.join(root, path)
    try:
        if not _O_NOFOLLOW and not stat.S_ISREG(os.lstat(full).st_mode):
            return b"", False  # no O_NOFOLLOW here (Windows): a symlink would be followed
        fd = os.open(full, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK)
    except OSError:
        return b"", False  # gone, or a symlink (O_NOFOLLOW): not the listed file
    try:
        data = _read_fd(fd, None if whole else HEAD_BYTES)
        after = os.fstat(fd)
    except OSError:
        return b"", False  # a directory now, or unreadable
    finally:
        os.close(fd)
    if not stat.S_ISREG(after.st_mode):
        return b"", False
    settled = max(after.st_mtime_ns, after.st_ctime_ns) < started_ns - RACY_NS
    if not whole and len(data) == HEAD_BYTES:
        body = data.removeprefix(b"\xef\xbb\xbf")
        if data.count(b"\n") < 16 or (body.startswith(b"---") and b"\n---" not in body[3:]):
            return read_head(root, path, started_ns, whole=True)  # the header window is cut
    return data, settled


def _read_fd(fd: int, limit: int | None) -> bytes:
    """Up to ``limit`` bytes (None: all) from ``fd``, however short the reads."""
    chunks: list[bytes] = []
    got = 0
    while limit is None or got < limit:
        chunk = os.read(fd, (limit - got) if limit is not None else 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _mode_of(st_mode: int) -> str:
    if stat.S_ISLNK(st_mode):
        return MODE_LINK
    return MODE_EXEC if st_mode & 0o111 else MODE_FILE


def _walk_paths(root: Path) -> list[str]:
    """Every file below ``root`` (symlinked folders listed, not entered; ``.git`` skipped)."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        pre = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for d in list(dirnames):
            if os.path.islink(os.path.join(dirpath, d)):
                dirnames.remove(d)
                out.append(pre + d)
        out.extend(pre + f for f in filenames)
    return sorted(out)


def _index_checksum(project: Project) -> str:
    """The index's own trailing SHA-1 (a checksum of every entry), or a hash of the file
    when the trailer is disabled (``index.skipHash``); "" without an index."""
    env = os.environ.get("GIT_INDEX_FILE")
    assert project.git_dir is not None
    path = Path(env) if env else project.git_dir / "index"
    if not path.is_absolute():
        path = project.root / path
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            if size < 20:
                return ""
            f.seek(size - 20)
            trailer = f.read(20)
            if trailer.strip(b"\0"):
                return trailer.hex()
            f.seek(0)
            return hashlib.sha256(f.read()).hexdigest()
    except FileNotFoundError:
        return ""
