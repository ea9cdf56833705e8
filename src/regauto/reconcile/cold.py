"""Proving a repository clean without a plan: a check with no caches (a fresh clone, CI).

A full plan of 100k documents holds a dict per record and a ``Doc`` per file and judges
each pair in Python.  When nothing has drifted — the common case, and the one a fresh
clone in CI is nearly always in — the plan comes out empty, and what it checked reduces to
comparisons that need none of that:

- git status names no included file (the work tree is the index);
- ``meta.json`` is canonical and every shard is healthy (``registry.shard_decoder``:
  valid records, canonical lines, sorted, each in its shard);
- every record, written as an index line ``"<mode> <blob> 0\\t<path>"`` (its mode from
  its tags), is a line of ``git ls-files -s``, and every other index line is a gitlink or
  not included: one record per document, with the document's blob and mode;
- every doc_id is held once, every record is included and judged up to date
  (``judge.up_to_date``, as the plan judges it), and the id a file claims — a name prefix,
  else a header, read exactly when the plan reads one — is none or its record's.

``prove`` checks exactly that, streaming shard by shard (one shard's records in memory at
a time), with a forked worker (``fanout``) doing every other shard.  It answers only
"clean" or "cannot tell": on any doubt the caller makes the full plan, which reports
what is wrong.  So the report is the plan's in every case.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from regauto import git
from regauto.automation import file_renamer, headers
from regauto.automation.tree import MODE_LINK
from regauto.config import Config
from regauto.errors import RegistryFormatError
from regauto.events.lock_manager import LockManager
from regauto.project import Project
from regauto.reconcile import fanout
from regauto.reconcile.judge import mode_of_tags, up_to_date
from regauto.reconcile.tree_state import HEAD_BYTES, MODE_GITLINK, TreeState, inclusion, read_head
from regauto.registry import journal, shard_decoder
from regauto.registry.store import RegistryStore, hash_of_manifest

# Registries this large are worth a second process (which takes a moment to start).
FANOUT_BYTES = 4 << 20
# The caller also runs git status and ls-files and compares the listing: the worker takes
# a little more than half of the shards so that both finish together.
WORKER_SHARE = 0.58
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


@dataclass
class Clean:
    """A proof: the registry (its hash and manifest, read under the registry lock) and
    the index lines its records describe (what ``registry_view.fast_map`` keeps)."""

    registry_hash: str
    manifest: dict[str, str]
    entries: list[str]


def prove(project: Project, tree: TreeState) -> Clean | None:
    """``Clean`` when a full plan would find nothing to do; None when only it can tell.
    ``tree`` is prepared here if it was not (git status runs while the worker starts on
    its shards)."""
    if not project.is_git:
        return None
    store = RegistryStore(project.registry_dir, project.state_dir)
    locks = LockManager(project.state_dir, timeout=project.config.lock_timeout_s)
    with locks.registry(timeout=project.config.lock_timeout_s):
        if journal.needs_recovery(store):
            return None  # an interrupted write: the full path finishes it first
        try:
            if store.read_meta_problem() is not None:
                return None
        except RegistryFormatError:
            return None
        manifest = store.manifest()
        found = _records(project, store, tree)
    if found is None:
        return None
    entries, ids = found
    if len(set(ids)) != len(ids):
        return None  # a duplicate_id
    return Clean(hash_of_manifest(manifest), manifest, entries)


def _records(project: Project, store: RegistryStore,
             tree: TreeState) -> tuple[list[str], list[str]] | None:
    """The entries and doc_ids of every record, if the tree is the index, every shard is
    healthy, every record judged clean and the index holds exactly the records' files.
    A worker does every other shard, starting before git status runs."""
    root, reg, config = str(project.root), str(store.dir), project.config
    names = store.shard_names()
    size = sum(_size(store, n) for n in names)
    with fanout.Helper(_job, lambda theirs: (root, reg, config, list(theirs)), names,
                       worth_it=size >= FANOUT_BYTES, interleave=True,
                       share=WORKER_SHARE) as helper:
        if not tree.key:
            tree.prepare()
        if tree.changed:
            return None
        index = set(git.index_lines(project.root))
        mine = _judge_shards(root, reg, config, helper.mine)
        if mine is None:
            return None
        theirs: tuple[list[str], list[str]] | None = ([], [])
        if helper.theirs:
            answer = helper.answer()
            theirs = (marshal.loads(answer) if answer is not None
                      else _judge_shards(root, reg, config, helper.theirs))
    if theirs is None:
        return None
    entries, ids = mine[0] + theirs[0], mine[1] + theirs[1]
    return (entries, ids) if _same_as_index(index, tree, entries) else None


def _size(store: RegistryStore, name: str) -> int:
    try:
        return (store.dir / name).stat().st_size
    except OSError:
        return 0


def _job(root: str, reg: str, config: Config, names: list[str]) -> bytes:
    return marshal.dumps(_judge_shards(root, reg, config, names))


def _judge_shards(root: str, reg: str, config: Config,
                  names: Sequence[str]) -> tuple[list[str], list[str]] | None:
    """``(entries, doc_ids)`` of the records of shards ``names``; None at the first
    shard that is not healthy or record that is not clean."""
    entries: list[str] = []
    ids: list[str] = []
    with _Judge(root, config) as judge:
        for name in names:
            try:
                with open(os.path.join(reg, name), "rb") as f:
                    data = f.read()
            except OSError:
                return None
            recs = shard_decoder.healthy(name, data)
            if recs is None:
                return None
            for rec in recs:
                entry = judge.entry(rec)
                if entry is None:
                    return None
                entries.append(entry)
                ids.append(rec.doc_id)
    return entries, ids


class _Judge:
    """Judges records of one repository; ``with``: holds its root open, so that header
    reads resolve their paths from there."""

    def __init__(self, root: str, config: Config) -> None:
        self.root = root
        self.config = config
        self.included = inclusion(config)
        self.dir_fd: int | None = None

    def __enter__(self) -> _Judge:
        if os.open in os.supports_dir_fd and _O_NOFOLLOW:
            with contextlib.suppress(OSError):
                self.dir_fd = os.open(self.root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.dir_fd is not None:
            os.close(self.dir_fd)
            self.dir_fd = None

    def entry(self, rec: shard_decoder.Rec) -> str | None:
        """The index line a clean record's file has; None when the record is not clean
        (assuming the file has that line: ``_same_as_index`` checks it)."""
        path, doc_id, kind, id_mode = rec.path, rec.doc_id, rec.kind, rec.id_mode
        if not self.included(path):
            return None  # an excluded record
        tags = tuple(rec.tags)
        mode = mode_of_tags(tags)
        prefix = file_renamer.claimed_prefix_id(path)
        header = None
        if mode != MODE_LINK and (prefix is None or id_mode == "header"):
            style = headers.comment_style(kind)
            if style is not None:
                header = self.header_claim(path, kind, style,
                                           doc_id if id_mode == "header" else None)
        if (prefix or header) not in (None, doc_id):
            return None
        if not up_to_date(self.config, path, doc_id, id_mode, kind, tags, rec.role, rec.size,
                          mode, header):
            return None
        return f"{mode} {rec.blob} 0\t{path}"

    def header_claim(self, path: str, kind: str, style: tuple[str, str],
                     doc_id: str | None) -> str | None:
        """The id the file's header claims, as ``Claims.header`` reads it.  Two common
        cases are settled by one read of its head: it starts with exactly the header
        regauto writes for ``doc_id``, or the whole file is in that head and never spells
        "doc_id".  Anything else is read again the exact way (``read_head``,
        ``read_header_id``)."""
        if self.dir_fd is not None:
            try:
                fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK, dir_fd=self.dir_fd)
            except OSError:
                fd = -1
            if fd >= 0:
                try:
                    data = os.read(fd, HEAD_BYTES)
                    if doc_id is not None and data.startswith(
                            f"{style[0]}doc_id: {doc_id}{style[1]}\n".encode()):
                        return doc_id  # a regular file: git status saw it unchanged
                    st = os.fstat(fd)
                    if (stat.S_ISREG(st.st_mode) and len(data) == st.st_size < HEAD_BYTES
                            and b"doc_id" not in data):
                        return None
                except OSError:
                    pass
                finally:
                    os.close(fd)
        data, _ = read_head(self.root, path, 0)
        return headers.read_header_id(kind, data)


def _same_as_index(index: set[str], tree: TreeState, entries: list[str]) -> bool:
    """Is every entry a line of the index, and every other index line a gitlink or a
    path the configuration leaves out?"""
    mine = set(entries)
    if len(mine) != len(entries) or not mine <= index:
        return False
    for line in index - mine:
        head, _, path = line.partition("\t")
        if not head.startswith(MODE_GITLINK) and tree.included(path):
            return False
    return True
