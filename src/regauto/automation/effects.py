"""What the pipeline may do to a user's files: the effects that make a file carry its id
(SPEC §4.2) — a rename, a header write — and the reference rewrites a rename calls for.

The pipeline decides *which* effects a batch needs (``carry.py``) and acts only through an
:class:`Effects` object, so one pipeline serves every command:

- :class:`DiskEffects` makes them (``sync``, ``fix``, the hooks, the watcher);
- :class:`DryEffects` only records what it would do, and refuses a rename whose destination
  is taken, as the disk would (``check``, ``fix --dry-run``, ``sync --dry-run``): the
  records then describe the files as they would become, and the actions are reported
  pending;
- :class:`ReportOnly` carries nothing (``mutate=False``: the hooks' catch-up, the watcher
  with ``watch.mutate`` off): the records describe the files as they are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

from regauto.automation import disk_jobs, file_renamer
from regauto.automation.tree import Skipped, WorkTree
from regauto.events.suppression_manager import SuppressionManager
from regauto.project import Project

if TYPE_CHECKING:
    from regauto.automation.pipeline import Pipeline, PipelineResult


class Action(NamedTuple):
    """A change the pipeline made (or, when not mutating, would make) to a user's file."""

    kind: str  # "rename" | "header" | "reference" (a link in ``path`` re-pointed)
    path: str
    new_path: str
    doc_id: str
    done: bool
    detail: str = ""  # reference: "LINE: OLD -> NEW"

    def describe(self) -> str:
        if self.kind == "reference":
            return (f"rewrote the reference {self.path}:{self.detail}" if self.done
                    else f"{self.path}:{self.detail.split(' -> ')[0]} should become "
                    f"{self.detail.split(' -> ')[-1]}")
        if self.kind == "rename":
            return f"renamed {self.path} -> {self.new_path}" if self.done else (
                f"{self.path} should be renamed {self.new_path}")
        return (f"added header doc_id: {self.doc_id} to {self.path}" if self.done
                else f"{self.path} needs the header doc_id: {self.doc_id}")


class Effects(Protocol):
    """The pipeline's only way to change a user's file."""

    carries: bool
    """False: no file is made to carry its id; the records describe the files as they are
    and each action is reported pending (``mutate=False``)."""
    done: bool
    """True: the effects happen (actions are reported done); False: a dry run."""

    def rename(self, src: str, dst: str) -> None:
        """Rename ``src`` to ``dst``; raises ``file_renamer.RenameError``, nothing changed,
        when it cannot (the destination exists)."""

    def write_header(self, path: str, kind: str, doc: str) -> None:
        """Write ``doc_id: doc`` into the header of the file at ``path`` (its content is
        not on disk only: a work-tree file's header is written by its disk job); raises
        ``safe_replace.ChangedError``, the file left as it is, when it changed meanwhile."""

    def rewrite_references(self, pipe: Pipeline, result: PipelineResult) -> None:
        """After the batch: re-point the references to the files ``result`` renamed,
        adding an ``Action`` of kind ``"reference"`` for each."""


class DiskEffects:
    """The effects, made: on the work tree, each announced to the watcher first (so it does
    not process regauto's own change)."""

    carries = True
    done = True

    def __init__(self, project: Project, worktree: WorkTree | None = None) -> None:
        self.project = project
        self.worktree = worktree or WorkTree(project.root)
        self._suppress: SuppressionManager | None = None

    def rename(self, src: str, dst: str) -> None:
        if not self.worktree.exists(src):
            return  # staged name only (the hook): nothing in the work tree to rename
        file_renamer.rename(self.project.root, src, dst, on_rename=self.suppress_pair)

    def write_header(self, path: str, kind: str, doc: str) -> None:
        if not self.worktree.guard.reachable(path):
            return  # staged below what is now a symlinked folder: never written through
        try:
            disk_jobs.write_header(self.project.root / path, kind, doc,
                                   lambda: self.suppress_pair(path, path),
                                   disk_jobs.temp_dir(self.project.state_dir))
        except (FileNotFoundError, Skipped):
            return

    def rewrite_references(self, pipe: Pipeline, result: PipelineResult) -> None:
        from regauto.automation import ref_follow  # imports the pipeline (a second run)

        ref_follow.follow_renames(pipe, result)

    def suppress_pair(self, src: str, dst: str) -> None:
        if self._suppress is None:
            self._suppress = SuppressionManager(self.project.state_dir)
        self._suppress.suppress_many({src, dst}, ttl_ms=self.project.config.watch.suppress_ms)


@dataclass
class DryEffects:
    """The effects, recorded and not made.  A rename is refused when its destination exists
    and no earlier (recorded) rename vacated it, or an earlier one took it.
    ``references``: plan the reference rewrites too (``sync --dry-run``); ``check`` does not
    (its ``broken_reference`` finds them)."""

    root: Path
    references: bool = True
    carries = True
    done = False
    renamed: list[tuple[str, str]] = field(default_factory=list)
    headed: list[tuple[str, str]] = field(default_factory=list)  # (path, doc_id)

    _vacated: set[str] = field(default_factory=set, init=False)  # names a recorded rename freed
    _taken: set[str] = field(default_factory=set, init=False)  # names a recorded rename took

    def rename(self, src: str, dst: str) -> None:
        if dst in self._taken or (dst not in self._vacated
                                  and os.path.lexists(self.root / dst)):
            raise file_renamer.RenameError(
                f"cannot rename {src!r} to {dst!r}: the destination exists; nothing was changed")
        self._vacated.add(src)
        self._taken.discard(src)
        self._taken.add(dst)
        self.renamed.append((src, dst))

    def write_header(self, path: str, kind: str, doc: str) -> None:
        self.headed.append((path, doc))

    def rewrite_references(self, pipe: Pipeline, result: PipelineResult) -> None:
        if self.references:
            from regauto.automation import ref_follow

            ref_follow.plan_renames(pipe, result)


class ReportOnly:
    """No effect at all: the pipeline reports what a file would need, pending."""

    carries = False
    done = False

    def rename(self, src: str, dst: str) -> None:
        raise AssertionError("ReportOnly carries nothing")

    def write_header(self, path: str, kind: str, doc: str) -> None:
        raise AssertionError("ReportOnly carries nothing")

    def rewrite_references(self, pipe: Pipeline, result: PipelineResult) -> None:
        return None
