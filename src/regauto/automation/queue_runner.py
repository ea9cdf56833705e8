"""Drain the work queue through the pipeline (SPEC §10).

Jobs are claimed in batches and each batch is **one** pipeline run (one PromotionPatch, one
registry write), then completed together.  A poison path must not block the others: when a
batch raises, its jobs are run again one by one so that only the bad one fails (and, after
``max_attempts`` claims, lands in dead_letter); errors that are not about any path — a lock
timeout, a compare-and-swap conflict that outlived its retries — fail the whole batch for a
later attempt instead of being retried path by path.

One drain claims each job at most once: its budget is the number of jobs claimable when it
starts, so a failing job is not retried in a tight loop — ``regauto queue run`` is one
attempt per job, and the watcher retries failures on a slower schedule than new work.

Jobs are read from where they say (``Job.source``): the work tree, or git's index for the
jobs a commit hook queued; the renames git detected travel with them (``Job.old_path``).
The git hooks run their own jobs through :meth:`QueueRunner.run_batch` and
:meth:`QueueRunner.settle` (``regauto.gitint.hook_jobs``): the same batch, the same
bookkeeping, with the content source the hook already has at hand.

A claim is a lease; a batch that outlives a third of the lease gets its lease extended by
a heartbeat thread (with its own connection: a ``WorkQueue`` belongs to one thread), so a
long first run on a big repository is not taken over by a second worker.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from regauto import statedb
from regauto.automation.pipeline import Pipeline, PipelineResult
from regauto.automation.tree import Index, Source
from regauto.errors import CASConflict, LockTimeout
from regauto.events.work_queue import DEAD_LETTER, FAILED, INDEX, QUEUED, Job, WorkQueue
from regauto.project import Project
from regauto.registry import PostWrite
from regauto.registry.reader import Reader
from regauto.registry.registry_writer_service import RegistryWriterService
from regauto.safe_replace import CHANGED

# Not about any one path: retrying the batch path by path would only wait N times as long.
SYSTEMIC_ERRORS: tuple[type[Exception], ...] = (LockTimeout, CASConflict)
# A file the pipeline had to skip for this reason was not processed: retry it later
# (the WorkTree source reports unreadable files with these words; a file that changed
# while its header was written says so).
RETRYABLE_SKIPS = ("permission denied", CHANGED)

Split = Callable[[list[Job]], tuple[list[Job], list[Job]]]


@dataclass
class DrainReport:
    """What a drain of the queue did with each job it claimed."""

    processed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # path -> error (claimable again)
    dead: dict[str, str] = field(default_factory=dict)  # path -> error (dead_letter now)
    deferred: list[str] = field(default_factory=list)  # not ready yet, back in the queue
    results: list[PipelineResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.dead


def worker_name() -> str:
    # os.uname(), not socket.gethostname(): the same name, without importing socket
    # on the commit hook's path.
    return f"{os.uname().nodename}:{os.getpid()}:{threading.get_ident()}"


class QueueRunner:
    def __init__(
        self,
        project: Project,
        queue: WorkQueue,
        *,
        mutate: bool,
        reason: str = "queue",
        batch_size: int = 500,
        split: Split | None = None,
        post_write: Sequence[PostWrite] = (),
    ) -> None:
        """``split`` divides claimed jobs into (ready, not yet); the watcher uses it for the
        stability check.  Jobs that are not ready go back to the queue uncounted.
        ``post_write`` goes to each pipeline run (``regauto.generators.post_write``)."""
        self.project = project
        self.queue = queue
        self.mutate = mutate
        self.reason = reason
        self.batch_size = max(1, batch_size)
        self.split = split
        self.post_write = tuple(post_write)
        self.worker = worker_name()

    def drain(
        self, *, include_failed: bool = True, keep_going: Callable[[], bool] = lambda: True
    ) -> DrainReport:
        """Process the jobs claimable now, each at most once; stop early when ``keep_going``
        says so (between batches: a batch in progress is always finished)."""
        report = DrainReport()
        counts = self.queue.counts()
        budget = (counts[QUEUED] + (counts[FAILED] if include_failed else 0)
                  + self.queue.orphaned())
        while budget > 0 and keep_going():
            jobs = self.queue.claim(self.worker, min(self.batch_size, budget))
            if not jobs:
                break
            budget -= len(jobs)
            ready, later = self.split(jobs) if self.split else (jobs, [])
            if later:
                self._defer(later)
                report.deferred.extend(j.path for j in later)
            if ready:
                self.process(ready, report)
        return report

    def process(self, jobs: list[Job], report: DrainReport) -> None:
        """Run claimed ``jobs`` as one pipeline batch per content source; on an error,
        isolate the bad ones."""
        sources = {j.source for j in jobs}
        if len(sources) > 1:
            for source in sorted(sources):
                self.process([j for j in jobs if j.source == source], report)
            return
        try:
            result = self.run_batch(jobs)
        except SYSTEMIC_ERRORS as e:
            for job in jobs:
                self._fail(job, _describe(e), report)
            return
        except Exception as e:
            if statedb.corruption_in(e) is not None:
                raise  # not the jobs' fault: the command heals the database and runs again
            if len(jobs) == 1:
                self._fail(jobs[0], _describe(e), report)
                return
            for job in jobs:
                self.process([job], report)
            return
        report.results.append(result)
        self.settle(jobs, result, report)

    def run_batch(
        self,
        jobs: list[Job],
        *,
        source: Source | None = None,
        renames: dict[str, str] | None = None,
        also: Sequence[str] = (),
        reader: Reader | None = None,
        writer: RegistryWriterService | None = None,
    ) -> PipelineResult:
        """One pipeline run over claimed ``jobs`` (their lease kept alive meanwhile).

        ``source``: where the content is read (default: the jobs' own source); ``renames``
        (new path → old; default: the jobs' ``old_path``); ``also``: paths processed in the
        same batch that the caller could not hold (another worker had them for too long);
        ``reader``/``writer``: the registry to plan against and write (default: the work
        tree's; the commit hook hands in the index's)."""
        if renames is None:
            renames = {j.path: j.old_path for j in jobs if j.old_path is not None}
        if source is None:
            source = Index(self.project.root) if jobs and jobs[0].source == INDEX else None
        with self._heartbeat([j.id for j in jobs]):
            pipe = Pipeline(self.project, source=source or "worktree", mutate=self.mutate,
                            reason=self.reason, post_write=self.post_write,
                            reader=reader, writer=writer)
            return pipe.run([*(j.path for j in jobs), *also], renames=renames)

    def settle(self, jobs: list[Job], result: PipelineResult, report: DrainReport) -> None:
        """Complete the jobs ``result`` processed; fail those it had to skip for a reason
        that may pass (retried later)."""
        done: list[int] = []
        for job in jobs:
            why = result.skipped.get(job.path, "")
            if any(s in why for s in RETRYABLE_SKIPS):
                self._fail(job, f"skipped: {why}", report)
            else:
                done.append(job.id)
                report.processed.append(job.path)
        self.queue.complete(done)

    def fail_all(self, jobs: list[Job], error: BaseException) -> DrainReport:
        """A batch raised: record the error on each of its jobs (claimable again)."""
        report = DrainReport()
        for job in jobs:
            self._fail(job, _describe(error), report)
        return report

    def _fail(self, job: Job, error: str, report: DrainReport) -> None:
        self.queue.fail(job.id, error)
        now = self.queue.get(job.id)
        if now is not None and now.status == DEAD_LETTER:
            report.dead[job.path] = error
        else:
            report.failed[job.path] = error

    def _defer(self, jobs: list[Job]) -> None:
        # The queue has no "unclaim": complete the jobs, then queue them again with the
        # event the disk shows now.  A job marked for a rerun meanwhile is already back
        # in the queue, and the new event folds into it (first event kept, last one ours).
        # Attempts start over: a job that was never run has not failed.
        self.queue.complete(j.id for j in jobs)
        events = []
        for j in jobs:
            if not os.path.lexists(self.project.root / j.path):
                events.append((j.path, "delete"))
            else:
                events.append((j.path, "create" if j.event == "create" else "modify"))
        self.queue.enqueue_events(events, reason=self.reason)

    @contextmanager
    def _heartbeat(self, job_ids: list[int]) -> Iterator[None]:
        stop = threading.Event()
        interval = self.queue.lease_s / 3

        def beat() -> None:
            if stop.wait(interval):
                return  # the usual case: the batch ended first, no connection opened
            try:
                with WorkQueue(self.project.state_dir, lease_s=self.queue.lease_s) as q:
                    while True:
                        q.heartbeat(job_ids)
                        if stop.wait(interval):
                            return
            except sqlite3.Error:
                # The lease then lapses: another worker may take the jobs over, and our
                # complete() is refused (the claim's token): the work is redone, not lost.
                return

        thread = threading.Thread(target=beat, name="regauto-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def _describe(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"
