"""``regauto queue list|add|run|retry|dead|purge``: the work queue (SPEC §8.1, §10)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.text import Text

from regauto.cli.context import STATE, out, say
from regauto.cli.options import chosen, command, group
from regauto.errors import BadInputError, UsageError
from regauto.textout import json_text, shown

if TYPE_CHECKING:
    from regauto.events.work_queue import Job, WorkQueue

queue_app = typer.Typer(
    name="queue", help="The work queue: list, add, run, retry, dead, purge.",
    no_args_is_help=True,
)


class Fmt(str, Enum):
    text = "text"
    json = "json"


class Status(str, Enum):
    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"
    dead_letter = "dead_letter"


def register(app: typer.Typer, panel: str) -> None:
    group(queue_app)
    for name, fn in (("list", list_cmd), ("add", add_cmd), ("run", run_cmd),
                     ("retry", retry_cmd), ("dead", dead_cmd), ("purge", purge_cmd)):
        command(queue_app, name, fn)
    app.add_typer(queue_app, name="queue", rich_help_panel=panel)


def _format_option() -> Any:
    return typer.Option(None, "--format", show_default=False, help="text (default) or json.")


@contextmanager
def _queue() -> Iterator[WorkQueue]:
    from regauto.events.work_queue import WorkQueue

    cfg = STATE.project().config.queue
    with WorkQueue(STATE.project().state_dir, max_attempts=cfg.max_attempts,
                   lease_s=cfg.lease_s) as q:
        yield q


def _print_jobs(jobs: list[Job], fmt: Fmt | None) -> None:
    if chosen(fmt, Fmt) == Fmt.json:
        print(json_text([j._asdict() for j in jobs], indent=1))
        return
    from rich.table import Table

    t = Table(title=f"{len(jobs)} job(s)")
    for col in ("id", "status", "event", "source", "attempts", "path", "last error"):
        t.add_column(col, overflow="fold")
    for j in jobs:
        error = (j.last_error or "").strip().splitlines()
        t.add_row(str(j.id), j.status + (" (rerun)" if j.rerun else ""), j.event,
                  j.source + (f" ({j.reason})" if j.reason else ""), str(j.attempts),
                  Text(shown(j.path)), Text(shown(error[0][:120]) if error else ""))
    out().print(t)


def list_cmd(
    format: Optional[Fmt] = _format_option(),  # noqa: UP045 - typer needs Optional on 3.10
    status: Optional[Status] = typer.Option(  # noqa: UP045 - typer needs Optional on 3.10
        None, "--status", metavar="STATUS",
        help="Only jobs with this status: queued, running, completed, failed or dead_letter."
    ),
) -> int:
    """List the jobs (oldest first)."""
    with _queue() as q:
        _print_jobs(q.list(status.value if status else None), format)
    return 0


def add_cmd(
    paths: list[str] = typer.Argument(..., help="Files or folders to queue."),
) -> int:
    """Queue PATHs for the pipeline without processing them (`queue run` or the watcher
    does that)."""
    from regauto.automation import pipeline

    project = STATE.project()
    try:
        targets = pipeline.rel_paths(project, paths)
    except BadInputError:
        # A name the file system rejects (too long, say): queue it as given; the run
        # reports the error on that job alone.  A path outside the repository still fails
        # here, in project.rel.
        targets = []
        for p in paths:
            try:
                targets.extend(pipeline.rel_paths(project, [p]))
            except BadInputError:
                targets.append(project.rel(p))
    events = [(p, "modify" if os.path.lexists(project.root / p) else "delete") for p in targets]
    with _queue() as q:
        q.enqueue_events(events, reason="queue add")
    say(f"queued {len(targets)} path(s)")
    return 0


def run_cmd(
    mutate: Optional[bool] = typer.Option(  # noqa: UP045
        None, "--mutate/--no-mutate",
        help="Rename files / write headers (default: the config's watch.mutate, like the watcher).",
    ),
    batch_size: int = typer.Option(500, "--batch-size", min=1, help="Jobs per pipeline run."),
) -> int:
    """Process the queued and failed jobs now, each once; exit 1 if any failed."""
    from regauto import generators
    from regauto.automation.queue_runner import QueueRunner
    from regauto.cli.commands.pipeline_cmds import report as print_result

    project = STATE.project()
    with _queue() as q:
        if mutate is None:
            mutate = project.config.watch.mutate
        runner = QueueRunner(project, q, mutate=mutate, reason="queue", batch_size=batch_size,
                             post_write=generators.post_write(project))
        rep = runner.drain()
    for result in rep.results:
        print_result(result)
    for path, error in sorted(rep.failed.items()):
        say(f"failed {path} (will be retried): {error}")
    for path, error in sorted(rep.dead.items()):
        say(f"dead letter {path} (`regauto queue retry`): {error}")
    if not rep.processed and rep.ok:
        say("queue empty: nothing to do")
    else:
        say(f"processed {len(rep.processed)}, failed {len(rep.failed)}, "
            f"dead-lettered {len(rep.dead)}")
    return 0 if rep.ok else 1


MAX_JOB_ID = (1 << 63) - 1


def retry_cmd(
    job_id: Optional[int] = typer.Argument(  # noqa: UP045
        None, metavar="[ID]", help="The job to requeue (see `regauto queue dead`)."
    ),
    all_dead: bool = typer.Option(False, "--all-dead", help="Requeue every dead letter."),
) -> int:
    """Requeue a dead-lettered or failed job with fresh attempts."""
    if (job_id is None) == (not all_dead):
        raise UsageError("give either a job ID or --all-dead")
    with _queue() as q:
        if all_dead:
            say(f"requeued {q.retry_all_dead()} job(s)")
            return 0
        assert job_id is not None
        if not 0 < job_id <= MAX_JOB_ID:  # SQLite's integers are 64-bit
            raise UsageError(f"job {job_id} cannot be retried: no such job")
        if not q.retry(job_id):
            job = q.get(job_id)
            why = "no such job" if job is None else f"it is {job.status}"
            raise UsageError(f"job {job_id} cannot be retried: {why}")
    say(f"requeued job {job_id}")
    return 0


def dead_cmd(format: Optional[Fmt] = _format_option()) -> int:  # noqa: UP045
    """List the dead letters: jobs that failed max_attempts times."""
    with _queue() as q:
        _print_jobs(q.dead(), format)
    return 0


def purge_cmd(
    status: list[Status] = typer.Option(
        [Status.completed], "--status", metavar="STATUS",
        help="Remove jobs with this status (repeatable): queued, running, completed, failed "
        "or dead_letter."
    ),
) -> int:
    """Remove finished jobs (default: completed) from the queue."""
    with _queue() as q:
        n = q.purge(s.value for s in status)
    say(f"purged {n} job(s)")
    return 0
