"""Locks keep writers apart even when someone deletes the lock folder under them.

A writer waiting on a lock file that is deleted would otherwise lock an inode nobody else
will ever open, while a newcomer creates a fresh file and locks that: two writers at once.
Real processes (``spawn``), each logging when it enters and leaves its critical section.
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from pathlib import Path

from regauto.events.lock_manager import LockManager
from tests.conftest import wait_for_file

CTX = multiprocessing.get_context("spawn")


def _child_writer(state_dir: str, name: str, log: str, gate: str) -> None:
    """Announce the wait, take the registry lock, log entering, wait for ``gate``, log
    leaving: two "in" lines in a row in the log are two holders at once."""
    lm = LockManager(Path(state_dir), timeout=60)
    _log(log, f"{name} waiting")
    with lm.registry():
        _log(log, f"{name} in")
        while not Path(gate).exists():
            time.sleep(0.01)
        _log(log, f"{name} out")


def _log(log: str, line: str) -> None:
    with open(log, "a") as f:
        f.write(line + "\n")


def _wait_for_line(log: Path, line: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not (log.exists() and line in log.read_text().splitlines()):
        assert time.monotonic() < deadline, f"{line!r} never logged: {log.read_text()}"
        time.sleep(0.01)


def test_deleting_the_lock_folder_while_a_writer_waits_keeps_writers_apart(
        tmp_path: Path) -> None:
    state, log = tmp_path / "state", tmp_path / "log"
    gates = {n: tmp_path / f"go-{n}" for n in ("w1", "w2", "w3")}
    procs = {}

    def start(name: str) -> None:
        procs[name] = CTX.Process(target=_child_writer,
                                  args=(str(state), name, str(log), str(gates[name])))
        procs[name].start()

    try:
        start("w1")
        _wait_for_line(log, "w1 in")
        start("w2")
        _wait_for_line(log, "w2 waiting")
        time.sleep(0.2)  # w2 is polling w1's lock file
        shutil.rmtree(state / "locks")
        gates["w1"].touch()
        _wait_for_line(log, "w2 in")
        gates["w3"].touch()  # w3 would go straight through, were it not kept out
        start("w3")
        _wait_for_line(log, "w3 waiting")
        time.sleep(0.5)
        assert "w3 in" not in log.read_text(), log.read_text()
        gates["w2"].touch()
        for p in procs.values():
            p.join(30)
        assert [p.exitcode for p in procs.values()] == [0, 0, 0]
    finally:
        for g in gates.values():
            g.touch()
        for p in procs.values():
            if p.is_alive():
                p.kill()
                p.join()
    inside = [line.split()[0] for line in log.read_text().splitlines()
              if line.endswith((" in", " out"))]
    assert inside == ["w1", "w1", "w2", "w2", "w3", "w3"], log.read_text()
    wait_for_file(LockManager(state).lock_file("registry", "registry"))
