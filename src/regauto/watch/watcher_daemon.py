"""The watch loop (SPEC §8.5): file events → work queue → settled files → pipeline.

Events are hints.  Each one that passes the filters and the suppression manager (regauto's
own renames and header writes) is upserted into the work queue by path; the queue keeps
their net effect and survives a restart.  Every tick (a batch of events, or
``TICK_MS`` without any) the loop drains the queue, but a job only runs once its file is
settled: no event for the path in the last ``min_age_ms`` and, when the file exists, the
stability checker's age and sampling agree.  The others go back to the queue.  Settled
jobs run as one pipeline batch, so a move (a delete and a create) is seen as a move.

The pipeline runs with ``mutate = [watch] mutate`` (default false): a new document is
registered under its current name and id; renaming a file an editor holds open would make
the next save recreate the old name.  While git is busy (``index.lock``, a merge, a rebase)
events are still queued but nothing runs.

Rescans (``regauto.watch.rescan``): when the loop starts (after the watcher is armed, so no
event falls in between), when a known folder disappears (``mv dir elsewhere`` gives one
event for the folder, none for its files), after a watcher error, and on the reconcile
schedule when no reconciler is installed.  watchfiles does not report an inotify queue
overflow (its notify backend's rescan flag arrives without a path and is dropped), so the
reconcile schedule is what catches events lost that way.

The loop ends when ``stop`` is set — by :func:`stop_on_signals` on SIGTERM/SIGINT — after
the batch in progress, so a registry write is never cut short.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import watchfiles

from regauto import generators, git
from regauto.automation.queue_runner import DrainReport, QueueRunner
from regauto.errors import RegautoError
from regauto.events.stability_checker import StabilityChecker
from regauto.events.suppression_manager import SuppressionManager
from regauto.events.work_queue import Job, WorkQueue
from regauto.project import Project
from regauto.reconcile.reconciler import reconcile
from regauto.watch import rescan as rescan_mod
from regauto.watch.filters import AllOf, ProjectFilter, TempFileFilter

TICK_MS = 250  # how often the loop looks at the queue when no event arrives
RETRY_FAILED_S = 30.0  # failed jobs are retried this often, new work at every tick
EVENTS = {
    watchfiles.Change.added: "create",
    watchfiles.Change.modified: "modify",
    watchfiles.Change.deleted: "delete",
}

Log = Callable[[str], None]


class Watcher:
    def __init__(self, project: Project, *, log: Log = print) -> None:
        self.project = project
        self.root = project.root
        self.cfg = project.config.watch
        self.log = log
        self.paths = ProjectFilter(project)
        self.filter = AllOf((TempFileFilter(), self.paths))
        self.queue = WorkQueue(project.state_dir, max_attempts=project.config.queue.max_attempts,
                               lease_s=project.config.queue.lease_s)
        self.suppress = SuppressionManager(project.state_dir)
        self.checker = StabilityChecker(self.cfg.min_age_ms, self.cfg.samples,
                                        self.cfg.sample_interval_ms)
        self.runner = QueueRunner(project, self.queue, mutate=self.cfg.mutate, reason="watch",
                                  split=self._split, post_write=generators.post_write(project))
        self.folders: set[str] = set()
        self.last_event: dict[str, float] = {}  # path -> monotonic time of its latest event
        self.rescan_due = True
        self.busy: str | None = None
        self.next_reconcile = time.monotonic() + self.cfg.reconcile_every_s
        self.next_failed_retry = 0.0
        self.now = time.monotonic()

    # -- the loop -----------------------------------------------------------------------
    def run(self, stop: threading.Event) -> int:
        """Watch until ``stop`` is set; returns the exit code (0)."""
        self.log(f"watching {self.root} (mutate={'on' if self.cfg.mutate else 'off'})")
        try:
            while self._watch(stop):
                pass
        finally:
            self.queue.close()
            self.suppress.close()
        self.log("stopped")
        return 0

    def _watch(self, stop: threading.Event) -> bool:
        """Run one watcher until stopped (False) or broken (True: start another)."""
        # The filter runs in tick(), not inside watchfiles: watchfiles does not yield a
        # batch its filter emptied, and a stream of ignored events (a build writing into
        # an excluded folder, our own registry writes) would starve the loop of its ticks.
        changes = watchfiles.watch(
            self.root, watch_filter=None, stop_event=stop, debounce=self.cfg.debounce_ms,
            step=50, rust_timeout=TICK_MS, yield_on_timeout=True, raise_interrupt=False,
        )
        while True:
            try:
                batch = next(changes)
            except StopIteration:  # the stop event, or a signal
                return False
            except RuntimeError as e:  # watchfiles' internal/file-system error
                self.log(f"watcher error, restarting it: {e}")
                self.rescan_due = True
                return not stop.wait(1.0)
            self.tick(batch, stop)
            if stop.is_set():
                return False

    def tick(self, changes: Iterable[tuple[watchfiles.Change, str]], stop: threading.Event
             ) -> None:
        # One time stamp for everything queued in this tick: the two halves of a move
        # (a delete and a create, or a vanished folder's rescan) become ready together
        # and run in one pipeline batch, where the move is recognised.
        self.now = now = time.monotonic()
        self._enqueue(self._events(changes))
        if self._git_busy():  # the tree is in flux: queue events, run nothing
            return
        if self.cfg.reconcile_every_s and now >= self.next_reconcile:
            self.next_reconcile = now + self.cfg.reconcile_every_s
            self._guard("reconcile", self._reconcile)
        if self.rescan_due:
            self._guard("rescan", self._rescan)
        include_failed = now >= self.next_failed_retry
        if include_failed:
            self.next_failed_retry = now + RETRY_FAILED_S
        report = self.runner.drain(
            include_failed=include_failed,
            keep_going=lambda: not stop.is_set() and not self._git_busy(),
        )
        self._report(report)

    # -- events -------------------------------------------------------------------------
    def _events(self, changes: Iterable[tuple[watchfiles.Change, str]]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for change, path in changes:
            if not self.filter(change, path):
                continue
            rel = self.paths.rel(path)
            if rel is None:
                continue
            event = EVENTS[change]
            if self.suppress.is_suppressed(rel, event):
                continue
            full = self.root / rel
            if event != "delete" and full.is_dir() and not full.is_symlink():
                if event == "create":  # created or moved in: its files may have no events
                    out.extend((p, "create") for p in self._walk(full))
                continue
            if event == "delete" and rel in self.folders:
                self.folders = {f for f in self.folders if f != rel and
                                not f.startswith(rel + "/")}
                self.rescan_due = True  # its records need "delete" jobs
                continue
            if self.project.config.is_included(rel):
                out.append((rel, event))
        return out

    def _walk(self, folder: Path) -> Iterator[str]:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames
                           if self.filter(watchfiles.Change.added, os.path.join(dirpath, d))]
            for d in dirnames:
                self.folders.add(Path(dirpath, d).relative_to(self.root).as_posix())
            for f in filenames:
                full = os.path.join(dirpath, f)
                rel = Path(full).relative_to(self.root).as_posix()
                if self.filter(watchfiles.Change.added, full) and \
                        self.project.config.is_included(rel):
                    yield rel
        self.folders.add(folder.relative_to(self.root).as_posix())

    def _enqueue(self, events: list[tuple[str, str]]) -> None:
        if not events:
            return
        for path, event in events:
            self.last_event[path] = self.now
            if event != "delete":
                self.folders.update(rescan_mod.parents(path))
        self.queue.enqueue_events(events, reason="watch")

    # -- readiness ------------------------------------------------------------------------
    def _split(self, jobs: list[Job]) -> tuple[list[Job], list[Job]]:
        """(settled, not yet): quiet for ``min_age_ms`` and, if present, stable on disk."""
        now = time.monotonic()
        min_age_s = self.cfg.min_age_ms / 1000
        self.last_event = {p: t for p, t in self.last_event.items() if now - t < min_age_s}
        quiet = [j for j in jobs if j.path not in self.last_event]
        present = {j.path: self.root / j.path for j in quiet
                   if os.path.lexists(self.root / j.path)}
        settled = self.checker.settled(present.values())
        ready = [j for j in quiet if j.path not in present or present[j.path] in settled]
        ready_ids = {j.id for j in ready}
        return ready, [j for j in jobs if j.id not in ready_ids]

    def _git_busy(self) -> bool:
        busy = git.in_progress(self.project.git_dir) if self.project.git_dir else None
        if busy != self.busy:
            self.log(f"git is busy ({busy}): waiting" if busy else "git is done: resuming")
            self.busy = busy
        return busy is not None

    # -- rescans and the reconciler -------------------------------------------------------
    def _rescan(self) -> None:
        self.rescan_due = False
        root = str(self.root)
        found = rescan_mod.rescan(self.project, lambda p: self.filter(
            watchfiles.Change.added, os.path.join(root, p)))
        self.folders |= found.folders
        if found.events:
            self.log(f"rescan: {len(found.events)} path(s) to look at")
            self._enqueue(found.events)

    def _reconcile(self) -> None:
        if not self.cfg.mutate:
            # The reconciler's fix renames files and writes headers: without mutate, the
            # rescan repairs the content drift (untracked, modified, missing) instead.
            self.rescan_due = True
            return
        for line in reconcile(self.project, apply=True).actions:
            self.log(f"reconcile: {line}")

    def _guard(self, what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except RegautoError as e:  # try again later; the daemon must outlive a busy git
            self.log(f"{what} failed: {e}")
            self.rescan_due = self.rescan_due or what == "rescan"

    # -- output ---------------------------------------------------------------------------
    def _report(self, report: DrainReport) -> None:
        for result in report.results:
            for path, doc in sorted(result.new_ids.items()):
                self.log(f"registered {path} as {doc}")
            for action in result.actions:
                self.log(action.describe())
            for path in result.deleted:
                self.log(f"removed the record of {path} (file gone)")
            for path, why in sorted(result.skipped.items()):
                self.log(f"skipped {path}: {why}")
            if result.write is not None and result.write.changed:
                self.log(f"registry updated: {result.write.records_changed} record(s)")
        for path, error in sorted(report.failed.items()):
            self.log(f"failed {path} (will retry): {error}")
        for path, error in sorted(report.dead.items()):
            self.log(f"gave up on {path} (dead letter; `regauto queue retry`): {error}")


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop`` (the loop finishes its batch and returns); a second
    SIGINT raises KeyboardInterrupt for the impatient.  Handlers restored on exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
