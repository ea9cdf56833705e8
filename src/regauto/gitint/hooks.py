"""What the git hooks do (SPEC §8.3).  Reached from ``regauto hook …`` through the argparse
front end (``regauto.cli.git_entry``): nothing here imports typer or rich.

pre-commit: register the **staged** content of the added/modified/renamed/deleted documents
(``git diff --cached -M``, read from the index — ``GIT_INDEX_FILE`` included, so
``git commit -a`` and ``git commit PATH`` work) in the **staged** registry, and stage the
generated outputs rendered from it (``index_commit``: the registry in the index describes
the index, the work tree's describes the work tree; the work tree follows where it was
equal).  When a user's file must change (a rename or a header for a new document) the
change is made in the work tree, printed, and the hook exits 1: the next attempt, after
``git add``, finds nothing to do.  ``auto_stage``: ``managed`` (default, as described),
``all`` (also stage the renames and headers and let the commit through), ``none`` (never
touch the index: the work tree's registry is written, and any change fails the commit once).

post-checkout / post-merge: bring the registry in line with the paths that changed between
the two commits, without touching any user file; never block or fail the git operation;
never run code the repository defines (``python``/``command`` generators are left stale, see
``generators.trust``): the commits just checked out or merged are code nobody has reviewed.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from regauto import generators, git
from regauto.errors import RegautoError, RegistryFormatError
from regauto.gitint import managed_files
from regauto.project import Project

if TYPE_CHECKING:
    from collections.abc import Callable

    from regauto.automation.pipeline import Action, PipelineResult
    from regauto.automation.tree import Index

ZERO = "0" * 40


def _say(msg: str) -> None:
    sys.stderr.write(f"regauto: {msg}\n")


def _managed_paths(project: Project) -> list[str]:
    return [project.config.registry, *project.config.outputs]


def pre_commit(found: git.RepoPaths, project: Project | None = None) -> int:
    """The commit hook; a passing run leaves a stamp that tells post-commit this commit
    needs no verification.  ``project``: already opened by the caller."""
    project = project or Project.open(found.root, found=found)
    rc = _staged_errors_explained(project, _pre_commit)
    if rc == 0:
        from regauto.gitint import history

        history.stamp(project)
    return rc


def pre_merge_commit(found: git.RepoPaths) -> int:
    """Before git writes a merge commit: the commit hook's work on the merge's index (its
    changes against the first parent), and the generated outputs re-rendered from the
    merged registry (the merge driver keeps ours' output).

    git has written the merge's tree before it runs this hook, so a change staged here is
    not in the merge commit: when there is one, the hook stops the commit (the merge stays
    in progress, everything staged) and ``git commit`` finishes it through the commit hook.
    A merge that needs nothing — the shard merge driver has already merged every record —
    is committed as git made it."""
    project = Project.open(found.root, found=found)
    managed = _managed_paths(project)
    before = git.index_lines(project.root, managed)
    rc = _staged_errors_explained(project, _pre_commit)
    if rc != 0:
        return rc
    from regauto.gitint import history

    for path in history.refresh_outputs(project):
        _say(f"re-rendered {path} from the merged registry")
    if git.index_lines(project.root, managed) != before:
        _say("the merge's registry or generated outputs needed an update (staged): finish "
             "the merge with `git commit --no-edit`")
        return 1
    return 0


def _staged_errors_explained(project: Project, hook: Callable[[Project], int]) -> int:
    """``hook``, with a staged registry file that does not parse named plainly when it is
    a symbolic link (its mode is looked at only then)."""
    try:
        return hook(project)
    except RegistryFormatError as e:
        from regauto.registry import staged

        raise staged.explain(project.root, project.config.registry, e) from None


def _pre_commit(project: Project) -> int:
    managed_files.ensure_driver(project, stage=True)
    cfg = project.config
    staged = git.staged_changes(project.root)
    edited = managed_files.edited_outputs(project, staged)
    if edited:
        _say(f"{edited[0]} is a generated output and its staged content was edited by hand: "
             "the next render would overwrite it. Change its inputs (the documents, the "
             f"generator) instead, then `git restore --staged {_quote(edited[0])}` or "
             "`regauto generate`, and commit again (your edit is left in place)")
        return 1
    paths, renames = _document_changes(project, staged)
    if not paths:
        return 0  # a commit touching no document
    if cfg.auto_stage == "none":
        return _report_only(project, staged, paths, renames)
    from regauto.gitint import hook_jobs, index_commit

    source, gone = hook_jobs.staged_index(project, staged)
    st = index_commit.open_staging(project)
    result = hook_jobs.process(project, hook_jobs.wants(paths, renames, gone), source=source,
                               reason="pre-commit", mutate=True, renames=renames,
                               registry=st.registry)
    index_commit.finish(project, st)
    _say_result(result)
    touched_user = [a for a in result.actions if a.done]
    if not touched_user:
        return _retry_later(result)
    if cfg.auto_stage == "all":
        _stage_user_changes(project, touched_user)
        _register_staged_references(project, touched_user)
        for a in touched_user:
            _say(a.describe() + " (staged)")
        if os.environ.get("PRE_COMMIT") == "1":
            _say("warning: auto_stage = all under the pre-commit framework can clash with "
                 "its stash of unstaged changes; prefer auto_stage = managed there")
        return _retry_later(result)
    for a in touched_user:
        _say(a.describe())
    _say("files were changed to carry their doc_id: `git add` them "
         f"(e.g. git add -A -- {' '.join(_quote(p) for p in _action_paths(touched_user))}) "
         "and commit again")
    return 1


def _say_result(result: PipelineResult) -> None:
    for path, why in sorted(result.skipped.items()):
        _say(f"skipped {path}: {why}")
    for path, doc in sorted(result.new_ids.items()):
        _say(f"registered {path} as {doc}")


def _report_only(project: Project, staged: list[git.Change], paths: list[str],
                 renames: dict[str, str]) -> int:
    """``auto_stage = none``: the index is never touched; the work tree's registry is
    written and any change fails the commit once."""
    from regauto.gitint import hook_jobs

    source, gone = hook_jobs.staged_index(project, staged)
    result = hook_jobs.process(project, hook_jobs.wants(paths, renames, gone), source=source,
                               reason="pre-commit", mutate=True, renames=renames,
                               post_write=generators.post_write(project))
    _say_result(result)
    touched_user = [a for a in result.actions if a.done]
    written = list(result.write.shards_written) if result.write else []
    for a in touched_user:
        _say(a.describe())
    if written or touched_user:
        _say("changes were made but not staged (auto_stage = none): review, "
             "`git add` them and commit again")
        return 1
    return _retry_later(result)


def _retry_later(result: PipelineResult) -> int:
    """1 when a file changed while its header was written: it is not registered yet."""
    if not result.must_retry:
        return 0
    _say("a file changed while regauto was writing it: commit again to register it")
    return 1


def _action_paths(actions: list[Action]) -> list[str]:
    out: list[str] = []
    for a in actions:
        for p in (a.path, a.new_path):
            if p and p not in out:
                out.append(p)
    return out


def _quote(p: str) -> str:
    return p if all(c.isalnum() or c in "/._-" for c in p) and not p.startswith("-") else repr(p)


def _stage_user_changes(project: Project, actions: list[Action]) -> None:
    """auto_stage = all: put renames and headers into the index too.

    A header is staged as the staged content plus the header (not the work-tree file), so a
    partially staged file keeps its unstaged hunks out of the commit.  Every file staged is
    recorded for ``git commit PATH``'s post-commit (``index_commit.record_staged``).
    """
    from regauto.automation import headers
    from regauto.automation.tree import Index
    from regauto.gitint import index_commit

    idx = Index(project.root)
    moved = {a.path: a.new_path for a in actions if a.kind == "rename"}
    blobs: dict[str, tuple[str | None, str | None]] = {}
    for a in actions:
        path, new_path = a.path, a.new_path
        if a.kind == "reference":
            _stage_reference(project, idx, path, moved, blobs)
        elif a.kind == "rename":
            entry = git.ls_files_stage(project.root, [path]).get(path)
            if entry is not None:
                git.index_move(project.root, path, new_path, entry.mode, entry.blob)
                index_commit.note_staged(blobs, path, entry.blob, None)
                index_commit.note_staged(blobs, new_path, None, entry.blob)
            else:
                git.add(project.root, [new_path])
                index_commit.note_staged(blobs, new_path, None, _worktree_blob(project, new_path))
        else:
            content = idx.read_many([path]).get(path)
            if content is None:
                continue
            from regauto.automation import classifier

            kind_ = classifier.classify_content(path, content.data[:1024]).kind
            new = headers.embed_header(kind_, content.data, a.doc_id)
            if new is not None:
                index_commit.note_staged(blobs, path, content.blob, git.update_index_blob(
                    project.root, path, new, content.mode))
    index_commit.record_staged(project, blobs)


def _worktree_blob(project: Project, path: str) -> str | None:
    """The blob id of ``path``'s work-tree bytes (what ``git add`` staged, unless a clean
    filter changed them: then post-commit finds another blob committed and leaves it)."""
    try:
        return git.blob_id((project.root / path).read_bytes())
    except OSError:
        return None


def _stage_reference(project: Project, idx: Index, path: str, moved: dict[str, str],
                     blobs: dict[str, tuple[str | None, str | None]]) -> None:
    """The staged content of ``path`` with its references re-pointed as in the work tree
    (a partially staged file keeps its unstaged hunks out of the commit), noted in
    ``blobs``."""
    from regauto.automation import ref_effects
    from regauto.gitint import index_commit

    content = idx.read_many([path]).get(path)
    if content is None:
        return
    fp = ref_effects.plan_file(path, content.data, moved, ref_effects.srcdir_of(
        path, ref_effects.srcdirs(project.root)))
    if fp.after != content.data:
        index_commit.note_staged(blobs, path, content.blob, git.update_index_blob(
            project.root, path, fp.after, content.mode))


def _register_staged_references(project: Project, actions: list[Action]) -> None:
    """The files whose references were just staged were registered with their content
    before: register the staged content, in the staged registry again."""
    paths = sorted({a.path for a in actions if a.kind == "reference"})
    if not paths:
        return
    from regauto.automation.pipeline import Pipeline
    from regauto.automation.tree import Index
    from regauto.gitint import index_commit

    st = index_commit.open_staging(project)
    Pipeline(project, source=Index(project.root), mutate=False, reason="pre-commit",
             reader=st.reader, writer=st.writer).run(paths)
    index_commit.finish(project, st)


def _skip_reason(project: Project) -> str | None:
    if os.environ.get("_PRE_COMMIT_SKIP_POST_CHECKOUT"):
        return "pre-commit's own stash checkout"
    assert project.git_dir is not None
    busy = git.in_progress(project.git_dir)
    if busy == "rebase":
        return "a rebase is in progress"
    return None


def post_rewrite(found: git.RepoPaths, command: str) -> int:
    from regauto.gitint import history

    return _never_block(lambda: history.post_rewrite(Project.open(found.root, found=found),
                                                     command))  # 1: a repair was staged


def post_commit(found: git.RepoPaths) -> int:
    from regauto.gitint import history

    return _never_block(lambda: history.post_commit(Project.open(found.root, found=found)))


def post_checkout(found: git.RepoPaths, prev: str, new: str, flag: str) -> int:
    return _never_block(lambda: _post_checkout(found, prev, new, flag), "post-checkout")


def post_merge(found: git.RepoPaths, squash: str) -> int:
    return _never_block(lambda: _post_merge(found, squash), "post-merge")


def _never_block(fn: object, where: str | None = None) -> int:
    """Run a hook whose failure must not fail git's operation; ``where`` (post-checkout,
    post-merge) also forbids repository code.  A callable may return 1 to be reported as
    failed where git ignores the status (post-commit, post-rewrite): the pre-commit
    framework shows a hook's output only then."""
    from contextlib import nullcontext

    from regauto.generators.trust import no_repository_code

    try:
        assert callable(fn)
        with no_repository_code(where) if where else nullcontext():
            return 1 if fn() == 1 else 0
    except RegautoError as e:
        _say(f"warning: {str(e).splitlines()[0]}")
    except Exception as e:  # a checkout must never fail because of regauto
        from regauto.crashlog import crash_log

        _say(f"warning: internal error ({type(e).__name__}: {e}); see {crash_log(e)}")
    return 0


def _post_checkout(found: git.RepoPaths, prev: str, new: str, flag: str) -> None:
    project = Project.open(found.root, found=found)
    if flag == "0":
        return  # a file checkout (git checkout -- PATH)
    reason = _skip_reason(project)
    if reason:
        return
    managed_files.ensure_driver(project)
    if prev == ZERO or not prev:
        # git clone: only the cheap check — the registry reads and hashes.
        from regauto.registry.reader import open_reader

        open_reader(project).current_hash()
        return
    _catch_up(project, git.changes_between(project.root, prev, new), "post-checkout")


def _post_merge(found: git.RepoPaths, squash: str) -> None:
    project = Project.open(found.root, found=found)
    if _skip_reason(project):
        return
    managed_files.ensure_driver(project)
    if not git.rev_exists(project.root, "ORIG_HEAD"):
        return
    _catch_up(project, git.changes_between(project.root, "ORIG_HEAD", "HEAD"), "post-merge")


def _document_changes(
    project: Project, changes: list[git.Change]
) -> tuple[list[str], dict[str, str]]:
    """The document paths a diff touches (both sides of a rename), and its renames."""
    paths: list[str] = []
    renames: dict[str, str] = {}
    for c in changes:
        if project.config.is_included(c.path):
            paths.append(c.path)
        if c.status == "R" and c.old_path is not None:
            paths.append(c.old_path)
            renames[c.path] = c.old_path
    return paths, renames


def _catch_up(project: Project, changes: list[git.Change], reason: str) -> None:
    paths, renames = _document_changes(project, changes)
    if not paths:
        return
    from regauto.automation.tree import WorkTree
    from regauto.gitint import hook_jobs

    jobs = hook_jobs.wants(paths, renames, {c.path for c in changes if c.blob is None})
    result = hook_jobs.process(project, jobs, source=WorkTree(project.root), reason=reason,
                               mutate=False, renames=renames,
                               post_write=generators.post_write(project))
    pending = [a for a in result.actions if not a.done]
    if result.changed_registry or pending:
        n = result.write.records_changed if result.write else 0
        _say(f"{len(paths)} document path(s) changed; registry updated ({n} record(s))"
             + (f", {len(pending)} file(s) to rename/head: run `regauto fix`" if pending else "")
             + "; `regauto check` shows the details")
