"""The git hooks' paths go through the work queue (SPEC §10), processed synchronously.

A hook queues the paths it processes — with their content source (git's index for the
commit hook and the registry repairs, the work tree for the catch-up after a checkout or a
merge), its name as the reason, and the renames git detected — and claims exactly those,
in one transaction (``WorkQueue.hold``).  It then runs them as one batch through the queue
runner the daemon uses, and completes them in one more transaction.  So:

- the daemon never processes a path a hook holds (its claim skips a live holder's jobs);
- a hook killed midway (kill -9) leaves its jobs running under the lease of a process that
  no longer exists: they are reclaimed once that lease expires (SPEC §10) — meanwhile the
  next commit waits for them up to ``lock_timeout_s`` and then processes its paths without
  them; a hook stopped by Ctrl-C hands its jobs back as it exits;
- ``regauto queue list`` shows what the last hook did.

A path another live process holds (the daemon in the middle of a batch) is waited for, as
the pipeline's path locks would have made the hook wait, up to ``lock_timeout_s``; then it
is processed in the batch without its job.  The queue must never block a commit: when the
state database cannot be used, the hook processes its paths directly, with one warning.
"""

from __future__ import annotations

import functools
import sqlite3
import sys
import time
from collections.abc import Callable, Collection, Sequence

from regauto import git
from regauto.automation.pipeline import Pipeline, PipelineResult
from regauto.automation.queue_runner import DrainReport, QueueRunner
from regauto.automation.tree import Index, Source
from regauto.events.work_queue import Job, Want, WorkQueue
from regauto.project import Project
from regauto.registry import PostWrite
from regauto.registry.reader import Reader
from regauto.registry.registry_writer_service import RegistryWriterService

QUEUE_ERRORS = (sqlite3.Error, OSError)  # the state database unusable (or unreachable)
POLL_S = 0.02  # how often a busy path is asked for again


def _warn(msg: str) -> None:
    sys.stderr.write(f"regauto: warning: {msg}\n")


def staged_index(project: Project, staged: list[git.Change]) -> tuple[Index, set[str]]:
    """The index as a content source, primed with the entries the staged diff already
    gives (no second listing of the index), and the staged paths that are gone."""
    known: dict[str, git.IndexEntry | None] = {}
    for c in staged:
        known[c.path] = (None if c.blob is None or c.mode is None
                         else git.IndexEntry(c.mode, c.blob, 0, c.path))
        if c.status == "R" and c.old_path is not None:
            known[c.old_path] = None
    return Index(project.root, known), {p for p, e in known.items() if e is None}


def wants(paths: Sequence[str], renames: dict[str, str],
          gone: Collection[str] = ()) -> list[Want]:
    """The jobs for ``paths`` (``gone``: paths with no content on the source's side)."""
    olds = set(renames.values())
    return [Want(p, "delete" if p in gone or p in olds else "modify", renames.get(p))
            for p in dict.fromkeys(paths)]


def process(
    project: Project,
    jobs: list[Want],
    *,
    source: Source,
    reason: str,
    mutate: bool,
    renames: dict[str, str] | None = None,
    post_write: Sequence[PostWrite] = (),
    registry: tuple[Reader, RegistryWriterService] | None = None,
) -> PipelineResult:
    """Queue ``jobs``, hold them, run them as one pipeline batch from ``source`` (with
    ``renames``: new path → old) and complete them.  ``registry``: the reader and writer
    to plan against and write (default: the work tree's registry).  A pipeline error
    fails the jobs and propagates, as it would have without the queue."""
    paths = [w.path for w in jobs]
    renames = dict(renames or {})
    cfg = project.config
    try:
        queue = WorkQueue(project.state_dir, max_attempts=cfg.queue.max_attempts,
                          lease_s=cfg.queue.lease_s)
    except QUEUE_ERRORS as e:
        return _direct(project, paths, renames, source, reason, mutate, post_write, registry, e)
    try:
        runner = QueueRunner(project, queue, mutate=mutate, reason=reason,
                             post_write=post_write)
        try:
            held = _hold(queue, runner.worker, jobs, source.name, reason,
                         cfg.lock_timeout_s)
        except QUEUE_ERRORS as e:
            return _direct(project, paths, renames, source, reason, mutate, post_write,
                           registry, e)
        mine = {j.path for j in held}
        also = [p for p in paths if p not in mine]
        if also:
            _warn(f"{also[0]}{' …' if len(also) > 1 else ''} is held by another regauto "
                  "process (the daemon?) for too long: processed without its queue job")
        try:
            reader, writer = registry or (None, None)
            result = runner.run_batch(held, source=source, renames=renames, also=also,
                                      reader=reader, writer=writer)
        except Exception as e:
            _bookkeep(functools.partial(runner.fail_all, held, e))
            raise
        _bookkeep(lambda: runner.settle(held, result, DrainReport()))
        return result
    finally:
        queue.close()


def _hold(queue: WorkQueue, worker: str, jobs: list[Want], source: str, reason: str,
          timeout_s: float) -> list[Job]:
    """Hold ``jobs``, waiting up to ``timeout_s`` for those another live worker holds."""
    held, busy = queue.hold(worker, jobs, source=source, reason=reason)
    deadline = time.monotonic() + timeout_s
    while busy and time.monotonic() < deadline:
        time.sleep(POLL_S)
        waiting = set(busy)
        more, busy = queue.hold(worker, [w for w in jobs if w.path in waiting],
                                source=source, reason=reason)
        held.extend(more)
    return held


def _bookkeep(fn: Callable[[], object]) -> None:
    """Record the batch's outcome in the queue; the registry is written either way, so a
    queue that fails now costs a warning, never the commit."""
    try:
        fn()
    except QUEUE_ERRORS as e:
        _warn(f"could not record the hook's jobs in the work queue ({e})")


def _direct(project: Project, paths: list[str], renames: dict[str, str], source: Source,
            reason: str, mutate: bool, post_write: Sequence[PostWrite],
            registry: tuple[Reader, RegistryWriterService] | None,
            error: BaseException) -> PipelineResult:
    _warn(f"the work queue is unusable ({error}); processing {len(paths)} path(s) directly")
    reader, writer = registry or (None, None)
    return Pipeline(project, source=source, mutate=mutate, reason=reason,
                    post_write=post_write, reader=reader, writer=writer).run(
                        paths, renames=renames)
