"""Work queue throughput: one big enqueue, then claim+complete in batches (SPEC §10).

A watcher that sees a branch switch enqueues thousands of paths at once; the drain then
claims and completes them in batches.  Both run against a real state DB in a temp dir.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.common import Row
from regauto.events.work_queue import WorkQueue

ENQUEUE_TARGET = 20_000  # paths/s
DRAIN_TARGET = 2_000  # jobs/s
BATCH = 100


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def run(quick: bool) -> list[Row]:
    n = 2_000 if quick else 10_000
    paths = [f"src/pkg{i % 97}/module_{i:05d}.py" for i in range(n)]
    with tempfile.TemporaryDirectory() as d:
        q = WorkQueue(Path(d), keep_completed=1000)
        t0 = time.perf_counter()
        touched = q.enqueue(paths)
        enqueue_s = time.perf_counter() - t0
        assert touched == n

        t0 = time.perf_counter()
        again = q.enqueue(paths)  # every path already pending: a read-only merge
        requeue_s = time.perf_counter() - t0
        assert again == 0

        t0 = time.perf_counter()
        done = 0
        while jobs := q.claim("bench", limit=BATCH):
            q.complete(j.id for j in jobs)
            done += len(jobs)
        drain_s = time.perf_counter() - t0
        assert done == n
        q.close()

    enq, req, drain = _rate(n, enqueue_s), _rate(n, requeue_s), _rate(n, drain_s)
    return [
        Row("queue", f"enqueue {n} new paths, one call", "paths/s", f"{enq:,.0f}",
            f">= {ENQUEUE_TARGET:,}", enq >= ENQUEUE_TARGET),
        Row("queue", f"enqueue {n} already-queued paths", "paths/s", f"{req:,.0f}",
            f">= {ENQUEUE_TARGET:,}", req >= ENQUEUE_TARGET),
        Row("queue", f"claim+complete {n} jobs, batches of {BATCH}", "jobs/s", f"{drain:,.0f}",
            f">= {DRAIN_TARGET:,}", drain >= DRAIN_TARGET),
    ]
