"""Stability checker against a real writer process and real file-system timestamps."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

from regauto.events.stability_checker import StabilityChecker, signature

CTX = multiprocessing.get_context("spawn")


def _child_append(path: str, every_s: float, for_s: float, log: str) -> None:
    """Append a line every ``every_s`` for ``for_s``; log when each write started."""
    starts = []
    end = time.monotonic() + for_s
    while time.monotonic() < end:
        starts.append(time.time())
        with open(path, "a") as f:
            f.write(f"line {len(starts)}\n")
        time.sleep(every_s)
    Path(log).write_text(json.dumps(starts))


def test_file_being_appended_is_not_settled_before_last_write_plus_min_age(
    tmp_path: Path,
) -> None:
    target, log = tmp_path / "growing.log", tmp_path / "writes.json"
    target.touch()
    os.utime(target, (0, 0))  # old and empty: settled until the writer starts
    checker = StabilityChecker(min_age_ms=500, samples=2, sample_interval_ms=100)
    writer = CTX.Process(target=_child_append, args=(str(target), 0.1, 2.0, str(log)))
    writer.start()
    while target.stat().st_size == 0:
        time.sleep(0.005)
    settled_at = None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if checker.is_settled(target):
            settled_at = time.time()
            break
    writer.join(10)
    assert writer.exitcode == 0
    writes = json.loads(log.read_text())
    assert len(writes) >= 15
    assert settled_at is not None, "never settled after the writer stopped"
    # The kernel stamps mtime from a coarse clock that may lag time.time() by a tick.
    assert settled_at >= writes[-1] + 0.5 - 0.01
    assert settled_at <= writes[-1] + 0.5 + 1.0


def test_wait_settled_gives_up_on_a_file_that_never_settles(tmp_path: Path) -> None:
    target, log = tmp_path / "busy.log", tmp_path / "writes.json"
    writer = CTX.Process(target=_child_append, args=(str(target), 0.05, 1.6, str(log)))
    writer.start()
    try:
        while not target.exists():
            time.sleep(0.005)
        t0 = time.monotonic()
        assert StabilityChecker(min_age_ms=300).wait_settled(target, timeout_s=1.0) is False
        assert time.monotonic() - t0 < 1.5
    finally:
        writer.join(10)


def test_wait_settled_returns_once_the_writer_stops(tmp_path: Path) -> None:
    target = tmp_path / "new.txt"
    target.write_text("done")
    t0 = time.monotonic()
    assert StabilityChecker(min_age_ms=300, sample_interval_ms=50).wait_settled(target, 5)
    assert 0.25 <= time.monotonic() - t0 < 2


def test_missing_file_is_not_settled(tmp_path: Path) -> None:
    checker = StabilityChecker(min_age_ms=0)
    assert checker.is_settled(tmp_path / "nope") is False
    t0 = time.monotonic()
    assert checker.wait_settled(tmp_path / "nope", timeout_s=5) is False
    assert time.monotonic() - t0 < 0.5
    assert signature(tmp_path / "nope" / "deeper") is None


def test_young_file_is_rejected_without_sampling(tmp_path: Path) -> None:
    target = tmp_path / "young"
    target.write_text("x")
    sleeps: list[float] = []
    checker = StabilityChecker(min_age_ms=60_000, sleep=sleeps.append)
    assert checker.is_settled(target) is False
    assert sleeps == []


def test_save_by_rename_between_samples_is_a_change(tmp_path: Path) -> None:
    # An editor saves by writing a temp file and renaming it over the original: same
    # size, same mtime (copied here), new inode.
    target = tmp_path / "doc.md"
    target.write_text("same")
    os.utime(target, (0, 0))

    def editor_saves(_: float) -> None:
        tmp = tmp_path / ".doc.md.swp"
        tmp.write_text("same")
        os.utime(tmp, (0, 0))
        os.replace(tmp, target)

    assert StabilityChecker(min_age_ms=0, sleep=editor_saves).is_settled(target) is False
    assert StabilityChecker(min_age_ms=0, sleep=lambda _: None).is_settled(target) is True


def test_future_mtime_settles_by_watching_instead_of_never(tmp_path: Path) -> None:
    target = tmp_path / "from-a-skewed-clock"
    target.write_text("x")
    future = time.time() + 3600
    os.utime(target, (future, future))
    sleeps: list[float] = []
    checker = StabilityChecker(min_age_ms=400, samples=2, sample_interval_ms=100,
                               sleep=sleeps.append)
    assert checker.is_settled(target) is True
    assert sum(sleeps) >= 0.4  # watched unchanged for min_age instead of trusting mtime

    def touch(_: float) -> None:
        target.write_text("changed")
        os.utime(target, (future, future + 1))

    assert StabilityChecker(min_age_ms=400, sleep=touch).is_settled(target) is False


def test_many_files_are_sampled_together(tmp_path: Path) -> None:
    files = []
    for i in range(50):
        f = tmp_path / f"f{i}"
        f.write_text(str(i))
        os.utime(f, (0, 0))
        files.append(f)
    fresh = tmp_path / "fresh"
    fresh.write_text("new")
    sleeps: list[float] = []
    checker = StabilityChecker(min_age_ms=500, samples=3, sample_interval_ms=100,
                               sleep=sleeps.append)
    assert checker.settled([*files, fresh, tmp_path / "missing"]) == set(files)
    assert sleeps == [0.1, 0.1]  # one sleep per sample, not per file
