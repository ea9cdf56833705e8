"""After the pipeline renamed files: re-point every reference to them (issue 13).

Called at the end of :meth:`Pipeline.run`, through its effects, when the run renamed (or,
dry, would rename) a file.  Each rewrite is reported like a rename, as an :class:`Action` of kind
``"reference"``.  The referring files change after the batch's registry write, so those the
registry knows (or the batch held) are registered again, from the work tree, in a second
small write; from the index (the pre-commit hook) the rewritten file is left to be staged —
by the hook under ``auto_stage = all``, else by the user — and the next run registers it.
"""

from __future__ import annotations

from regauto.automation import ref_effects
from regauto.automation.pipeline import Action, Pipeline, PipelineResult
from regauto.automation.tree import Index, WorkTree
from regauto.events.suppression_manager import SuppressionManager
from regauto.registry.registry_writer_service import WriteResult

NOT_REWRITTEN = ("references not rewritten: the file changed while regauto worked; "
                 "`regauto fix` repairs them")


def _planned(pipe: Pipeline, result: PipelineResult
             ) -> tuple[list[ref_effects.FilePlan], dict[str, str]]:
    """The rewrites the run's renames call for, and each new path's id."""
    project = pipe.project
    renames = [a for a in result.actions if a.kind == "rename"]
    moved = {a.path: a.new_path for a in renames}
    doc_of = {a.new_path: a.doc_id for a in renames}
    # The hook (reading the index) looks only at what the commit holds.
    source = pipe.source
    tracked_only = isinstance(source, Index)
    staged = source.staged if isinstance(source, Index) else None
    plans = ref_effects.plan(project.root, project.config,
                             ref_effects.candidates(project, moved, untracked=not tracked_only,
                                                    staged=staged),
                             moved)
    return plans, doc_of


def plan_renames(pipe: Pipeline, result: PipelineResult) -> None:
    """A dry run: the rewrites, as pending actions."""
    plans, doc_of = _planned(pipe, result)
    for fp in plans:
        result.actions.extend(_action(rw, doc_of, False) for rw in fp.rewrites)


def follow_renames(pipe: Pipeline, result: PipelineResult) -> None:
    """Make the rewrites, and register the rewritten files again."""
    plans, doc_of = _planned(pipe, result)
    if not plans:
        return
    project = pipe.project
    suppress = SuppressionManager(project.state_dir)
    ttl = project.config.watch.suppress_ms
    done, left = ref_effects.apply(
        project.root, plans, lambda p: suppress.suppress_many({p}, ttl_ms=ttl))
    result.actions.extend(_action(rw, doc_of, True) for rw in done)
    for path in left:
        result.skipped[path] = NOT_REWRITTEN
    if not done or not isinstance(pipe.source, WorkTree):
        return
    paths = sorted({rw.path for rw in done})
    _, recorded = pipe.reader.by_paths(paths)
    again = [p for p in paths if p in recorded or p in pipe.contents]
    if again:
        more = Pipeline(project, source="worktree", mutate=True, reason=pipe.reason).run(again)
        result.updated.extend(more.updated)
        result.skipped.update(more.skipped)
        if more.write is not None and more.write.changed:
            result.write = _both(result.write, more.write)


def _action(rw: ref_effects.Rewrite, doc_of: dict[str, str], done: bool) -> Action:
    return Action("reference", rw.path, rw.path, doc_of.get(rw.new_target, ""), done,
                  f"{rw.line}: {rw.old} -> {rw.new}")


def _both(first: WriteResult | None, then: WriteResult) -> WriteResult:
    """The two writes of one run as one: from the first base to the last hash."""
    if first is None or not first.changed:
        return then
    ids = tuple(dict.fromkeys(first.changed_ids + then.changed_ids))
    return WriteResult(True, first.base_hash, then.new_hash,
                       tuple(dict.fromkeys(first.shards_written + then.shards_written)),
                       len(ids), first.bytes_written + then.bytes_written, ids)
