"""The pipeline (SPEC §6): a batch of paths → classify → identity → carry the id → hash →
extract → records → **one** PromotionPatch → the single writer.

Identity (SPEC §4.3), in order: the id a file claims (prefix or header); the record at its
path; a record it moved from (git's rename detection, or a record in the batch whose file
is gone and whose blob equals this file's); a newly allocated id.  An id that several files
claim or the registry records at several paths (a copy; both branches of a merge) goes to
the one ``identity.keeper`` names — the rule ``fix`` follows too — and the others get new
ids.  A recorded holder outside the batch is judged by its existence and its name (its
header is not read: that file is not part of this sync).

Concurrency: the batch's paths are locked (bucketed path locks, taken in the global order
before the writer's registry lock); the registry is read, the patch computed and applied
with compare-and-swap; on a conflict everything registry-dependent is recomputed.  File
mutations (renames, headers) happen before the patch is applied, and a mutated file claims
its id itself, so a retry — or a crash between mutation and write — never loses an id.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regauto import docid, safe_replace, stages, worker_lifetime
from regauto.automation import (
    classifier,
    descriptor_extractor,
    disk_jobs,
    file_renamer,
    headers,
    identity,
)
from regauto.automation.id_allocator import IdAllocator
from regauto.automation.tree import (
    Content,
    DiskFile,
    FileContent,
    Index,
    Skipped,
    Source,
    WorkTree,
)
from regauto.errors import BadInputError
from regauto.events.lock_manager import LockManager
from regauto.events.suppression_manager import SuppressionManager
from regauto.project import Project, check_rel
from regauto.registry import PostWrite, open_writer
from regauto.registry.promotion_patch import PromotionPatch
from regauto.registry.reader import Reader, open_reader
from regauto.registry.records import Record
from regauto.registry.registry_writer_service import WriteResult
from regauto.registry.retry import apply_with_retry
from regauto.registry.store import line_key

PATH_LOCK_BUCKETS = 64
PARALLEL_MIN = 400


@dataclass(frozen=True)
class Action:
    """A change the pipeline made (or, when not mutating, would make) to a user's file."""

    kind: str  # "rename" | "header" | "reference" (a link in ``path`` re-pointed)
    path: str
    new_path: str
    doc_id: str
    done: bool
    detail: str = ""  # reference: "LINE: OLD -> NEW"

    def describe(self) -> str:
        if self.kind == "reference":
            return (f"rewrote the reference {self.path}:{self.detail}" if self.done
                    else f"{self.path}:{self.detail.split(' -> ')[0]} should become "
                    f"{self.detail.split(' -> ')[-1]}")
        if self.kind == "rename":
            return f"renamed {self.path} -> {self.new_path}" if self.done else (
                f"{self.path} should be renamed {self.new_path}")
        return (f"added header doc_id: {self.doc_id} to {self.path}" if self.done
                else f"{self.path} needs the header doc_id: {self.doc_id}")


@dataclass
class PipelineResult:
    write: WriteResult | None = None
    new_ids: dict[str, str] = field(default_factory=dict)  # path -> id allocated
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def changed_registry(self) -> bool:
        return self.write is not None and self.write.changed

    @property
    def must_retry(self) -> bool:
        """A file changed while regauto wrote it: it is not done, a later run is needed."""
        return any(safe_replace.CHANGED in why for why in self.skipped.values())


@dataclass
class _Item:
    path: str
    content: Content
    cls: classifier.Classification
    mode: str  # the id_mode the file ends up with
    role: str


def bucket(path: str) -> str:
    n = int(hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()[:8], 16)
    return f"bucket-{n % PATH_LOCK_BUCKETS:02d}"


class Pipeline:
    describe = True  # extract descriptors (a dry run that only compares records may not)
    follow_references = True  # re-point references to renamed files (not in a dry run)

    def __init__(
        self,
        project: Project,
        *,
        source: str | Source = "worktree",
        mutate: bool = True,
        reason: str = "sync",
        progress: Callable[[int, int], None] | None = None,
        post_write: Sequence[PostWrite] = (),
    ) -> None:
        """``post_write``: run after each registry write that changed something
        (``regauto.generators.post_write``: the generated outputs)."""
        self.project = project
        self.config = project.config
        self.mutate = mutate
        self.reason = reason
        self.progress = progress
        self.source: Source = (
            source if not isinstance(source, str)
            else Index(project.root) if source == "index" else WorkTree(project.root)
        )
        self.worktree = WorkTree(project.root)
        self.reader: Reader = open_reader(project)
        self.writer = open_writer(project, post_write)
        self.locks = LockManager(project.state_dir, timeout=self.config.lock_timeout_s)
        self._descriptors: dict[tuple[str, str], dict[str, Any]] = {}  # (kind, blob) ->
        self._classes: dict[tuple[str, str, str], classifier.Classification] = {}
        self._header_ids: dict[tuple[str, str], str | None] = {}  # (kind, blob) -> claim
        self._pending: dict[str, str] = {}  # path -> doc_id: header left to a disk job
        self._failed: dict[str, str] = {}  # path -> why its disk job failed
        self.contents: dict[str, Content | None] = {}
        self._allocator: IdAllocator | None = None
        self._suppress: SuppressionManager | None = None

    # -- entry point --------------------------------------------------------------------
    def run(self, paths: Iterable[str], renames: dict[str, str] | None = None) -> PipelineResult:
        """Process ``paths`` (repo-relative).  ``renames`` maps new path -> old path (from git)."""
        renames = dict(renames or {})
        result = PipelineResult()
        batch: dict[str, None] = {}  # an ordered set: membership tests stay O(1) at 100k
        for p in dict.fromkeys(paths):
            try:
                rel = check_rel(p)
            except BadInputError as e:
                result.skipped[p] = str(e)
                continue
            if self.config.is_included(rel):
                batch[rel] = None
        for new, old in list(renames.items()):
            if new not in batch:
                del renames[new]
            elif old not in batch and self.config.is_included(old):
                batch[old] = None
        if not batch:
            return result
        keys = sorted({bucket(p) for p in batch})
        with self.locks.paths(*keys):
            self.writer.ensure_recovered()
            contents = self._read(list(batch))
            result.skipped.update(self.source.skipped)
            skipped = self.source.skipped
            self.contents = {p: c for p, c in contents.items() if p not in skipped}
            self.renames = renames
            result.write = apply_with_retry(
                self.writer, lambda base: self._compute(base, result),
                attempts=self.config.cas_retries,
            )
        if self.follow_references and any(a.kind == "rename" and a.done
                                          for a in result.actions):
            from regauto.automation import ref_follow

            ref_follow.follow_renames(self, result)
        return result

    @stages.timed("read files")
    def _read(self, paths: list[str]) -> dict[str, Content | None]:
        """The batch's content.  From the work tree each file is read once (over all cores
        for a large batch), classified and its header claim noted while its bytes are at
        hand; then only its hash and size are kept (a :class:`DiskFile`): disk jobs read
        it again where it is needed."""
        if not isinstance(self.source, WorkTree):
            return {p: c for p, c in self.source.read_many(paths).items()}
        out: dict[str, Content | None] = {}
        for s in disk_jobs.scan_all(self.project.root, paths):
            if s.skipped:
                self.source.skipped[s.path] = s.skipped
            elif not s.mode:
                out[s.path] = None
            elif s.link is not None:
                out[s.path] = FileContent(s.path, s.link, s.mode)
            else:
                assert s.cls is not None
                self._classes[(s.path, s.mode, s.blob)] = s.cls
                if s.header_read:
                    self._header_ids[(s.cls.kind, s.blob)] = s.claim
                out[s.path] = DiskFile(self.project.root, s.path, s.mode, s.size, s.blob)
        return out

    # -- one attempt ----------------------------------------------------------------------
    @stages.timed("compute the patch")
    def _compute(self, base: str, result: PipelineResult) -> PromotionPatch | None:
        result.new_ids.clear()
        result.updated.clear()
        result.deleted.clear()
        self._pending.clear()
        self._failed.clear()
        present = {p: c for p, c in self.contents.items() if c is not None}
        gone = [p for p, c in self.contents.items() if c is None]
        h, by_path = self.reader.by_paths(list(self.contents))
        if h != base:
            return self._retry_marker(base)
        for rec in by_path.values():
            # A descriptor is a function of the kind and the content: a file whose blob is
            # the recorded one is not parsed again (a no-op sync of 100k files reads and
            # hashes, nothing more).
            kind, blob, desc = rec.get("kind"), rec.get("blob"), rec.get("descriptor")
            if isinstance(kind, str) and isinstance(blob, str) and isinstance(desc, dict):
                self._descriptors.setdefault((kind, blob), desc)
        items = {p: self._classify(c) for p, c in present.items()}
        claims = {p: self._claim(it) for p, it in items.items()}
        count = Counter(r.get("doc_id") for r in by_path.values())
        holders = self._holders(claims, by_path, count)
        keepers, shared = self._keepers(claims, by_path, holders, count)
        assigned: dict[str, str] = {}  # path -> doc_id
        used: set[str] = set()
        need_new: list[str] = []
        gone_records = {p: by_path[p] for p in gone if p in by_path}
        by_blob: dict[str, list[str]] = {}
        for p, rec in gone_records.items():
            by_blob.setdefault(rec["blob"], []).append(p)
        for p in sorted(items):
            doc = self._identity(p, items[p], claims[p], keepers, by_path, gone_records,
                                 by_blob, used)
            if doc is None:
                need_new.append(p)
            else:
                assigned[p] = doc
                used.add(doc)
        if need_new:
            ids = self._allocate(len(need_new))
            for p, i in zip(need_new, ids, strict=True):
                assigned[p] = i
                result.new_ids[p] = i
        changes: dict[str, Record | None] = {}
        final_items: list[tuple[str, _Item, str]] = []
        for p in sorted(items):
            it, doc = items[p], assigned[p]
            new_path, it = self._carry(it, doc, result)
            final_items.append((new_path, it, doc))
        records = self._records(final_items)
        if self._failed:
            result.skipped.update(self._failed)
            result.actions[:] = [a for a in result.actions if a.path not in self._failed]
            for p in self._failed:
                result.new_ids.pop(p, None)  # allocated, but not registered
        for rec in records:
            old = by_path.get(rec["path"])
            # An unchanged record stays out of the patch, unless other lines share its id:
            # the writer replaces every line of an id it is given, so the losers' go.
            if old is None or old != rec or rec["doc_id"] in shared:
                changes[rec["doc_id"]] = rec
                result.updated.append(rec["path"])
        for i, kept in shared.items():
            if i not in changes and kept is not None:  # kept by a file outside the batch
                changes[i] = kept
        # Records that lost their file, or whose path now belongs to another id.
        for p, rec in by_path.items():
            old_id = rec.get("doc_id")
            if (
                isinstance(old_id, str) and old_id not in used and old_id not in changes
                and (p in gone_records or assigned.get(p) != old_id)
            ):
                changes[old_id] = None
                result.deleted.append(p)
        if not changes:
            return None
        return PromotionPatch(base, self.reason, f"{self.reason}: {len(changes)} record(s)",
                              changes=changes)

    def _keepers(
        self, claims: dict[str, str | None], by_path: dict[str, Record],
        holders: dict[str, list[Record]], count: Counter[Any],
    ) -> tuple[dict[str, str | None], dict[str, Record | None]]:
        """Who keeps each contested id (``identity.keeper``): an id the registry records at
        several paths, or at a path other than a claimant's.  And, for each id recorded at
        several paths, its keeper's record when that file is outside the batch (written back
        alone, which drops the losers' lines), else None.  An id only batch files claim,
        recorded nowhere, goes to the first of them in path order, the order ``_compute``
        resolves them in: it needs no entry."""
        contested = set(holders)
        if len(count) < len(by_path):  # some id is recorded at two batch paths
            contested |= {i for i, n in count.items() if n > 1 and i is not None}
        if not contested:
            return {}, {}
        recorded: dict[str, dict[str, Record]] = {i: {} for i in contested}
        for rec in itertools.chain(by_path.values(), *holders.values()):
            i, p = rec.get("doc_id"), rec.get("path")
            if i in recorded and isinstance(p, str):
                recorded[i][p] = rec
        claimants: dict[str, list[str]] = {i: [] for i in contested}
        for p, c in claims.items():
            if c in claimants:
                claimants[c].append(p)
        held: dict[str, list[str]] = {}  # id -> its recorded paths whose file holds it
        for i in sorted(contested):
            if len(recorded[i].keys() | claimants[i]) > 1:  # else e.g. the claimant's own record
                held[i] = identity.holding(
                    recorded[i], functools.partial(self._holds, claims, doc_id=i))
        first = identity.first_holders(self.project,
                                       {i: h for i, h in held.items() if len(h) > 1})
        keepers: dict[str, str | None] = {}
        shared: dict[str, Record | None] = {}
        for i, h in held.items():
            at = recorded[i]
            keep = keepers[i] = identity.keeper(h, claimants[i], first.get(i))
            if len(at) > 1:
                shared[i] = at[keep] if keep in at and keep not in self.contents else None
        return keepers, shared

    def _holds(self, claims: dict[str, str | None], path: str, doc_id: str) -> bool:
        """Does the file the registry records at ``path`` still hold ``doc_id`` (exist and
        claim it or nothing)?"""
        if path in self.contents:
            return path in claims and claims[path] in (None, doc_id)
        return self.source.exists(path) and file_renamer.claimed_prefix_id(path) in (
            None, doc_id)

    def _holders(self, claims: dict[str, str | None], by_path: dict[str, Record],
                 count: Counter[Any]) -> dict[str, list[Record]]:
        """The registry's holders of the claimed ids, where the record at the claiming
        path does not settle it: an id recorded once, at the very path that claims it, has
        no other holder (and a sync of 100k files does not read the registry twice)."""
        wanted = sorted({
            c for p, c in claims.items() if c is not None
            and not ((by_path.get(p) or {}).get("doc_id") == c and count[c] == 1)
        })
        return self.reader.by_ids(wanted) if wanted else {}

    def _retry_marker(self, base: str) -> PromotionPatch:
        # The registry moved between the writer's hash and our read: a patch against the
        # stale base makes the writer raise CASConflict, and apply_with_retry starts over.
        return PromotionPatch(base, self.reason, "stale read", changes={})

    # -- the steps --------------------------------------------------------------------------
    def _classify(self, c: Content) -> _Item:
        key = (c.path, c.mode, c.blob)
        cls = self._classes.get(key)
        if cls is None:
            cls = classifier.classify_content(c.path, c.head, executable=c.executable,
                                              symlink=c.symlink)
            self._classes[key] = cls
        rule = self.config.rule_for(c.path)
        return _Item(c.path, c, cls, self._mode_for(c, cls, rule.id_mode, rule.rename),
                     rule.role or cls.role)

    def _mode_for(self, c: Content, cls: classifier.Classification, wanted: str | None,
                  rename: bool | None) -> str:
        mode = wanted or "registry"
        if c.symlink or cls.kind in ("binary", "symlink") or "binary" in cls.tags:
            return "registry"
        if mode == "prefix" and (
            rename is False or file_renamer.never_renamed(c.path, self.config.never_rename)
            or not file_renamer.prefix_fits(c.path)
        ):
            return "registry"
        if mode == "header" and (headers.comment_style(cls.kind) is None or
                                 c.size > self.config.max_file_bytes):
            return "registry"
        return mode

    def _claim(self, it: _Item) -> str | None:
        claimed = file_renamer.claimed_prefix_id(it.path)
        if claimed is None and not it.content.symlink and headers.comment_style(it.cls.kind):
            claimed = self._header_id(it)
        return claimed

    def _header_id(self, it: _Item) -> str | None:
        key = (it.cls.kind, it.content.blob)
        if key not in self._header_ids:
            self._header_ids[key] = headers.read_header_id(it.cls.kind, it.content.data)
        return self._header_ids[key]

    def _identity(
        self,
        path: str,
        it: _Item,
        claimed: str | None,
        keepers: dict[str, str | None],
        by_path: dict[str, Record],
        gone_records: dict[str, Record],
        by_blob: dict[str, list[str]],
        used: set[str],
    ) -> str | None:
        def free(doc: str) -> bool:  # not taken, and kept by nobody else
            return doc not in used and keepers.get(doc, path) in (None, path)

        if claimed is not None and free(claimed):
            return claimed
        rec = by_path.get(path)
        if rec is not None:
            rid = rec.get("doc_id")
            if isinstance(rid, str) and docid.is_valid(rid) and rid != claimed and free(rid):
                return rid
        old = self.renames.get(path)
        if old is not None and old in gone_records:
            doc = gone_records[old].get("doc_id")
            if isinstance(doc, str) and free(doc):
                return doc
        blob = it.content.blob
        for old_path in by_blob.get(blob, []):
            doc = gone_records[old_path].get("doc_id")
            if isinstance(doc, str) and free(doc):
                return doc
        return None

    def _allocate(self, n: int) -> list[str]:
        if self._allocator is None:
            self._allocator = IdAllocator(self.project.state_dir)
        return self._allocator.allocate(n, floor=self.reader.max_id())

    def _carry(self, it: _Item, doc: str, result: PipelineResult) -> tuple[str, _Item]:
        """Make the file carry ``doc`` (rename or header) when mutating; returns the path
        and content the record describes."""
        path = it.path
        if it.mode == "prefix" and file_renamer.claimed_prefix_id(path) != doc:
            target = file_renamer.prefixed_name(path, doc)
            if self.mutate:
                try:
                    self._rename(path, target)
                except file_renamer.RenameError as e:
                    result.skipped[path] = f"not renamed: {e}"
                    return path, it
                result.actions.append(Action("rename", path, target, doc, True))
                self._moved(path, target)
                return target, _Item(target, it.content.renamed(target), it.cls, it.mode,
                                     it.role)
            result.actions.append(Action("rename", path, target, doc, False))
        elif it.mode == "header" and self._header_id(it) != doc:
            if self.mutate:
                self._write_header(path, it.cls.kind, doc)
                result.actions.append(Action("header", path, path, doc, True))
                if path in self._pending:
                    return path, it  # the disk job writes it and describes the result
                new = headers.embed_header(it.cls.kind, it.content.data, doc)
                if new is not None:
                    content = FileContent(path, new, it.content.mode)
                    self.contents[path] = content
                    return path, _Item(path, content, it.cls, it.mode, it.role)
            else:
                result.actions.append(Action("header", path, path, doc, False))
        return path, it

    def _moved(self, old: str, new: str) -> None:
        content = self.contents.pop(old)
        assert content is not None
        self.contents[new] = content.renamed(new)

    def _rename(self, src: str, dst: str) -> None:
        if not self.worktree.exists(src):
            return  # staged name only (the hook): nothing in the work tree to rename
        file_renamer.rename(self.project.root, src, dst, on_rename=self._suppress_pair)

    def _write_header(self, path: str, kind: str, doc: str) -> None:
        if isinstance(self.contents.get(path), DiskFile):
            self._pending[path] = doc  # written by a disk job, next to its extraction
            return
        if not self.worktree.guard.reachable(path):
            return  # staged below what is now a symlinked folder: never written through
        try:
            disk_jobs.write_header(self.project.root / path, kind, doc,
                                   lambda: self._suppress_pair(path, path),
                                   disk_jobs.temp_dir(self.project.state_dir))
        except (FileNotFoundError, Skipped):
            return
        except safe_replace.ChangedError as e:  # not recorded now: the next run does it
            self._failed[path] = str(e)

    def _suppress_pair(self, src: str, dst: str) -> None:
        if self._suppress is None:
            self._suppress = SuppressionManager(self.project.state_dir)
        self._suppress.suppress_many({src, dst}, ttl_ms=self.config.watch.suppress_ms)

    def _records(self, items: list[tuple[str, _Item, str]]) -> list[Record]:
        fresh = self._disk_work(items)
        todo = {(it.cls.kind, it.content.blob): it.content.data for _, it, _ in items
                if isinstance(it.content, FileContent)
                and (it.cls.kind, it.content.blob) not in self._descriptors}
        self._extract_all(todo)
        out = []
        for path, it, doc in items:
            if path in self._failed:
                continue
            content = fresh.get(path, it.content)
            out.append({
                "path": path,
                "doc_id": doc,
                "id_mode": it.mode,
                "kind": it.cls.kind,
                "tags": sorted(it.cls.tags),
                "role": it.role,
                "blob": content.blob,
                "size": content.size,
                "descriptor": self._descriptors[(it.cls.kind, content.blob)],
            })
        return out

    def _disk_work(self, items: list[tuple[str, _Item, str]]) -> dict[str, DiskFile]:
        """Pending headers and descriptors of work-tree files, by disk jobs that read the
        files themselves; returns the content each file now has."""
        jobs = []
        for path, it, _ in items:
            c = it.content
            if not isinstance(c, DiskFile):
                continue
            key = (it.cls.kind, c.blob)
            if not self.describe:
                self._descriptors.setdefault(key, {})
            if path in self._pending or key not in self._descriptors:
                jobs.append(disk_jobs.Job(path, it.cls.kind, self._pending.get(path)))
        if not jobs:
            return {}
        ctx = disk_jobs.Context(self.project.root, self.project.state_dir,
                                self.config.max_file_bytes, self.config.watch.suppress_ms,
                                self.describe)
        kinds = {j.path: j.kind for j in jobs}
        fresh: dict[str, DiskFile] = {}
        for done in disk_jobs.run_all(ctx, jobs, self.progress):
            doc = self._pending.pop(done.path, None)
            if done.error:
                self._failed[done.path] = done.error
                continue
            old = self.contents[done.path]
            assert old is not None
            new = DiskFile(self.project.root, done.path, old.mode, done.size, done.blob)
            self.contents[done.path] = fresh[done.path] = new  # what a retry starts from
            key = (kinds[done.path], done.blob)
            self._descriptors[key] = done.descriptor if done.descriptor is not None else {}
            if doc is not None:
                self._header_ids[key] = doc
        return fresh

    @stages.timed("extract descriptors")
    def _extract_all(self, todo: dict[tuple[str, str], bytes]) -> None:
        limit = self.config.max_file_bytes
        keys = list(todo)
        args = [(k[0], todo[k], limit) for k in keys]
        if len(args) >= PARALLEL_MIN and (os.cpu_count() or 1) > 1:
            chunk = max(50, len(args) // ((os.cpu_count() or 2) * 4))
            # Imported here: it costs ~12 ms and small batches (the hook) never fork.
            from concurrent.futures import ProcessPoolExecutor
            with ProcessPoolExecutor(initializer=worker_lifetime.initializer()) as pool:
                for n, (key, desc) in enumerate(
                    zip(keys, pool.map(_extract_one, args, chunksize=chunk), strict=True)
                ):
                    self._descriptors[key] = desc
                    if self.progress and n % 200 == 0:
                        self.progress(n, len(keys))
        else:
            for n, (key, arg) in enumerate(zip(keys, args, strict=True)):
                self._descriptors[key] = _extract_one(arg)
                if self.progress and n % 200 == 0:
                    self.progress(n, len(keys))
        if self.progress:
            self.progress(len(keys), len(keys))


def _extract_one(arg: tuple[str, bytes, int]) -> dict[str, Any]:
    kind, data, limit = arg
    return descriptor_extractor.extract(kind, data, max_bytes=limit)


def sync(
    project: Project,
    paths: Iterable[str],
    *,
    mutate: bool = True,
    reason: str = "sync",
    progress: Callable[[int, int], None] | None = None,
    post_write: Sequence[PostWrite] = (),
) -> PipelineResult:
    return Pipeline(project, mutate=mutate, reason=reason, progress=progress,
                    post_write=post_write).run(paths)


def all_paths(project: Project) -> list[str]:
    """Every included document plus every path the registry records (to notice deletions)."""
    from regauto.automation.tree import list_documents

    docs = list_documents(project.root, project.config, project.is_git)
    return sorted(set(docs) | set(recorded_paths(project)))


def recorded_paths(project: Project) -> list[str]:
    """Every path the registry records, read from the lines' canonical prefixes (a full
    parse of 100k records would cost seconds and hundreds of MB for a list of names); a
    shard with a line of another shape is parsed whole, with its errors."""
    reader = open_reader(project)
    reader.current_hash()  # finishes or rolls back an interrupted write first
    store = reader.store
    out: list[str] = []
    for name in store.shard_names():
        keys = [line_key(ln) for ln in (store.read_text(name) or "").split("\n") if ln]
        if all(k is not None for k in keys):
            out.extend(k[0] for k in keys if k is not None)
        else:
            out.extend(r["path"] for r in store.read_shard(name).records
                       if isinstance(r.get("path"), str))
    return out


def _prefixed_away(full: Path) -> bool:
    """Did regauto rename this file to carry its id (``<id>_<name>`` beside it)?  Another
    regauto process (a concurrent sync, the commit hook) may have done so after the user
    named the file: the name was right, and the file is no typo."""
    try:
        names = os.listdir(full.parent)
    except OSError:
        return False
    # The inverse of file_renamer.prefixed_name: a valid id prefix, then the given name.
    return any(n[17:] == full.name and docid.claimed_by_name(n) is not None for n in names)


def rel_paths(project: Project, args: Iterable[str], *, strict: bool = False,
              unknown: list[str] | None = None) -> list[str]:
    """Command-line paths (relative to the cwd, or absolute) as checked repo paths.

    A folder stands for the documents under it *and* the records under it, so that
    ``sync docs`` notices a file deleted or moved out of ``docs/``; so does a folder that
    no longer exists.  ``.`` is the current directory, not the repository root.

    With ``strict`` (``regauto sync``), an included path that does not exist and that the
    registry records neither at nor under it — unless regauto itself renamed it to carry
    its id (``_prefixed_away``) — is *unknown*: a typo, or a deletion another process has
    registered already.  Every argument unknown: ``BadInputError`` naming them, before
    anything is processed (nothing to do but a mistake to report).  Some: they are added
    to ``unknown`` for the caller to name, and the others are processed.  An excluded path is not
    regauto's business, there or not: it is left out as the pipeline always leaves it."""
    out: list[str] = []
    docs: list[str] | None = None
    recorded: list[str] | None = None
    args = list(args)
    missing: list[str] = []
    for a in args:
        absolute = Path(os.path.normpath(Path.cwd() / a))
        rel = "" if absolute == project.root else project.rel(a)
        full = project.root / rel if rel else project.root
        prefix = rel + "/" if rel else ""
        try:
            is_dir = full.is_dir() and not full.is_symlink()
        except OSError as e:  # e.g. a name longer than the file system allows
            raise BadInputError(f"{a}: {e.strerror}") from None
        if not is_dir:
            out.append(rel)
            if os.path.lexists(full):
                continue
        if recorded is None:
            recorded = recorded_paths(project)
        under = [p for p in recorded if p.startswith(prefix)]
        out.extend(under)
        if is_dir:
            if docs is None:
                from regauto.automation.tree import list_documents

                docs = list_documents(project.root, project.config, project.is_git)
            out.extend(d for d in docs if d.startswith(prefix))
        elif (strict and not under and rel not in recorded
              and project.config.is_included(rel) and not _prefixed_away(full)):
            missing.append(a)
    if missing and len(missing) == len(args):
        raise BadInputError(f"{', '.join(missing)}: no such file, and no record in the registry")
    if unknown is not None:
        unknown.extend(missing)
    return out
