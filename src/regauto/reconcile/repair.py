"""Repairs go through the pipeline and the single writer — there is no second path.

:class:`RepairPipeline` runs the pipeline (SPEC §6) shown the registry as the plan resolved
it (``plan.py``, through :class:`ViewReader`): it classifies, resolves identity, carries ids
(renames, headers), extracts and builds its one PromotionPatch exactly as ``regauto sync``
does; the plan's registry-level changes (``extra``) are laid under the pipeline's (it is the
pipeline's ``Amend``), and the shards to rewrite travel in the same patch
(``repair_shards``).

With ``dry_run`` the same code runs without a write, through dry seams: renames and headers
are recorded, not made (``DryEffects``; the records describe the files as they would be),
new ids are planned but not reserved (``id_allocator.Planned``), and the patch is kept
instead of applied (:class:`DryWriter`) — ``check`` and ``fix --dry-run`` are the write
path without the write (STYLE habit 7).  ``describe=False`` skips descriptor
extraction: whether a record changes never depends on it (a descriptor is a function of
the blob, and a different blob already changes the record).
"""

from __future__ import annotations

from regauto import docid, generators
from regauto.automation.effects import DryEffects
from regauto.automation.id_allocator import Planned
from regauto.automation.pipeline import Pipeline, PipelineResult
from regauto.automation.tree import FileContent, WorkTree
from regauto.project import Project
from regauto.reconcile.plan import Plan, ViewStale
from regauto.registry import open_writer
from regauto.registry.promotion_patch import PromotionPatch
from regauto.registry.reader import Reader, open_reader
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


class RepairPipeline:
    def __init__(self, project: Project, plan: Plan, *, dry_run: bool,
                 describe: bool = True) -> None:
        self.plan = plan
        self.dry_run = dry_run
        # The generated outputs follow the write, as after any other command's.
        writer = open_writer(project, generators.post_write(project))
        self.writer: RegistryWriterService = DryWriter(writer) if dry_run else writer
        self.assigned: dict[str, str] = {}  # path (before any rename) -> doc_id
        self.patch: PromotionPatch | None = None
        reader = ViewReader(plan, open_reader(project))
        if dry_run:  # check never writes: its broken_reference reports the references
            self.pipe = Pipeline(project, reason="fix", source=_InMemory(WorkTree(project.root)),
                                 effects=DryEffects(project.root, references=False),
                                 allocator=Planned(), reader=reader, writer=self.writer,
                                 describe=describe, amend=self)
        else:
            self.pipe = Pipeline(project, reason="fix", reader=reader, writer=self.writer,
                                 describe=describe, amend=self)

    def repair(self) -> PipelineResult:
        batch = sorted(self.plan.batch)
        renames = {n: o for n, o in self.plan.tree.renames.items()
                   if n in self.plan.batch and o in self.plan.batch}
        if batch:
            result = self.pipe.run(batch, renames)
            self.assigned = result.ids
        else:  # only registry-level repairs: the same patch, without files
            result = PipelineResult()
            base = self.writer.current_hash()
            patch = self._with_plan(base, None)
            if patch is not None:
                result.write = self.writer.apply(patch)
        return result

    # -- Amend: the plan's changes under the pipeline's ------------------------------------
    def check_base(self, base: str) -> None:
        if base != self.plan.view.hash:
            raise ViewStale(f"the registry changed while fix was planning ({base})")

    def amend(self, base: str, patch: PromotionPatch | None) -> PromotionPatch | None:
        return self._with_plan(base, patch)

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
