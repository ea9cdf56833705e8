"""Keep every commit's registry true where git writes commits without the commit hook
(SPEC §8.3): ``pre-merge-commit``, ``post-rewrite`` and ``post-commit``.

git runs no ``pre-commit`` hook for a merge commit, nor inside ``rebase``, ``cherry-pick``,
``revert`` or ``am``.  The shard merge driver (``doc_merge``) makes those commits clean as
git writes them in the common case; this module covers the rest:

- ``pre-merge-commit`` (git ≥ 2.24) runs the commit hook's own work on the merge's index
  before the merge commit is written, so a merge commit is clean in itself (generated
  outputs re-rendered, any record the driver could not merge re-derived).
- ``post-rewrite`` (after a rebase or ``commit --amend``) and ``post-commit`` verify the new
  tip: every document the commits changed must be described by the tip's registry.  Where
  it is not — a conflict resolved by hand during a rebase, whose commits git writes with no
  hook — the registry in the index is repaired from the index (which equals the new tip
  there), as the commit hook writes it (``index_commit``: the work tree's registry keeps
  any unstaged changes of its own), and one line says to commit it.  A commit the user
  did not ask to rewrite is never rewritten.

Verification is cheap: one ``diff`` between two commits and one ``cat-file --batch`` of the
few shards that record the changed paths; no file of the work tree is read.
"""

from __future__ import annotations

import json
import sys

from regauto import git
from regauto.project import Project
from regauto.registry import records


def _say(msg: str) -> None:
    sys.stderr.write(f"regauto: {msg}\n")


def stale_paths(project: Project, old: str, new: str) -> list[str]:
    """The documents ``new`` changed since ``old`` whose record in ``new``'s registry does
    not describe them (no record for a present file, a record with another blob, or a
    record left for a deleted or renamed-away file)."""
    cfg = project.config
    managed = (cfg.registry + "/", *cfg.outputs)
    want: dict[str, str | None] = {}  # path -> blob in ``new`` (None: gone)
    for c in git.changes_between(project.root, old, new):
        if c.old_path is not None and cfg.is_included(c.old_path):
            want.setdefault(c.old_path, None)
        if cfg.is_included(c.path) and not c.path.startswith(managed):
            want[c.path] = c.blob
    if not want:
        return []
    shards = sorted({records.shard_of(p) for p in want})
    texts = git.files_at(project.root, [(new, f"{cfg.registry}/{s}") for s in shards])
    recorded: dict[str, object] = {}
    for text in texts:
        for line in (text or b"").decode("utf-8", "replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a malformed line is ``check``'s to report
            if isinstance(rec, dict) and rec.get("path") in want:
                recorded[rec["path"]] = rec.get("blob")
    return sorted(p for p, blob in want.items()
                  if (blob is None) != (p not in recorded)
                  or (blob is not None and recorded[p] != blob))


def repair_tip(project: Project, old: str, what: str) -> int:
    """Verify HEAD against ``old``; repair and stage the registry where it is stale.
    Returns 1 when the user has something to do (commit the repair)."""
    stale = stale_paths(project, old, "HEAD")
    if not stale:
        outputs = refresh_outputs(project)
        if outputs:
            _say(f"{what} left {outputs[0]}{' …' if len(outputs) > 1 else ''} stale; "
                 "re-rendered and staged: commit it (git commit -m 'Update generated outputs')")
        return 1 if outputs else 0
    # The index rule, as in the commit hook: the stale records are computed from the index
    # and written into the index's shards; a work-tree shard with unstaged changes of its
    # own (the daemon, a ``fix`` of unstaged edits) keeps them, and the generated outputs
    # are rendered from the staged registry and staged.
    from regauto.automation.tree import Index
    from regauto.gitint import hook_jobs, index_commit

    st = index_commit.open_staging(project)
    hook_jobs.process(project, hook_jobs.wants(stale, {}), source=Index(project.root),
                      reason=what, mutate=False, registry=st.registry)
    index_commit.finish(project, st)
    _say(f"{what} wrote commits whose registry does not describe {len(stale)} document(s) "
         f"({stale[0]}{' …' if len(stale) > 1 else ''}); the repair is staged: commit it "
         "(git commit -m 'Update the registry')")
    return 1


def refresh_outputs(project: Project) -> list[str]:
    """Re-render the stale generated outputs from the staged registry and stage them, as
    the commit hook does (``index_commit``: the work tree's copy follows only where it was
    the staged one); returns their paths.  After a merge, rebase or cherry-pick their text
    is ours' (the merge driver keeps it), rendered from a registry the merge has moved
    past."""
    if not project.config.outputs or not _outputs_may_be_stale(project):
        return []
    from regauto.gitint import index_commit

    return index_commit.finish(project, index_commit.open_staging(project), outputs=True)


def _outputs_may_be_stale(project: Project) -> bool:
    """False when no staged output can be stale, known cheaply: the work tree's registry
    and outputs are the index's, so the work tree's check (its input hashes cached, no
    shard read) answers for the index.  Rendering from the staged registry reads and
    parses every staged shard."""
    cfg = project.config
    # Ignored files too: regauto's own files are read whatever a .gitignore says.
    if any(e.xy[1] != " " for e in git.status(project.root, [cfg.registry, *cfg.outputs],
                                                ignored=True)):
        return True
    from regauto.generators.generator_orchestrator import GeneratorOrchestrator

    return any(d.kind == "stale_output" for d in GeneratorOrchestrator(project).check())


def post_rewrite(project: Project, command: str) -> int:
    """After ``rebase`` (or ``commit --amend``): verify what the rewritten commits changed,
    from their fork point with the old tip (``ORIG_HEAD``) — a superset when upstream moved,
    which costs a little more and misses nothing."""
    if command == "amend":
        return 0  # ``commit --amend`` ran the commit hook
    if not git.rev_exists(project.root, "ORIG_HEAD"):
        return 0
    base = git.merge_base(project.root, "ORIG_HEAD", "HEAD")
    return repair_tip(project, base, "the rebase") if base is not None else 0


STAMP = "precommit.stamp"  # the plain post-commit hook script tests it before python starts
# ``git commit PATH``'s record for the real index (``partial_commit``); the script tests it too.
PARTIAL = "partial-commit.json"


def stamp(project: Project) -> None:
    """The commit hook passed: the commit it precedes needs no verification."""
    try:
        project.state_dir.mkdir(parents=True, exist_ok=True)
        (project.state_dir / STAMP).touch()
    except OSError:
        pass  # post-commit then verifies: slower, never wrong


def _stamped(project: Project) -> bool:
    try:
        (project.state_dir / STAMP).unlink()
    except OSError:
        return False
    return True


def post_commit(project: Project) -> int:
    """After a commit: verify what it changed against its first parent — unless the commit
    hook ran for it (its stamp).  What remains is a commit git wrote without the hook:
    cherry-pick, revert, ``--no-verify``.  A commit aborted after the hook passed leaves a
    stamp that spares the next commit's verification; ``check`` still sees that one.

    First, after ``git commit PATH``, the real index takes what the commit hook staged
    into git's temporary index (``partial_commit``)."""
    if (project.state_dir / PARTIAL).exists():
        from regauto.gitint import partial_commit

        partial_commit.settle(project)
    if _stamped(project):
        return 0
    if project.git_dir is not None and git.in_progress(project.git_dir) == "rebase":
        return 0  # verified once at the end, by post-rewrite
    return repair_tip(project, "HEAD^", "git") if git.rev_exists(project.root, "HEAD^") else 0
