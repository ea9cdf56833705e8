"""A commit's tree (or the index) as a work tree of its own, for ``check --rev``/``--staged``.

``check --rev REV`` must say exactly what ``regauto check`` says in a fresh clone checked
out at REV.  The surest way to that answer is the same code on the same files: REV is
checked out, detached, in a temporary linked work tree (``git worktree add``: no clone,
the objects are shared), and the ordinary check runs there with that work tree's own
state directory (``<git dir>/worktrees/<name>/regauto``), which goes when the work tree
is removed.  The index is checked the same way through a dangling commit of its tree
(``git write-tree`` + ``git commit-tree``): what ``git commit`` would record now.

Cost: a checkout of every file plus a cold check (no caches) — about what the fresh
clone in CI costs, minus the clone.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from regauto import git, stages
from regauto.errors import BadInputError, GitError
from regauto.project import Project


def commit_to_check(project: Project, rev: str | None, staged: bool) -> str:
    """The commit whose tree ``check`` reads: REV's, or one made of the index."""
    if not project.is_git:
        raise BadInputError("check --rev/--staged: not a git repository")
    if staged:
        try:
            return git.index_commit(project.root)
        except GitError as e:
            raise BadInputError(f"check --staged: the index cannot be written as a tree "
                                f"(an unresolved conflict?): {e}") from e
    assert rev is not None
    commit = git.commit_of(project.root, rev)
    if commit is None:
        raise BadInputError(f"check --rev: {rev!r} names no commit in this repository")
    return commit


@contextmanager
def checked_out(project: Project, commit: str) -> Iterator[Path]:
    """``commit`` checked out in a temporary linked work tree, removed afterwards (also
    when the check fails or is interrupted)."""
    tmp = Path(tempfile.mkdtemp(prefix="regauto-rev-"))
    where = tmp / "tree"
    try:
        _check_out(project, where, commit)
        yield where
    finally:
        git.worktree_remove(project.root, where)
        shutil.rmtree(tmp, ignore_errors=True)


@stages.timed("check out the commit")
def _check_out(project: Project, where: Path, commit: str) -> None:
    git.worktree_add(project.root, where, commit)
