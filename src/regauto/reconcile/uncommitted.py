"""Drift that is only uncommitted work: what ``check`` says instead of "run fix".

With the hooks installed the registry in the index describes the index and the one in the
work tree the work tree; an edit of a registered document that is not staged yet shows in
``check`` (the work tree) as ``modified``, though the next commit records it by itself.
This tells that case apart: every drift is ``modified``, each such document differs from
its staged version, the staged version is what its record describes, and the registry
has no unstaged change of its own.
"""

from __future__ import annotations

from regauto import git
from regauto.project import Project
from regauto.reconcile import drift as D
from regauto.registry.reader import open_reader


def only_uncommitted(project: Project, drifts: list[D.Drift]) -> bool:
    if not drifts or not project.is_git or any(d.kind != D.MODIFIED for d in drifts):
        return False
    paths = sorted({d.path for d in drifts})
    if git.unstaged_paths(project.root, [project.config.registry.strip("/")]):
        return False
    if set(git.unstaged_paths(project.root, paths)) != set(paths):
        return False
    staged = git.ls_files_stage(project.root, paths)
    _, records = open_reader(project).by_paths(paths)
    return all(p in staged and p in records and staged[p].blob == records[p].get("blob")
               for p in paths)


def line(count: int) -> str:
    return (f"{count} document(s) with uncommitted edits: the commit hook records them "
            "(`regauto fix` records them in the work tree now)")
