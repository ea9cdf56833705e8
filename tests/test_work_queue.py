"""Work queue: event merging, leases, dead letters — and real processes that crash.

Child processes are started with ``spawn``; their entry points are the module-level
``_child_*`` functions.  Each writes what it did to a JSON file the test reads back.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regauto.events.work_queue import (
    COMPLETED,
    DEAD_LETTER,
    FAILED,
    QUEUED,
    RUNNING,
    WorkQueue,
    net_event,
)
from tests.conftest import wait_for_file

CTX = multiprocessing.get_context("spawn")


class FakeClock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def pending(q: WorkQueue) -> dict[str, str]:
    return {j.path: j.event for j in q.list() if j.status in (QUEUED, FAILED)}



def _join_all(procs: list[Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for p in procs:
        p.join(max(0.1, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join()
    assert [p.exitcode for p in procs] == [0] * len(procs), "a child failed (see its stderr)"


# --- children ---------------------------------------------------------------------------


def _child_claim_and_hang(state: str, n: int, lease_s: float, out: str) -> None:
    q = WorkQueue(Path(state), lease_s=lease_s)
    jobs = q.claim("doomed", limit=n)
    until = min(j.lease_until or 0.0 for j in jobs)
    # Written aside and renamed: the parent reads it as soon as the name appears.
    Path(out + ".tmp").write_text(json.dumps({"ids": [j.id for j in jobs], "lease_until": until}))
    os.replace(out + ".tmp", out)
    time.sleep(120)  # holding the jobs until SIGKILL


def _child_drain(state: str, worker: str, lease_s: float, out: str, idle_s: float) -> None:
    """Process jobs until nothing has been pending for ``idle_s`` (running jobs of a dead
    worker count as pending: they come back when their lease expires)."""
    q = WorkQueue(Path(state), lease_s=lease_s)
    log: list[tuple[int, str, float]] = []
    idle_since = time.monotonic()
    while True:
        jobs = q.claim(worker, limit=7)
        if jobs:
            for job in jobs:
                log.append((job.id, job.path, time.time()))
            q.complete(j.id for j in jobs)
            idle_since = time.monotonic()
            continue
        c = q.counts()
        if c[QUEUED] + c[FAILED] + c[RUNNING] == 0 and time.monotonic() - idle_since > idle_s:
            break
        time.sleep(0.02)
    Path(out).write_text(json.dumps(log))


def _child_poison_worker(state: str, poison: str, out: str) -> None:
    """Drain the queue; the poison path always fails."""
    q = WorkQueue(Path(state), max_attempts=3)
    claims: list[str] = []
    while jobs := q.claim("w", limit=10):
        for job in jobs:
            claims.append(job.path)
            if job.path == poison:
                q.fail(job.id, f"boom on {job.path}")
            else:
                q.complete([job.id])
    Path(out).write_text(json.dumps(claims))


def _child_crash_on(state: str, poison: str, lease_s: float, out: str) -> None:
    """Claim everything; the poison job kills the worker outright (SIGKILL)."""
    q = WorkQueue(Path(state), max_attempts=3, lease_s=lease_s)
    for job in q.claim("crashy", limit=100):
        if job.path == poison:
            Path(out).write_text("claimed")
            os.kill(os.getpid(), signal.SIGKILL)
        q.complete([job.id])


def _child_claim_race(state: str, seed: int, out: str, start: Any) -> None:
    rng = random.Random(seed)
    q = WorkQueue(Path(state), lease_s=300)
    claimed: list[int] = []
    start.wait()  # a barrier: every child has started (spawned, imported) before any claims
    while jobs := q.claim(f"w{seed}", limit=rng.randint(1, 40)):
        claimed.extend(j.id for j in jobs)
        if rng.random() < 0.5:
            q.complete(j.id for j in jobs)
    Path(out).write_text(json.dumps(claimed))


# --- merging ------------------------------------------------------------------------------

MERGE_TABLE = [
    ("create", "create", "create"),
    ("create", "modify", "create"),
    ("create", "delete", None),
    ("modify", "create", "modify"),
    ("modify", "modify", "modify"),
    ("modify", "delete", "delete"),
    ("delete", "create", "modify"),
    ("delete", "modify", "modify"),
    ("delete", "delete", "delete"),
]


@pytest.mark.parametrize(("first", "second", "expected"), MERGE_TABLE)
def test_event_merge_table(tmp_path: Path, first: str, second: str, expected: str | None) -> None:
    assert net_event(first, second) == expected
    q = WorkQueue(tmp_path)
    q.enqueue(["p"], first)
    q.enqueue(["p"], second)
    assert pending(q) == ({} if expected is None else {"p": expected})
    # The same pair inside one batch merges the same way.
    q2 = WorkQueue(tmp_path / "batch")
    q2.enqueue_events([("p", first), ("p", second)])
    assert pending(q2) == pending(q)


EVENT = st.sampled_from(["create", "modify", "delete"])
PATH = st.sampled_from(["a", "b", "c/d.py"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(PATH, EVENT), max_size=30), st.integers(1, 5))
def test_merging_matches_a_model_however_the_events_are_batched(
    events: list[tuple[str, str]], batch: int
) -> None:
    model: dict[str, str] = {}
    for path, event in events:
        merged = net_event(model[path], event) if path in model else event
        if merged is None:
            del model[path]
        else:
            model[path] = merged
    with tempfile.TemporaryDirectory() as d:
        q = WorkQueue(Path(d))
        for i in range(0, len(events), batch):
            q.enqueue_events(events[i : i + batch])
        assert pending(q) == model
        assert len(q.list()) == len(model)  # one row per path, none left behind
        q.close()


def test_thousand_events_for_one_path_leave_one_job(tmp_path: Path) -> None:
    q = WorkQueue(tmp_path)
    rng = random.Random(1)
    for _ in range(1000):
        q.enqueue(["docs/a.md"], rng.choice(["modify", "create", "delete"]))
    q.enqueue(["docs/a.md"], "modify")
    assert len(q.list()) == 1
    assert q.counts()[QUEUED] == 1
    # … and in one batch as well.
    assert q.enqueue_events([("x.py", "modify")] * 1000) == 1
    assert [j.path for j in q.list()] == ["docs/a.md", "x.py"]


def test_enqueue_counts_rows_touched_in_one_batch(tmp_path: Path) -> None:
    q = WorkQueue(tmp_path)
    assert q.enqueue(["a", "b", "c"], "create") == 3
    assert q.enqueue(["m"]) == 1
    # a: create+modify is still create, nothing written; b: create+delete removes it;
    # m: modify+delete changes it; d: new; e: create+delete of a path with no job leaves
    # nothing to do.
    assert q.enqueue_events(
        [("a", "modify"), ("b", "delete"), ("m", "delete"), ("d", "modify"), ("e", "create"),
         ("e", "delete")]
    ) == 3
    assert pending(q) == {"a": "create", "c": "create", "d": "modify", "m": "delete"}
    assert q.enqueue([]) == 0
    assert q.enqueue(["d"]) == 0  # already queued for exactly this


def test_bad_events_and_paths_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    q = WorkQueue(tmp_path)
    with pytest.raises(ValueError, match="unknown event"):
        q.enqueue_events([("a", "modify"), ("b", "rename")])
    with pytest.raises(ValueError, match="non-empty"):
        q.enqueue([""])
    assert q.list() == []


def test_non_utf8_paths_round_trip(tmp_path: Path) -> None:
    odd = b"caf\xe9/\xff.txt".decode("utf-8", "surrogateescape")
    q = WorkQueue(tmp_path)
    q.enqueue([odd, "café.txt"])
    assert sorted(j.path for j in q.list()) == sorted([odd, "café.txt"])
    [job, _] = q.claim("w")
    assert job.path.encode("utf-8", "surrogateescape") == b"caf\xe9/\xff.txt"


# --- running jobs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("running", "during", "requeued"),
    [
        ("modify", ["modify"], "modify"),
        ("create", ["modify"], "modify"),  # the run registered it; now it changed
        ("modify", ["delete"], "delete"),
        ("create", ["delete"], "delete"),
        ("delete", ["create"], "create"),
        ("delete", ["create", "delete"], None),  # gone before and after: nothing to redo
        ("modify", ["delete", "create"], "modify"),
    ],
)
def test_event_while_running_requeues_on_complete(
    tmp_path: Path, running: str, during: list[str], requeued: str | None
) -> None:
    q = WorkQueue(tmp_path)
    q.enqueue(["p"], running)
    [job] = q.claim("w")
    for event in during:
        q.enqueue(["p"], event)
    [now] = q.list()
    assert now.status == RUNNING and now.rerun and now.event == running
    assert q.claim("other") == []  # still one job per path, still held
    q.complete([job.id])
    [after] = q.list()
    if requeued is None:
        assert after.status == COMPLETED
    else:
        assert (after.status, after.event, after.attempts, after.rerun) == (
            QUEUED, requeued, 0, False,
        )
        [again] = q.claim("w")
        assert again.id == job.id


def test_event_while_running_then_failure_keeps_the_latest_event(tmp_path: Path) -> None:
    q = WorkQueue(tmp_path)
    q.enqueue(["p"], "modify")
    [job] = q.claim("w")
    q.enqueue(["p"], "delete")
    q.fail(job.id, "boom")
    [after] = q.list()
    assert (after.status, after.event, after.rerun, after.last_error) == (
        FAILED, "delete", False, "boom",
    )
    # A created file deleted while its create failed leaves nothing to retry.
    q2 = WorkQueue(tmp_path / "2")
    q2.enqueue(["n"], "create")
    [job] = q2.claim("w")
    q2.enqueue(["n"], "delete")
    q2.fail(job.id, "boom")
    assert q2.list() == []


def test_completed_path_gets_a_fresh_job_on_a_new_event(tmp_path: Path) -> None:
    q = WorkQueue(tmp_path)
    q.enqueue(["p"], "create")
    [job] = q.claim("w")
    q.complete([job.id])
    assert q.enqueue(["p"], "create", ) == 1  # created again after being processed
    [fresh] = q.list()
    assert (fresh.status, fresh.event, fresh.attempts) == (QUEUED, "create", 0)
    [job] = q.claim("w")
    q.complete([job.id])
    assert q.enqueue_events([("p", "create"), ("p", "delete")]) == 0  # nothing to do
    assert q.list()[0].status == COMPLETED


def test_expired_lease_is_claimable_and_the_old_holder_cannot_finish(tmp_path: Path) -> None:
    clock = FakeClock()
    old = WorkQueue(tmp_path, lease_s=10, clock=clock)
    new = WorkQueue(tmp_path, lease_s=10, clock=clock)
    old.enqueue(["p"])
    [job] = old.claim("old")
    clock.t += 9.9
    assert new.claim("new") == []
    clock.t += 0.2
    [taken] = new.claim("new")
    assert (taken.id, taken.attempts, taken.worker) == (job.id, 2, "new")
    assert taken.last_error is not None and "old" in taken.last_error
    old.complete([job.id])  # too late: the lease went to "new"
    old.fail(job.id, "x")
    assert new.get(job.id) == taken
    assert new.heartbeat([job.id]) == 1
    clock.t += 9.9
    assert old.claim("old") == []  # the heartbeat extended the lease
    new.complete([job.id])
    assert new.get(job.id).status == COMPLETED  # type: ignore[union-attr]


def test_worker_restricts_calls_made_through_another_instance(tmp_path: Path) -> None:
    # A heartbeat thread has its own connection (a WorkQueue per thread), so it cannot
    # check our claim's token: naming the worker keeps it off a job someone else took.
    clock = FakeClock()
    mine = WorkQueue(tmp_path, lease_s=10, clock=clock)
    beat = WorkQueue(tmp_path, lease_s=10, clock=clock)
    thief = WorkQueue(tmp_path, lease_s=10, clock=clock)
    mine.enqueue(["p"])
    [job] = mine.claim("me")
    assert beat.heartbeat([job.id], worker="me") == 1
    clock.t += 10
    thief.claim("thief")
    assert beat.heartbeat([job.id], worker="me") == 0
    beat.complete([job.id], worker="me")
    beat.fail(job.id, "x", worker="me")
    assert beat.release([job.id], worker="me") == 0
    assert mine.get(job.id).worker == "thief"  # type: ignore[union-attr]
    assert mine.get(job.id).status == RUNNING  # type: ignore[union-attr]


def test_release_gives_jobs_back_without_spending_an_attempt(tmp_path: Path) -> None:
    q = WorkQueue(tmp_path, max_attempts=1)
    q.enqueue(["settling.log", "gone.tmp"], "create")
    a, b = q.claim("w")
    q.enqueue(["settling.log"], "modify")  # still being written
    q.enqueue(["gone.tmp"], "delete")  # a temp file: created and deleted, never processed
    assert q.release([a.id, b.id]) == 2
    [back] = q.list()
    assert (back.path, back.status, back.event, back.attempts, back.rerun) == (
        "settling.log", QUEUED, "create", 0, False,
    )
    [again] = q.claim("w")
    assert again.attempts == 1  # max_attempts=1 still allows this, the real, attempt
    q.complete([again.id])
    assert q.release([again.id]) == 0  # only running jobs go back


def test_a_job_that_keeps_killing_its_worker_ends_in_dead_letter(tmp_path: Path) -> None:
    clock = FakeClock()
    q = WorkQueue(tmp_path, max_attempts=3, lease_s=1, clock=clock)
    q.enqueue(["poison"])
    for attempt in (1, 2, 3):
        [job] = q.claim(f"w{attempt}")
        assert job.attempts == attempt
        clock.t += 1  # the worker never comes back
    assert q.claim("w4") == []
    [dead] = q.dead()
    assert dead.attempts == 3 and "w3" in (dead.last_error or "")


def test_claim_order_prefers_expired_leases_then_new_work_then_failures(tmp_path: Path) -> None:
    clock = FakeClock()
    q = WorkQueue(tmp_path, lease_s=5, clock=clock)
    q.enqueue(["failed", "expired"])
    failed, _expired = q.claim("w", limit=2)
    q.fail(failed.id, "x")
    clock.t += 5
    q.enqueue(["new"])
    assert [j.path for j in q.claim("w", limit=1)] == ["expired"]
    assert [j.path for j in q.claim("w", limit=1)] == ["new"]
    assert [j.path for j in q.claim("w", limit=1)] == ["failed"]


def test_retry_purge_counts(tmp_path: Path) -> None:
    q = WorkQueue(tmp_path, max_attempts=1)
    q.enqueue(["a", "b", "c"])
    a, b, c = q.claim("w")
    q.fail(a.id, "x")
    q.fail(b.id, "y")
    q.complete([c.id])
    assert q.counts() == {QUEUED: 0, RUNNING: 0, COMPLETED: 1, FAILED: 0, DEAD_LETTER: 2}
    assert [j.path for j in q.dead()] == ["a", "b"]
    q.enqueue(["a"])  # an event does not revive a dead letter…
    assert q.get(a.id).status == DEAD_LETTER  # type: ignore[union-attr]
    assert q.retry(a.id) is True  # … a retry does
    assert q.retry(a.id) is False
    assert q.retry(999) is False
    assert (q.get(a.id).status, q.get(a.id).attempts) == (QUEUED, 0)  # type: ignore[union-attr]
    assert q.retry_all_dead() == 1
    assert q.purge() == 1
    assert q.purge([QUEUED]) == 2
    assert q.counts() == dict.fromkeys((QUEUED, RUNNING, COMPLETED, FAILED, DEAD_LETTER), 0)
    with pytest.raises(ValueError, match="unknown job status"):
        q.list("done")
    with pytest.raises(ValueError, match="unknown job status"):
        q.purge(["done"])


def test_completed_jobs_are_pruned(tmp_path: Path) -> None:
    q = WorkQueue(tmp_path, keep_completed=20)
    q.enqueue(f"f{i}" for i in range(200))
    while jobs := q.claim("w", limit=7):
        q.complete(j.id for j in jobs)
    completed = q.list(COMPLETED)
    assert 20 <= len(completed) <= 22
    assert completed[-1].path == "f199"  # the newest are the ones kept
    # A pruned path comes back as a new job with a new id (ids are never reused).
    q.enqueue(["f0"])
    assert q.list(QUEUED)[0].id > 200


def test_queue_survives_reopening(tmp_path: Path) -> None:
    clock = FakeClock()
    with WorkQueue(tmp_path, lease_s=5, clock=clock) as q:
        q.enqueue(["a", "b", "c"])
        [a] = q.claim("w", limit=1)
        q.enqueue(["a"], "delete")
    with WorkQueue(tmp_path, lease_s=5, clock=clock) as q:
        # Closed unfinished, the claim was handed back (a stop, not a death), with the
        # event that came meanwhile folded in and its attempt not spent.
        assert q.counts()[QUEUED] == 3 and q.counts()[RUNNING] == 0
        assert q.get(a.id).event == "delete"  # type: ignore[union-attr]
        jobs = q.claim("w2")
        assert [j.path for j in jobs] == ["a", "b", "c"]
        assert jobs[0].attempts == 1


# --- real processes -----------------------------------------------------------------------


def test_sigkilled_worker_jobs_are_completed_exactly_once_by_others(tmp_path: Path) -> None:
    state, lease = tmp_path / "state", 1.5
    q = WorkQueue(state, lease_s=lease)
    q.enqueue(f"src/f{i}.py" for i in range(200))
    held_out = tmp_path / "doomed.json"
    doomed = CTX.Process(target=_child_claim_and_hang, args=(str(state), 50, lease, str(held_out)))
    doomed.start()
    wait_for_file(held_out)
    held = json.loads(held_out.read_text())
    assert doomed.pid is not None
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.join(10)
    assert doomed.exitcode == -signal.SIGKILL
    assert len(held["ids"]) == 50

    logs = [tmp_path / f"drain{i}.json" for i in range(2)]
    drains = [
        CTX.Process(target=_child_drain, args=(str(state), f"d{i}", lease, str(log), 0.3))
        for i, log in enumerate(logs)
    ]
    for p in drains:
        p.start()
    _join_all(drains, timeout=60)
    done = [entry for log in logs for entry in json.loads(log.read_text())]
    ids = [job_id for job_id, _, _ in done]
    assert sorted(ids) == sorted(j.id for j in q.list())  # every job, exactly once
    assert len(ids) == len(set(ids)) == 200
    # The dead worker's jobs were taken only after its lease ran out.
    taken_at = {job_id: at for job_id, _, at in done}
    assert min(taken_at[i] for i in held["ids"]) >= held["lease_until"]
    assert q.counts()[COMPLETED] == 200


def test_poison_job_goes_to_dead_letter_and_stays_until_retried(tmp_path: Path) -> None:
    state = tmp_path / "state"
    q = WorkQueue(state, max_attempts=3)
    q.enqueue(["good1", "poison.py", "good2"])
    out = tmp_path / "claims.json"
    worker = CTX.Process(target=_child_poison_worker, args=(str(state), "poison.py", str(out)))
    worker.start()
    _join_all([worker], timeout=30)
    claims = json.loads(out.read_text())
    assert claims.count("poison.py") == 3 and claims.count("good1") == 1
    [dead] = q.dead()
    assert (dead.path, dead.attempts, dead.last_error) == ("poison.py", 3, "boom on poison.py")
    q.enqueue(["poison.py"])  # the watcher sees it change again: still dead
    assert q.claim("w") == []
    assert q.retry(dead.id)
    [again] = q.claim("w")
    assert (again.path, again.attempts) == ("poison.py", 1)


def test_job_that_kills_its_worker_reaches_dead_letter(tmp_path: Path) -> None:
    state, lease = tmp_path / "state", 0.3
    q = WorkQueue(state, max_attempts=3, lease_s=lease)
    q.enqueue(["ok.py", "segfault.py"])
    for attempt in range(3):
        out = tmp_path / f"attempt{attempt}"
        p = CTX.Process(target=_child_crash_on, args=(str(state), "segfault.py", lease, str(out)))
        p.start()
        p.join(30)
        assert p.exitcode == -signal.SIGKILL and out.exists()
        time.sleep(lease + 0.05)
    assert q.claim("w") == []
    [dead] = q.dead()
    assert dead.path == "segfault.py" and dead.attempts == 3
    assert "crashy" in (dead.last_error or "")


def test_eight_processes_never_claim_a_job_twice(tmp_path: Path) -> None:
    state = tmp_path / "state"
    q = WorkQueue(state)
    q.enqueue(f"f{i:05d}" for i in range(4000))
    start = CTX.Barrier(8)  # not an event set by the parent: a child still importing
    outs = [tmp_path / f"claims{i}.json" for i in range(8)]  # would find the queue empty
    procs = [
        CTX.Process(target=_child_claim_race, args=(str(state), i, str(o), start))
        for i, o in enumerate(outs)
    ]
    for p in procs:
        p.start()
    _join_all(procs, timeout=90)  # a "database is locked" error would fail a child
    claims = [job_id for o in outs for job_id in json.loads(o.read_text())]
    assert len(claims) == len(set(claims)) == 4000
    assert sum(1 for o in outs if json.loads(o.read_text())) >= 2  # they did race
