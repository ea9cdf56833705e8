"""``regauto init`` and ``regauto sync``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum

import typer

from regauto.cli.context import STATE, say
from regauto.errors import UsageError
from regauto.textout import shown


class HookKind(str, Enum):
    pre_commit = "pre-commit"
    git = "git"
    none = "none"


def register(app: typer.Typer) -> None:
    app.command("init")(init_cmd)
    app.command("sync")(sync_cmd)


def init_cmd(
    hooks: HookKind = typer.Option(
        HookKind.none, "--hooks",
        help="Install hooks: pre-commit (add to .pre-commit-config.yaml), git (plain hooks), "
        "or none.",
    ),
) -> int:
    """Starter config, empty registry, merge driver and hooks; safe to run again."""
    from regauto.automation.init import init

    done = init(STATE.project(), hooks.value)
    for line in done:
        say(line)
    if not done:
        say("already initialised; nothing to do")
    return 0


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on a terminal (hidden with -q or when not a terminal)."""
    if STATE.quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as prog:
        task = prog.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total)

        yield update


def sync_cmd(
    paths: list[str] = typer.Argument(None, help="Files or folders to process."),
    all_: bool = typer.Option(False, "--all", help="Process every included file."),
) -> int:
    """Run the pipeline on PATHs (or on all included files with --all)."""
    from regauto.automation import pipeline

    project = STATE.project()
    if all_ and paths:
        raise UsageError("give PATHs or --all, not both")
    if not all_ and not paths:
        raise UsageError("nothing to sync: give PATHs or --all")
    unknown: list[str] = []
    targets = (pipeline.all_paths(project) if all_
               else pipeline.rel_paths(project, paths, strict=True, unknown=unknown))
    if unknown:  # not -q: it may be a typo the user must see
        sys.stderr.write(f"regauto: warning: {shown(', '.join(unknown))}: no such file, and no "
                         "record in the registry (a typo, or already handled): nothing to do\n")
    with progress_bar("extracting") as progress:
        result = pipeline.sync(project, targets, progress=progress)
    report(result)
    return 1 if result.must_retry else 0


def report(result: object) -> None:
    from regauto.automation.pipeline import PipelineResult

    assert isinstance(result, PipelineResult)
    for path, doc in sorted(result.new_ids.items()):
        say(f"registered {path} as {doc}")
    for a in result.actions:
        say(a.describe())
    for path in result.deleted:
        say(f"removed the record of {path} (file gone)")
    for path, why in sorted(result.skipped.items()):
        say(f"skipped {path}: {why}")
    w = result.write
    if w is not None and w.changed:
        say(f"registry updated: {w.records_changed} record(s), {w.new_hash}")
    elif not result.new_ids and not result.actions:
        say("registry up to date")
