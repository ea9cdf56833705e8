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

Seams: the pipeline acts through objects it is given — where content comes from
(``source``: the work tree, the index), what it may do to user files (``effects``:
``effects.py``), where new ids come from (``allocator``), and the registry it plans against
and writes to (``reader``, ``writer``).  ``check`` and the dry runs pass dry ones; nothing
subclasses the pipeline.  The steps live beside it: ``identity.py`` (who keeps an id),
``carry.py`` (renames and headers), ``recording.py`` (classification, id_mode, records).

The patch holds a record only where it differs from the one ``reader`` returned for its
path (or where other lines share its id): a reader that shows records without their
descriptors (the reconciler's plan) thereby has every batch record rewritten.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from regauto import safe_replace, stages
from regauto.automation import disk_jobs, identity
from regauto.automation.carry import Carrier
from regauto.automation.effects import Action, DiskEffects, Effects, ReportOnly
from regauto.automation.id_allocator import Allocator, Reserving
from regauto.automation.paths import all_paths, recorded_paths, rel_paths
from regauto.automation.recording import Item, Recorder
from regauto.automation.tree import Content, DiskFile, FileContent, Index, Source, WorkTree
from regauto.errors import BadInputError
from regauto.events.lock_manager import LockManager
from regauto.project import Project, check_rel
from regauto.registry import PostWrite, open_writer
from regauto.registry.promotion_patch import PromotionPatch
from regauto.registry.reader import Reader, open_reader
from regauto.registry.records import Record
from regauto.registry.registry_writer_service import RegistryWriterService, WriteResult
from regauto.registry.retry import apply_with_retry

__all__ = [
    "Action",
    "Pipeline",
    "PipelineResult",
    "all_paths",
    "recorded_paths",
    "rel_paths",
    "sync",
]

PATH_LOCK_BUCKETS = 64


class Amend(Protocol):
    """A caller's registry-level changes, laid under each attempt's patch (``fix``: its
    plan's)."""

    def check_base(self, base: str) -> None:
        """Raise to refuse an attempt against ``base`` (the registry's hash), before
        anything is computed or any file touched."""

    def amend(self, base: str, patch: PromotionPatch | None) -> PromotionPatch | None:
        """The patch to write instead of ``patch`` (None: nothing to write)."""


@dataclass
class PipelineResult:
    """What one pipeline run did: the registry write, the ids it allocated or kept, the
    records updated and deleted, the user-file actions and the paths it skipped (with why)."""

    write: WriteResult | None = None
    new_ids: dict[str, str] = field(default_factory=dict)  # path -> id allocated
    ids: dict[str, str] = field(default_factory=dict)  # path (before a rename) -> its id
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


def bucket(path: str) -> str:
    n = int(hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()[:8], 16)
    return f"bucket-{n % PATH_LOCK_BUCKETS:02d}"


class Pipeline:
    def __init__(
        self,
        project: Project,
        *,
        source: str | Source = "worktree",
        mutate: bool = True,
        reason: str = "sync",
        progress: Callable[[int, int], None] | None = None,
        post_write: Sequence[PostWrite] = (),
        effects: Effects | None = None,
        allocator: Allocator | None = None,
        reader: Reader | None = None,
        writer: RegistryWriterService | None = None,
        describe: bool = True,
        amend: Amend | None = None,
    ) -> None:
        """``source``: where content comes from.  ``effects``: what the run may do to user
        files (default: :class:`DiskEffects`, or with ``mutate=False`` :class:`ReportOnly`).
        ``allocator``: new ids (default: reserved in the state database).  ``reader`` and
        ``writer``: the registry the run plans against and writes to (default: the
        project's; ``writer`` runs ``post_write`` after each write that changed something,
        e.g. ``regauto.generators.post_write``: the generated outputs).  ``describe=False``:
        empty descriptors (a dry run that only compares records).  ``amend``: see
        :class:`Amend`."""
        self.project = project
        self.config = project.config
        self.reason = reason
        self.source: Source = (
            source if not isinstance(source, str)
            else Index(project.root) if source == "index" else WorkTree(project.root)
        )
        self.effects: Effects = (effects if effects is not None
                                 else DiskEffects(project) if mutate else ReportOnly())
        self.allocator: Allocator = (allocator if allocator is not None
                                     else Reserving(project.state_dir))
        self.reader: Reader = reader if reader is not None else open_reader(project)
        self.writer = writer if writer is not None else open_writer(project, post_write)
        self.amend = amend
        self.locks = LockManager(project.state_dir, timeout=self.config.lock_timeout_s)
        self.recorder = Recorder(project, describe=describe, progress=progress)
        self.contents: dict[str, Content | None] = {}
        self.renames: dict[str, str] = {}
        self.carrier = Carrier(self.effects, self.recorder, lambda: self.contents)

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
                self.writer, lambda base: self._attempt(base, result),
                attempts=self.config.cas_retries,
            )
        if self.effects.carries and any(a.kind == "rename" for a in result.actions):
            self.effects.rewrite_references(self, result)
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
        rec = self.recorder
        for s in disk_jobs.scan_all(self.project.root, paths):
            if s.skipped:
                self.source.skipped[s.path] = s.skipped
            elif not s.mode:
                out[s.path] = None
            elif s.link is not None:
                out[s.path] = FileContent(s.path, s.link, s.mode)
            else:
                assert s.cls is not None
                rec.classes[(s.path, s.mode, s.blob)] = s.cls
                if s.header_read:
                    rec.header_ids[(s.cls.kind, s.blob)] = s.claim
                out[s.path] = DiskFile(self.project.root, s.path, s.mode, s.size, s.blob)
        return out

    # -- one attempt ----------------------------------------------------------------------
    def _attempt(self, base: str, result: PipelineResult) -> PromotionPatch | None:
        if self.amend is None:
            return self._compute(base, result)
        self.amend.check_base(base)
        return self.amend.amend(base, self._compute(base, result))

    @stages.timed("compute the patch")
    def _compute(self, base: str, result: PipelineResult) -> PromotionPatch | None:
        result.new_ids.clear()
        result.ids.clear()
        result.updated.clear()
        result.deleted.clear()
        h, by_path = self.reader.by_paths(list(self.contents))
        if h != base:
            # The registry moved between the writer's hash and our read: a patch against
            # the stale base makes the writer raise CASConflict, and the run starts over.
            return PromotionPatch(base, self.reason, "stale read", changes={})
        self.recorder.start(by_path.values())
        items = {p: self.recorder.classify(c) for p, c in self.contents.items()
                 if c is not None}
        known, shared = self._identities(items, by_path, result)
        final_items: list[tuple[str, Item, str]] = []
        for p in sorted(items):
            doc = result.ids[p]
            new_path, it = self.carrier.carry(items[p], doc, result.actions, result.skipped)
            final_items.append((new_path, it, doc))
        records = self.recorder.records(final_items, self.contents)
        failed = self.recorder.failed
        if failed:
            result.skipped.update(failed)
            result.actions[:] = [a for a in result.actions if a.path not in failed]
            for p in failed:
                result.new_ids.pop(p, None)  # allocated, but not registered
        changes = self._changes(records, by_path, known, shared, result)
        if not changes:
            return None
        return PromotionPatch(base, self.reason, f"{self.reason}: {len(changes)} record(s)",
                              changes=changes)

    def _identities(self, items: dict[str, Item], by_path: dict[str, Record],
                    result: PipelineResult) -> tuple[identity.Known, dict[str, Record | None]]:
        """Each file's id (SPEC §4.3) into ``result.ids``, new ones allocated; returns what
        they were resolved against, and the ids recorded at several paths
        (``identity.batch_keepers``)."""
        claims = {p: self.recorder.claim(it) for p, it in items.items()}
        count = Counter(r.get("doc_id") for r in by_path.values())
        wanted = identity.holders_wanted(claims, by_path, count)
        holders = self.reader.by_ids(wanted) if wanted else {}
        keepers, shared = identity.batch_keepers(
            self.project, claims, by_path, holders, count, in_batch=self.contents,
            exists=self.source.exists)
        gone = {p: by_path[p] for p, c in self.contents.items() if c is None and p in by_path}
        known = identity.Known(by_path, keepers, gone, self.renames)
        need_new: list[str] = []
        for p in sorted(items):
            doc = known.resolve(p, items[p].content.blob, claims[p])
            if doc is None:
                need_new.append(p)
            else:
                result.ids[p] = doc
                known.used.add(doc)
        if need_new:
            ids = self._allocate(len(need_new))
            for p, i in zip(need_new, ids, strict=True):
                result.ids[p] = result.new_ids[p] = i
        return known, shared

    def _allocate(self, n: int) -> list[str]:
        return self.allocator.allocate(n, floor=self.reader.max_id())

    def _changes(self, records: list[Record], by_path: dict[str, Record],
                 known: identity.Known, shared: dict[str, Record | None],
                 result: PipelineResult) -> dict[str, Record | None]:
        assigned = result.ids
        changes: dict[str, Record | None] = {}
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
                isinstance(old_id, str) and old_id not in known.used and old_id not in changes
                and (p in known.gone or assigned.get(p) != old_id)
            ):
                changes[old_id] = None
                result.deleted.append(p)
        return changes


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
