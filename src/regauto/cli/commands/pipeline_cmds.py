"""``regauto init`` and ``regauto sync``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Optional

import typer

from regauto.cli.context import STATE, say
from regauto.cli.options import chosen, command
from regauto.errors import UsageError
from regauto.project import Project
from regauto.textout import shown


class HookKind(str, Enum):
    pre_commit = "pre-commit"
    git = "git"
    none = "none"


def register(app: typer.Typer, panel: str) -> None:
    command(app, "init", init_cmd, panel)
    command(app, "sync", sync_cmd, panel)


def init_cmd(
    hooks: HookKind = typer.Option(
        HookKind.none, "--hooks",
        help="Install hooks: pre-commit (add to .pre-commit-config.yaml), git (plain hooks), "
        "or none.",
    ),
) -> int:
    """Starter config, empty registry, merge driver and hooks; safe to run again."""
    from regauto.automation.init import init
    from regauto.gitint.init_git import init_git

    project = STATE.project(initialised=False)
    done = init(project, hooks.value) + init_git(project, hooks.value)
    for line in done:
        say(line)
    if not done:
        say("already initialised; nothing to do")
        return 0
    from regauto.reconcile.dry_sync import adoption_summary

    for line in adoption_summary(Project.open(project.root, STATE.config)):
        say(line)
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


class SyncFormat(str, Enum):
    text = "text"
    json = "json"


def sync_cmd(
    paths: list[str] = typer.Argument(
        None, metavar="PATH", show_default=False,
        help="Files or folders to process, relative to the current folder."),
    all_: bool = typer.Option(False, "--all", help="Process every included file."),
    dry_run: bool = typer.Option(
        False, "--dry-run",
        help="Print the plan (new ids, renames, headers, reference rewrites); change nothing.",
    ),
    format: Optional[SyncFormat] = typer.Option(  # noqa: UP045 - typer needs Optional on 3.10
        None, "--format", show_default=False,
        help="With --dry-run: text (one line each) or json."),
) -> int:
    """Run the pipeline on PATHs (or on all included files with --all)."""
    from regauto import generators
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
    if dry_run:
        return _dry_run(project, targets, chosen(format, SyncFormat))
    with progress_bar("extracting") as progress:
        result = pipeline.sync(project, targets, progress=progress,
                               post_write=generators.post_write(project))
    report(result)
    return 1 if result.must_retry else 0


def _dry_run(project: Project, targets: list[str], format: SyncFormat) -> int:
    from regauto.reconcile.dry_sync import plan_sync

    plan = plan_sync(project, targets)
    if format == SyncFormat.json:
        from regauto.textout import json_text

        print(json_text(plan.to_json(), indent=1))
    else:
        for line in plan.lines():
            print(line)
        if not plan.lines():
            say("nothing to do")
    if plan.new_ids:
        say("(sync assigns these very ids if run in the same UTC minute with no other "
            "allocation between; later, the ids of a later minute)")
    return 0


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
