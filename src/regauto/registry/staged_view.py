"""The staged registry as one run of the commit hook sees it (SPEC §3, "Two registries"):
the files read from the index (by path, as needed, with the blob each was read at), the
compare-and-swap on those blobs, what this run staged, and which work-tree copies differ.
The reader and writer over it are ``index_registry``; the git plumbing is ``staged``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable

from regauto import git
from regauto.errors import CASConflict, PatchError, RegistryFormatError
from regauto.project import Project
from regauto.registry import staged
from regauto.registry.records import META_NAME, Record, dumps, shard_of
from regauto.registry.shard_lines import ShardLines, path_bytes


class StagedRegistry:
    """The staged registry files and their texts, shared by the reader and the writer of
    one run.  ``differing``: which registry files' work-tree copy differs from the index
    (default ``git diff`` of the folder; the caller may know better, e.g. under the
    pre-commit framework, which has checked the index out).  ``unstaged``: which of some
    paths differ between the work tree and the index (default ``git diff``).

    Files are read by their index paths, as needed; the blob each was read at is kept
    (``seen``), and the writer's compare-and-swap checks exactly those (:meth:`verify`).
    The pipeline's token (:meth:`token`) only names this view's generation: it moves on
    each write and each conflict."""

    def __init__(self, project: Project,
                 differing: Callable[[], Iterable[str]] | None = None,
                 unstaged: Callable[[list[str]], Iterable[str]] | None = None) -> None:
        self.root = project.root
        self.folder = project.config.registry
        self.state_dir = project.state_dir
        self._differing_fn = differing
        self._differing: set[str] | None = None
        self._unstaged = unstaged
        self.seen: dict[str, str | None] = {}  # name -> staged blob read (None: absent)
        self._texts: dict[str, str] = {}  # blob -> text
        self._complete = False  # ``seen`` holds every staged registry file
        index = os.environ.get("GIT_INDEX_FILE")
        self._index_file = (os.path.join(self.root, index) if index
                            else os.path.join(project.git_dir or self.root, "index"))
        self._index_stat: tuple[int, ...] | None = None  # the index file before any read
        self.generation = 0
        # name -> (text before, text after) of every file this run staged
        self.changed: dict[str, tuple[str | None, str | None]] = {}
        self.kept: set[str] = set()  # written to the index only: the work tree's differs
        # The records this run changed, and the paths each one's change involves.
        self.final: dict[str, Record | None] = {}
        self.involved: dict[str, set[str]] = {}

    def token(self) -> str:
        return "sha256:" + hashlib.sha256(f"staged {self.generation}".encode()).hexdigest()

    def names(self) -> list[str]:
        """Every staged registry file (one listing of the folder, for a full read)."""
        if not self._complete:
            listed = staged.listing(self.root, self.folder)
            for n in list(self.seen):
                if n not in listed:
                    self.seen[n] = None
            for n, blob in listed.items():
                if self.seen.get(n) != blob:
                    self.seen.pop(n, None)  # read again below, at the listed blob
            self.texts(list(listed))
            self._complete = True
        return sorted(n for n, b in self.seen.items() if b is not None)

    def texts(self, names: Iterable[str]) -> dict[str, str | None]:
        """The staged text of each of ``names`` (None: not staged).  The first read also
        reads ``meta.json`` (the writer checks it) in the same process."""
        names = list(names)
        want = [n for n in dict.fromkeys(names) if n not in self.seen]
        if want:
            if self._index_stat is None:
                self._index_stat = self._stat_index()
            if META_NAME not in self.seen and META_NAME not in want:
                want.append(META_NAME)
            for n, got in staged.read(self.root, self.folder, want).items():
                self.seen[n] = None if got is None else got[0]
                if got is not None:
                    self._texts[got[0]] = got[1]
        return {n: (None if self.seen[n] is None else self._texts[self.seen[n] or ""])
                for n in names}

    def _stat_index(self) -> tuple[int, ...]:
        try:
            st = os.stat(self._index_file)
        except OSError:
            return ()
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def verify(self) -> None:
        """Compare-and-swap: every file this attempt read is still staged as it was read;
        else :class:`CASConflict`, and the next attempt reads afresh.  git replaces the
        index file whenever it changes it (a new file renamed over the old one), so an index
        file whose inode, size and times are those it had before the first read holds the
        same entries, and needs no look."""
        if self._index_stat and self._stat_index() == self._index_stat:
            return
        now = staged.blobs(self.root, self.folder, list(self.seen))
        moved = [n for n, b in self.seen.items() if now.get(n) != b]
        if moved:
            before = self.token()
            self.seen.clear()
            self._complete = False
            self._index_stat = None
            self.generation += 1
            raise CASConflict(before, self.token())
        self._index_stat = self._stat_index()

    def differing(self) -> set[str]:
        """Registry files whose work-tree copy is not the staged one (read whole when an
        id is looked for: the work tree's id index does not describe them)."""
        if self._differing is None:
            prefix = self.folder.rstrip("/") + "/"
            found = (self._differing_fn() if self._differing_fn is not None
                     else git.unstaged_paths(self.root, [self.folder]))
            self._differing = {p[len(prefix):] if p.startswith(prefix) else p for p in found}
        return self._differing | self.kept

    def unstaged(self, paths: list[str]) -> set[str]:
        """Which of ``paths`` differ between the work tree and the index (the user's
        unstaged edits; under the pre-commit framework, those in its stash)."""
        if not paths:
            return set()
        return set(self._unstaged(paths) if self._unstaged is not None
                   else git.unstaged_paths(self.root, paths))

    def follow(self, name: str, text: str | None) -> str | None:
        """The work tree's own version ``text`` of shard ``name`` with this run's record
        changes that hold for the work tree too: those whose documents the work tree has
        as staged.  A change that does not fit (the work tree holds that path under another
        id) leaves the text as it is."""
        docs = [d for d, paths in self.involved.items() if name in {shard_of(p) for p in paths}]
        if not docs:
            return text
        paths = sorted({p for d in docs for p in self.involved[d]})
        differ = self.unstaged(paths)
        final = {d: self.final[d] for d in docs if not (self.involved[d] & differ)}
        if not final:
            return text
        try:
            return rebuild_shard(ShardLines(name, text or "", f"{self.folder}/{name}"), final)
        except (PatchError, RegistryFormatError):
            return text

    def stage(self, writes: dict[str, str | None], from_worktree: set[str]) -> None:
        """Stage ``writes``: those in ``from_worktree`` as the work tree now holds them
        (one ``git update-index``, which hashes them itself), the others as blobs."""
        before = self.texts(list(writes))
        base = self.folder.rstrip("/")
        mine = sorted(n for n in writes if n in from_worktree)
        if mine:
            git.stage_managed(self.root, [f"{base}/{n}" for n in mine])
        rest = {n: t for n, t in writes.items() if n not in from_worktree}
        if rest:
            staged.write(self.root, self.folder, rest, self.state_dir)
        for n, text in writes.items():
            blob = None if text is None else git.blob_id(text.encode("utf-8"))
            self.seen[n] = blob
            if blob is not None and text is not None:
                self._texts[blob] = text
            first = self.changed.get(n, (before[n], None))[0]
            self.changed[n] = (first, text)
        self.generation += 1
        self._index_stat = None  # our own write: a later check looks at the entries

    def display(self, name: str) -> str:
        return f"{self.folder}/{name} (staged)"


def rebuild_shard(sh: ShardLines, final: dict[str, Record | None]) -> str | None:
    """The shard's new text: the lines of ``final``'s ids out, its records for this shard
    in, sorted bytewise by path; untouched lines keep their exact text."""
    entries: list[tuple[bytes, str]] = []
    seen: dict[bytes, str | None] = {}
    for i, (path, doc) in enumerate(sh.keys):
        if doc in final:
            continue
        pb = path_bytes(path) if path is not None else b""
        entries.append((pb, sh.lines[i]))
        if path is not None:
            seen[pb] = doc
    for doc, rec in final.items():
        if rec is None or shard_of(rec["path"]) != sh.name:
            continue
        pb = path_bytes(rec["path"])
        if pb in seen:
            raise PatchError(f"path {rec['path']!r} would be held by two records "
                             f"({seen[pb]}, {doc})")
        seen[pb] = doc
        entries.append((pb, dumps(rec)))
    entries.sort(key=lambda e: e[0])
    return "".join(line + "\n" for _, line in entries) or None
