"""Suppression entries: shared between processes through the state DB, and time-bound."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

import pytest

from regauto.events.suppression_manager import SuppressionManager

CTX = multiprocessing.get_context("spawn")


class FakeClock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _child_suppress(state: str, ready: str) -> None:
    """What the commit hook does before renaming: suppress the old and the new name."""
    sm = SuppressionManager(Path(state))
    before = time.time()
    sm.suppress("docs/notes.md", "*", ttl_ms=1500)
    sm.suppress_many(["docs/2026010100000001_notes.md"], "create", ttl_ms=1500)
    Path(ready).write_text(json.dumps({"before": before, "after": time.time()}))


def test_entry_written_by_one_process_suppresses_in_another_and_expires(tmp_path: Path) -> None:
    state, ready = tmp_path / "state", tmp_path / "ready.json"
    sm = SuppressionManager(state)  # the daemon, already running
    child = CTX.Process(target=_child_suppress, args=(str(state), str(ready)))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    written = json.loads(ready.read_text())
    new_name = "docs/2026010100000001_notes.md"
    assert sm.is_suppressed("docs/notes.md", "delete")
    assert sm.is_suppressed("docs/notes.md", "modify")
    assert sm.is_suppressed(new_name, "create")
    assert not sm.is_suppressed(new_name, "modify")  # only the event it was told about
    assert not sm.is_suppressed("docs/other.md", "create")
    while sm.is_suppressed("docs/notes.md", "delete"):
        time.sleep(0.005)
    expired_at = time.time()
    # Never early; late only by the polling and scheduling of this loop.
    assert written["before"] + 1.5 <= expired_at <= written["after"] + 1.5 + 0.25
    assert not sm.is_suppressed(new_name, "create")
    assert sm.prune() == 2
    assert sm.prune() == 0


def test_suppressing_again_extends_but_never_shortens(tmp_path: Path) -> None:
    clock = FakeClock()
    sm = SuppressionManager(tmp_path, clock=clock)
    sm.suppress("a", "modify", ttl_ms=5000)
    sm.suppress("a", "modify", ttl_ms=1000)
    clock.t += 4
    assert sm.is_suppressed("a", "modify")
    sm.suppress("a", "modify", ttl_ms=3000)
    clock.t += 2.9
    assert sm.is_suppressed("a", "modify")
    clock.t += 0.2
    assert not sm.is_suppressed("a", "modify")


def test_clock_stepping_back_does_not_stretch_an_entry(tmp_path: Path) -> None:
    clock = FakeClock()
    sm = SuppressionManager(tmp_path, clock=clock)
    sm.suppress("a", ttl_ms=2000)
    clock.t -= 3600  # an hour back: the entry would otherwise live for an hour
    assert not sm.is_suppressed("a", "modify")
    assert sm.prune() == 1


def test_star_query_matches_only_star_entries(tmp_path: Path) -> None:
    sm = SuppressionManager(tmp_path)
    sm.suppress("a", "modify")
    assert not sm.is_suppressed("a", "*")
    sm.suppress("a")
    assert sm.is_suppressed("a", "*")


def test_non_utf8_paths_and_bad_ttl(tmp_path: Path) -> None:
    sm = SuppressionManager(tmp_path)
    odd = b"\xff\xfe.txt".decode("utf-8", "surrogateescape")
    sm.suppress(odd, "create")
    assert sm.is_suppressed(odd, "create")
    assert not sm.is_suppressed("\ufffd\ufffd.txt", "create")
    with pytest.raises(ValueError, match="ttl_ms"):
        sm.suppress("a", ttl_ms=0)


def test_expired_entries_are_swept_while_writing(tmp_path: Path) -> None:
    clock = FakeClock()
    with SuppressionManager(tmp_path, clock=clock) as sm:
        for i in range(600):
            sm.suppress(f"f{i}", ttl_ms=1000)
            clock.t += 0.1
        # Without sweeping there would be 600 rows; at most the last sweep interval is left.
        assert sm.prune() < 300
