"""The reconciler (SPEC §8.2): finds every drift between the tree and the registry, and
repairs it through the pipeline and the single writer.

``check`` is the write path without the write (STYLE habit 7): it builds the same plan as
``fix`` (``plan.py``) and runs the same pipeline in dry-run mode (``repair.py``), so it is
clean exactly when ``fix`` would change nothing.  Both read as little as they can: the
registry's unchanged shards come from a cache keyed by their hash, the tree's unchanged
files from git's index (``tree_state.py``), and a tree and registry seen clean before are
clean again without any comparison (the verdict cache).

``moved`` means: a record whose file is gone, and a file with no record that takes over
its doc_id — because it claims that id (prefix or header), because git reports the pair
as a staged rename, or because its blob equals the record's (SPEC §4.3 step 3; the first
such file in path order).  It is reported once, on the new path; ``fix`` moves the record
(and, like the pipeline always does, renames or adds a header if the new place's id_mode
asks for it).  A gone file whose blob reappears nowhere is ``missing``; a new file that
takes no gone record's id is ``untracked``.

Concurrency: ``fix`` holds every path lock (the pipeline's buckets) for the whole run, so
no hook, watcher or other fix interleaves; the registry itself is written with
compare-and-swap, and a plan made against a registry that moved is made again (at most
``cas_retries`` times, then exit 3).  Safe from cron: locks time out with exit 3, drift
repaired is exit 0, drift that ``fix`` cannot repair (a file the pipeline must skip, such
as a name that is not UTF-8) is exit 1 with one line per file saying why — the same
answer on every run, as ``check`` keeps reporting it.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from regauto import __version__, git, stages
from regauto.errors import CASConflict, LockTimeout, RegistryFormatError
from regauto.events.lock_manager import LockManager
from regauto.project import Project
from regauto.reconcile import drift as D
from regauto.reconcile import ref_drift, registry_view, restore
from regauto.reconcile.cache import Cache
from regauto.reconcile.claims import Claims, fingerprint
from regauto.reconcile.plan import Plan, ViewStale, make_plan
from regauto.reconcile.tree_state import MODE_GITLINK, TreeState, inclusion
from regauto.registry.reader import open_reader
from regauto.registry.store import gc_paused

if TYPE_CHECKING:
    from regauto.automation.pipeline import PipelineResult
    from regauto.reconcile.repair import RepairPipeline

VERDICT_VERSION = "1"


@dataclass
class _Run:
    pipe: RepairPipeline
    result: PipelineResult
    drifts: list[D.Drift]
    unrepaired: dict[str, str]  # path -> why the run leaves its drift as it is


class Reconciler:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.config = project.config
        self.included = inclusion(project.config)

    # -- the API -------------------------------------------------------------------------------
    def check(self, *, diff: bool = False, references: str | None = None) -> D.Report:
        """Read-only: every drift (registry, tree, generated outputs).

        Four ways to a verdict, cheapest first: the same registry, configuration and tree
        as the last clean check (the verdict cache); every shard verified before and the
        tree exactly what its records describe (``_fast_clean``); a proof that the plan
        would be empty, from no cache (``cold``); the full plan.
        ``references="all"`` (default: the configuration's) also lists references to paths
        that exist nowhere, which needs the full plan."""
        all_refs = (references or self.config.check.references) == "all"
        verdicts = Cache(self.project.state_dir, "verdict")
        for _ in range(self.config.cas_retries):
            tree = TreeState(self.project, self.included)
            report = D.Report()
            if diff or all_refs:
                tree.prepare()
                clean_hash = None
            elif verdicts.get("clean") is None and not registry_view.verified_kept(
                    self.project):
                # No clean check ever recorded here (a fresh clone: CI): no cache can
                # answer, so the proof starts at once, with git status inside it.
                clean_hash = self._proven_clean(tree)
            else:
                clean_hash = self._known_clean(tree, verdicts) or self._proven_clean(tree)
            tree_key = tree.key
            if clean_hash is None:
                # A full plan holds a dict per record and a Doc per file (~1M objects at
                # 100k documents, none in a cycle): with the collector on, the collections
                # they trigger walk all of them, again and again — a third of a cold check.
                with gc_paused():
                    view = registry_view.load(self.project)
                    if view.malformed:
                        raise RegistryFormatError(restore.malformed_message(view))
                    tree.complete()
                    plan = make_plan(self.project, view, tree, Claims(self.project, tree))
                    try:
                        report.drifts, report.unrepaired, report.diff = self._dry_run(
                            plan, diff=diff)
                    except (ViewStale, CASConflict):
                        continue
                    refs = ref_drift.find(self.project, ref_drift.moves(plan, report.drifts),
                                          all_refs=all_refs)
                    report.drifts += refs.drifts
                    report.unrepaired.update(refs.unrepairable)
                if not report.drifts and not tree.adopted:
                    clean_hash = view.hash
                    registry_view.mark_verified(self.project, view, fingerprint(self.project))
                report.registry_hash = view.hash
            if clean_hash is not None:
                report.registry_hash = clean_hash
                verdicts.put("clean", self._verdict_key(clean_hash, tree_key))
                verdicts.save()
            report.drifts = D.sort_drifts(report.drifts + self._output_drifts())
            return report
        raise CASConflict("(plan)", "the registry kept changing while check was reading it")

    def _refuse_while_git_is_busy(self) -> None:
        """A rebase, a merge with unresolved conflicts, or another git command holding the
        index leaves the tree half-made: repairing it now would bake one side in (exit 3:
        try again later).  A merge whose conflicts are all resolved is what the merge commit
        will record, so ``fix`` may prepare it, as a careful user does before committing."""
        busy = git.in_progress(self.project.git_dir) if self.project.git_dir else None
        if busy == "merge":
            unmerged = sorted(git.index_blobs(self.project.root)[1])
            if not unmerged:
                return
            raise LockTimeout(
                f"a merge is in progress with {len(unmerged)} unresolved path(s) "
                f"({', '.join(unmerged[:3])}{', …' if len(unmerged) > 3 else ''}): resolve "
                "them and `git add` them (or `git rm` a shard), then run regauto fix")
        if busy is not None:
            raise LockTimeout(f"git is busy in this repository ({busy}); regauto fix runs "
                              "once it is done")

    def fix(self, *, dry_run: bool = False) -> D.Report:
        """Repair every drift; with ``dry_run``, say what would be done and change nothing."""
        if dry_run:
            return self._fix_dry()
        from regauto.automation.pipeline import PATH_LOCK_BUCKETS

        self._refuse_while_git_is_busy()
        locks = LockManager(self.project.state_dir, timeout=self.config.lock_timeout_s)
        report = D.Report(applied=True)
        keys = [f"bucket-{n:02d}" for n in range(PATH_LOCK_BUCKETS)]
        with locks.paths(*keys):
            for _ in range(self.config.cas_retries):
                seen = TreeState(self.project, self.included)
                known = (self._known_clean(seen, Cache(self.project.state_dir, "verdict"))
                         or self._proven_clean(seen))
                if known is not None:
                    report.registry_hash = known
                    break
                with gc_paused():  # as in check: planning makes ~1M objects, no cycles
                    view = registry_view.load(self.project, salvage=True)
                    if view.malformed:
                        report.actions += restore.restore(self.project, view)
                        continue
                    tree = TreeState(self.project, self.included)
                    tree.prepare()
                    tree.complete()
                    plan = make_plan(self.project, view, tree, Claims(self.project, tree))
                report.drifts = list(plan.drifts)
                if plan.empty:
                    report.registry_hash = view.hash
                    break
                try:
                    run = self._repair(plan, dry_run=False)
                except (ViewStale, CASConflict):
                    continue
                report.drifts += run.drifts
                report.unrepaired = run.unrepaired
                report.actions += _action_lines(run.result, plan, run.pipe)
                self._fix_references(plan, run, report)
                w = run.result.write
                report.registry_hash = w.new_hash if w else view.hash
                break
            else:
                raise CASConflict("(plan)", "the registry kept changing while fix was planning")
        report.actions += self._generate()
        report.drifts = D.sort_drifts(report.drifts)
        return report

    # -- parts -----------------------------------------------------------------------------------
    def _fix_references(self, plan: Plan, run: _Run, report: D.Report) -> None:
        """Re-point the references to the documents this run found moved (``fix``)."""
        renamed = {a.path: a.new_path for a in run.result.actions
                   if a.kind == "rename" and a.done}
        moved = {old: renamed.get(new, new)
                 for old, new in ref_drift.moves(plan, run.drifts).items()}
        refs = ref_drift.find(self.project, moved, all_refs=False)
        report.drifts += refs.drifts
        report.unrepaired.update(refs.unrepairable)
        report.actions += ref_drift.apply(self.project, refs.plans, report.unrepaired)
    def _fix_dry(self) -> D.Report:
        view = registry_view.load(self.project, salvage=True)
        if view.malformed:
            report = D.Report()
            msg = restore.malformed_message(view)
            report.drifts = [D.Drift(D.INVALID_RECORD, None, view.rel(n), view.errors[n])
                             for n in sorted(view.errors)]
            report.actions = [f"would restore the registry: {msg}"]
            return report
        report = self.check(diff=False)
        report.actions = [f"would fix {d.kind} {d.path}: {d.detail}" for d in report.repaired]
        return report

    @stages.timed("pipeline")
    def _repair(self, plan: Plan, *, dry_run: bool, describe: bool = True) -> _Run:
        """The one way ``check`` and ``fix`` carry out a plan: the pipeline, writing or
        not, and what it found."""
        from regauto.reconcile.repair import RepairPipeline
        from regauto.reconcile.translate import translate, unrepaired

        pipe = RepairPipeline(self.project, plan, dry_run=dry_run, describe=describe)
        result = pipe.repair()
        drifts = translate(plan, result, pipe.assigned, pipe.patch)
        return _Run(pipe, result, drifts, unrepaired(plan, result, drifts))

    def _dry_run(self, plan: Plan, *,
                 diff: bool) -> tuple[list[D.Drift], dict[str, str], str]:
        from regauto.reconcile.translate import new_ids_unnamed

        drifts = list(plan.drifts)
        if plan.empty:
            return drifts, {}, ""
        run = self._repair(plan, dry_run=True, describe=diff)
        drifts += run.drifts
        patch = run.pipe.patch
        if not diff or patch is None:
            return drifts, run.unrepaired, ""
        diff_text = self._unified(run.pipe.writer.preview(patch))
        return drifts, run.unrepaired, new_ids_unnamed(diff_text, run.result)

    def _unified(self, files: dict[str, tuple[str | None, str | None]]) -> str:
        reg = self.config.registry.strip("/")
        out: list[str] = []
        for name, (old, new) in sorted(files.items()):
            out.extend(difflib.unified_diff(
                (old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True),
                fromfile=f"a/{reg}/{name}" if old is not None else "/dev/null",
                tofile=f"b/{reg}/{name}" if new is not None else "/dev/null"))
        return "".join(line if line.endswith("\n") else line + "\n" for line in out)

    @stages.timed("verdict cache")
    def _known_clean(self, tree: TreeState, verdicts: Cache) -> str | None:
        """The registry hash if the state is known clean without a plan (``tree`` is
        prepared here): the verdict of an earlier check, or ``_fast_clean``."""
        registry_hash = open_reader(self.project).current_hash()
        tree_key = tree.prepare()
        if verdicts.get("clean") == self._verdict_key(registry_hash, tree_key):
            return registry_hash
        return self._fast_clean(tree)

    def _fast_clean(self, tree: TreeState) -> str | None:
        """The registry hash when the tree is exactly what the registry's verified records
        describe (every record's file with its blob and mode, nothing else included): clean
        without building a plan.  None: only the full plan can tell."""
        fast = registry_view.fast_map(self.project, fingerprint(self.project))
        if fast is None:
            return None
        registry_hash, recorded = fast
        files = tree.entries()
        if not recorded <= files:
            return None
        for entry in files - recorded:
            head, _, path = entry.partition("\t")
            if not head.startswith(MODE_GITLINK) and self.included(path):
                return None  # a document with no record
        return registry_hash

    def _proven_clean(self, tree: TreeState) -> str | None:
        """The registry hash when ``cold.prove`` shows the plan would be empty (with no
        cache at all: a fresh clone); the records it verified are kept for ``_fast_clean``."""
        from regauto.reconcile import cold  # msgspec: not for the checks a cache answers

        with gc_paused():
            proof = cold.prove(self.project, tree)
        if proof is None:
            if not tree.key:
                tree.prepare()
            return None
        registry_view.save_verified(self.project, proof.manifest, proof.entries,
                                    fingerprint(self.project))
        return proof.registry_hash

    def _verdict_key(self, registry_hash: str, tree_key: str) -> str:
        text = "\0".join((VERDICT_VERSION, __version__, registry_hash, repr(self.config),
                          str(self.project.root), tree_key))
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()

    def _orchestrator(self):  # type: ignore[no-untyped-def]
        if not self.config.generators:
            return None
        from regauto.generators.generator_orchestrator import GeneratorOrchestrator

        return GeneratorOrchestrator(self.project)

    @stages.timed("generated outputs")
    def _output_drifts(self) -> list[D.Drift]:
        orch = self._orchestrator()
        if orch is None:
            return []
        return [D.Drift(o.kind, None, o.path, f"generator {o.name}: {o.detail}; fix "
                        "regenerates it") for o in orch.check()]

    @stages.timed("generate outputs")
    def _generate(self) -> list[str]:
        orch = self._orchestrator()
        if orch is None:
            return []
        return [f"regenerated {g.path} ({g.name})" for g in orch.generate() if g.changed]


def _action_lines(result: PipelineResult, plan: Plan, pipe: RepairPipeline) -> list[str]:
    """One line per change actually made: file changes, and records the write changed."""
    w = result.write
    changed = set(w.changed_ids) if w is not None and w.changed else set()
    changes = pipe.patch.changes if pipe.patch is not None and pipe.patch.changes else {}
    new = {i: p for p, i in result.new_ids.items()}
    lines = [f"registered {p} as {i}" for i, p in sorted(new.items()) if i in changed]
    lines += [a.describe() for a in result.actions if a.done]
    for i in sorted(changed - set(new)):
        rec = changes.get(i)
        if rec is None:
            old = next((ln.rec.get("path") for ln in plan.view.lines
                        if ln.rec.get("doc_id") == i), i)
            lines.append(f"removed the record {i} of {old}")
        else:
            lines.append(f"updated the record {i} of {rec.get('path', '?')}")
    wrote = w is not None and w.changed
    if wrote:
        assert w is not None
        lines += [f"repaired {d.kind} {d.path}" for d in plan.drifts]
        lines.append(f"registry updated: {w.records_changed} record(s), "
                     f"{len(w.shards_written)} file(s) written, {w.new_hash}")
    return lines


def reconcile(project: Project, *, apply: bool) -> D.Report:
    """The daemon's periodic hook: ``fix`` when ``apply``, else ``check``.  Raises what the
    commands exit with: ``LockTimeout`` (a lock stayed busy, or git is mid-merge or
    mid-rebase — try again later), ``CASConflict``, ``RegistryFormatError`` (check only:
    the registry does not parse; ``fix`` restores it)."""
    r = Reconciler(project)
    return r.fix() if apply else r.check()
