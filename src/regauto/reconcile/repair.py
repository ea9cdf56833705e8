"""Repairs go through the pipeline and the single writer — there is no second path.

:class:`RepairPipeline` is the pipeline (SPEC §6) shown the registry as the plan resolved
it (``plan.py``): it classifies, resolves identity, carries ids (renames, headers),
extracts and builds its one PromotionPatch exactly as ``regauto sync`` does; the plan's
registry-level changes (``extra``) are laid under the pipeline's, and the shards to
rewrite travel in the same patch (``repair_shards``).

With ``dry_run`` the same code runs without a write: renames and headers happen in memory
only (the records describe the files as they would be), new ids are planned but not
reserved, and the patch is kept instead of applied — ``check`` and ``fix --dry-run`` are
the write path without the write (STYLE habit 7).  ``describe=False`` skips descriptor
extraction: whether a record changes never depends on it (a descriptor is a function of
the blob, and a different blob already changes the record).
"""

from __future__ import annotations

import datetime as dt
import os

from regauto import docid, generators
from regauto.automation import file_renamer, id_allocator
from regauto.automation.pipeline import Pipeline, PipelineResult, _Item
from regauto.automation.tree import FileContent, WorkTree
from regauto.project import Project
from regauto.reconcile.plan import Plan, ViewStale
from regauto.registry.promotion_patch import PromotionPatch
from regauto.registry.reader import Reader
from regauto.registry.records import Record
from regauto.registry.registry_writer_service import RegistryWriterService, WriteResult


class ViewReader(Reader):
    """The pipeline's reader, answering from the plan's resolved view of the registry."""

    def __init__(self, plan: Plan, real: Reader) -> None:
        super().__init__(real.store, real.locks, real.timeout)
        self.plan = plan

    def by_paths(self, paths: list[str]) -> tuple[str, dict[str, Record]]:
        known = self.plan.known
        return self.plan.view.hash, {p: known[p] for p in paths if p in known}

    def by_ids(self, ids: list[str]) -> dict[str, list[Record]]:
        return self.plan.holders(ids)

    def max_id(self) -> str | None:
        return self.plan.view.max_id()


class DryWriter(RegistryWriterService):
    """A writer that keeps the patch instead of applying it."""

    def __init__(self, real: RegistryWriterService) -> None:
        super().__init__(real.store, real.locks, keep_backups=real.keep_backups,
                         lock_timeout=real.lock_timeout)
        self.patch: PromotionPatch | None = None

    def apply(self, patch: PromotionPatch) -> WriteResult:
        self.patch = patch
        return WriteResult(False, patch.base_hash, patch.base_hash)


class _InMemory:
    """The work tree as a plain ``Source``: every file read into memory, so that a dry run
    carries ids (renames, headers) on content it holds, never on disk."""

    name = "worktree"

    def __init__(self, tree: WorkTree) -> None:
        self.tree = tree
        self.skipped = tree.skipped

    def read_many(self, paths: list[str]) -> dict[str, FileContent | None]:
        return self.tree.read_many(paths)

    def exists(self, path: str) -> bool:
        return self.tree.exists(path)


class RepairPipeline(Pipeline):
    def __init__(self, project: Project, plan: Plan, *, dry_run: bool,
                 describe: bool = True) -> None:
        # The generated outputs follow the write, as after any other command's.
        super().__init__(project, mutate=True, reason="fix",
                         post_write=generators.post_write(project))
        self.plan = plan
        self.dry_run = dry_run
        self.describe = describe
        self.reader = ViewReader(plan, self.reader)
        self.assigned: dict[str, str] = {}  # path (before any rename) -> doc_id
        self._vacated: set[str] = set()  # dry run: names renamed away
        self._taken: set[str] = set()  # dry run: names renamed to
        self.patch: PromotionPatch | None = None
        if dry_run:
            self.follow_references = False  # check never writes; broken_reference reports
            self.dry_writer = DryWriter(self.writer)
            self.writer = self.dry_writer
            self.source = _InMemory(WorkTree(project.root))

    def repair(self) -> PipelineResult:
        batch = sorted(self.plan.batch)
        renames = {n: o for n, o in self.plan.tree.renames.items()
                   if n in self.plan.batch and o in self.plan.batch}
        if batch:
            result = self.run(batch, renames)
        else:  # only registry-level repairs: the same patch, without files
            result = PipelineResult()
            base = self.writer.current_hash()
            patch = self._with_plan(base, None)
            if patch is not None:
                result.write = self.writer.apply(patch)
        return result

    # -- the hooks ---------------------------------------------------------------------------
    def _compute(self, base: str, result: PipelineResult) -> PromotionPatch | None:
        if base != self.plan.view.hash:
            raise ViewStale(f"the registry changed while fix was planning ({base})")
        self.assigned.clear()
        return self._with_plan(base, super()._compute(base, result))

    def _with_plan(self, base: str, patch: PromotionPatch | None) -> PromotionPatch | None:
        changes: dict[str, dict[str, object] | None] = {
            i: (dict(v) if v is not None else None) for i, v in self.plan.extra.items()}
        for i, fields in ((patch.changes or {}) if patch is not None else {}).items():
            if fields is None:
                if docid.is_valid(i):  # an invalid id's line goes with its shard's repair
                    changes[i] = None
                continue
            under = changes.get(i)
            changes[i] = {**under, **fields} if under is not None else fields
        if not changes and not self.plan.repair_shards:
            self.patch = None
            return None
        self.patch = PromotionPatch(
            base, "fix", f"fix: {len(changes)} record(s), {len(self.plan.repair_shards)} "
            "shard(s) repaired", changes=changes,
            repair_shards=tuple(sorted(self.plan.repair_shards)))
        return self.patch

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
        doc = super()._identity(path, it, claimed, keepers, by_path, gone_records, by_blob,
                                used)
        if doc is not None:
            self.assigned[path] = doc
        return doc

    def _rename(self, src: str, dst: str) -> None:
        if not self.dry_run:
            super()._rename(src, dst)
            return
        # Simulated: a name an earlier simulated rename vacated is free, one it took is not.
        taken = dst in self._taken or (
            dst not in self._vacated and os.path.lexists(self.project.root / dst))
        if taken:
            raise file_renamer.RenameError(
                f"cannot rename {src!r} to {dst!r}: the destination exists; nothing was changed")
        self._vacated.add(src)
        self._taken.discard(src)
        self._taken.add(dst)

    def _write_header(self, path: str, kind: str, doc: str) -> None:
        if not self.dry_run:
            super()._write_header(path, kind, doc)

    def _allocate(self, n: int) -> list[str]:
        if not self.dry_run:
            return super()._allocate(n)
        now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
        return id_allocator.plan(self.reader.max_id(), now, n)

    def _extract_all(self, todo: dict[tuple[str, str], bytes]) -> None:
        if self.describe:
            super()._extract_all(todo)
            return
        for key in todo:
            self._descriptors[key] = {}

