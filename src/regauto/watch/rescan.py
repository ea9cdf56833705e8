"""Rescan: which paths does the registry disagree with, at the cost of a ``git status``?

The watcher rescans when it starts, when a folder vanishes (a ``mv dir elsewhere`` gives one
event for the folder and none for its files), after a watcher error, and on the
reconcile schedule when no reconciler is installed.  Enqueuing every path instead would
make the pipeline read every file of a 100k-document repository each time.

In a git repository git's own stat cache does the work: a tracked file without unstaged
changes has the content of its index entry, so comparing index blobs with record blobs
needs no read; only untracked and modified files are hashed.  Outside git every file is
hashed (no stat cache).  A file whose content git filters (``autocrlf``, LFS) always looks
changed from the index; it is then enqueued on every rescan and the pipeline finds nothing
to do — slower, never wrong.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from regauto import git
from regauto.automation.tree import Skipped, WorkTree, list_documents
from regauto.project import Project
from regauto.registry.reader import open_reader


@dataclass
class Rescan:
    events: list[tuple[str, str]] = field(default_factory=list)  # (path, create|modify|delete)
    folders: set[str] = field(default_factory=set)  # every folder holding a document or record


def rescan(project: Project, keep: Callable[[str], bool] = lambda path: True) -> Rescan:
    """The events that bring the registry up to date; ``keep`` filters the documents
    found (the watcher's filters: a temp file is no more a document here than there)."""
    root = project.root
    blobs = {
        r["path"]: r.get("blob")
        for r in open_reader(project).all_records()
        if isinstance(r.get("path"), str)
    }
    docs = [p for p in list_documents(root, project.config, project.is_git) if keep(p)]
    known = _known_blobs(project) if project.is_git else {}
    out = Rescan()
    tree = WorkTree(root)
    for p in docs:
        recorded = blobs.get(p)
        if recorded is None:
            out.events.append((p, "create"))
        elif known.get(p, "") != recorded and _blob(tree, p) != recorded:
            out.events.append((p, "modify"))
    present = set(docs)
    for p in blobs:
        if p not in present and not os.path.lexists(root / p):
            out.events.append((p, "delete"))
    for p in (*docs, *blobs):
        out.folders.update(parents(p))
    return out


def _known_blobs(project: Project) -> dict[str, str]:
    """Path → blob for tracked files whose work-tree content is their index entry's."""
    entries = git.ls_files_stage(project.root)
    dirty = set(git.unstaged_paths(project.root, ["."]))
    return {p: e.blob for p, e in entries.items() if e.stage == 0 and p not in dirty}


def _blob(tree: WorkTree, path: str) -> str | None:
    try:
        content = tree.read(path)
    except (Skipped, OSError):  # odd or unreadable: let the pipeline judge and report it
        return None
    return None if content is None else content.blob


def parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]
