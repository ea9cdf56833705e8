"""kill -9 at any moment never leaves a half-written registry (SPEC §7).

A writer process applies large patches (most shards touched: adds, deletes, changes) in a
loop over a three-state cycle and is SIGKILLed by the test at random moments.  After each
kill the next read recovers, and the registry must parse and hash to exactly the state
before or after the patch in flight.  The expected hashes are computed independently:
each state's shards are written directly in canonical form and hashed with hashlib.

To make 200+ kills cheap, a long-lived "zygote" process imports regauto once and forks a
fresh writer child on request; the test kills that child.  Deterministic crash points
(``REGAUTO_TEST_CRASH=<step>``, steps named as in ``regauto.durable_faults``) cover each
step of the write exactly.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import run_regauto
from regauto.durable import CRASH_ENV
from regauto.registry import writer_stats
from registry_helpers import (
    Registry,
    cycle_changes,
    cycle_state,
    manifest_hash,
    simple,
    write_shards,
)

N_DOCS = 120  # a patch touches ~95 shard files; the registry has ~80
SWEEP_KILLS = int(os.environ.get("REGAUTO_KILL_SWEEP", "200"))

_ZYGOTE = textwrap.dedent(
    """
    import os, sys, time, traceback
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from registry_helpers import Registry, cycle_changes, simple

    ROOT, N = Path({root!r}), {n}
    # Build the patches once, before any fork: the children start writing at once.
    CHANGES = [cycle_changes(j, N) for j in range(3)]

    def child(state, crash, mode):
        if crash != "-":
            os.environ[{crash_env!r}] = crash
        reg = Registry(ROOT)
        w = reg.writer()
        while True:
            state = (state + 1) % 3
            os.write(1, f"apply {{state}}\\n".encode())
            w.apply(simple(w.current_hash(), CHANGES[state]))
            os.write(1, f"done {{state}}\\n".encode())
            if mode == "once":
                return
            if mode == "paced":
                time.sleep(0.02)  # leave readers a turn at the (unfair) lock

    # Every line goes out in ONE write(2): the child writes to the same pipe, and print()
    # may split a line into several writes (it does under PYTHONUNBUFFERED), letting the
    # child's lines land in the middle of ours.
    for line in sys.stdin:
        state, crash, mode = line.split()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                child(int(state), crash, mode)
            except BaseException:
                os.write(1, ("error " + traceback.format_exc().replace("\\n", " | ")
                             + "\\n").encode())
                code = 1
            os._exit(code)
        os.write(1, f"pid {{pid}}\\n".encode())
        _, status = os.waitpid(pid, 0)
        os.write(1, f"exit {{pid}} {{status}}\\n".encode())
    """
)


class Zygote:
    def __init__(self, root: Path) -> None:
        script = root / "zygote.py"
        script.write_text(_ZYGOTE.format(
            tests=str(Path(__file__).parent), root=str(root), n=N_DOCS, crash_env=CRASH_ENV))
        self.proc = subprocess.Popen(
            [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, bufsize=1,
        )

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the zygote died"
        return line.strip()

    def run(self, state: int, crash: str = "-", *, mode: str = "once",
            kill_after: float | None = None) -> tuple[list[str], int]:
        """Fork a writer child; optionally SIGKILL it after ``kill_after`` seconds.

        Returns the child's output lines and its wait status.
        """
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{state} {crash} {mode}\n")
        self.proc.stdin.flush()
        lines: list[str] = []
        while not (line := self._line()).startswith("pid "):
            lines.append(line)
        pid = int(line.split()[1])
        if kill_after is not None:
            time.sleep(kill_after)
            os.kill(pid, signal.SIGKILL)
        while not (line := self._line()).startswith("exit "):
            lines.append(line)
        errors = [ln for ln in lines if ln.startswith("error")]
        assert not errors, errors
        return lines, int(line.split()[2])

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()  # and with it, nothing: its child is already dead
                self.proc.wait()
            self.proc.stdout.close()


@pytest.fixture
def expected(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The registry_hash of each state of the cycle, from shards written directly."""
    out = []
    for j in range(3):
        d = tmp_path_factory.mktemp(f"state{j}")
        write_shards(d, list(cycle_state(j, N_DOCS).values()))
        out.append(manifest_hash(d))
    assert len(set(out)) == 3
    return out


@pytest.fixture
def setup(tmp_path: Path, expected: list[str]) -> Iterator[tuple[Registry, Zygote]]:
    reg = Registry(tmp_path)
    w = reg.writer()
    res = w.apply(simple(w.current_hash(), cycle_changes(0, N_DOCS)))
    assert res.new_hash == expected[0], "the writer's output is not canonical"
    z = Zygote(tmp_path)
    yield reg, z
    z.close()


def _check(reg: Registry, expected: list[str], allowed: set[int]) -> int:
    """Recover as the next reader would; the registry must be one of ``allowed`` states."""
    h = reg.reader().current_hash()
    assert h in {expected[j] for j in allowed}, f"hash {h} is not of states {allowed}"
    assert manifest_hash(reg.dir) == h, "the stat-keyed hash cache disagrees with the files"
    assert reg.leftovers() == []
    state = expected.index(h)
    recs = reg.store.load_all()  # parses every shard
    assert {r["doc_id"]: r for r in recs} == cycle_state(state, N_DOCS)
    return state


# Temps written and synced, the journal written, then renamed into place (the commit).
STEPS_BEFORE = ["write:0", "fsync:0", "write:journal", "replace:journal"]
# The journal's folder synced, shards renamed, the registry folder synced, the journal
# removed, and the very last step (the write is whole: no recovery needed).
STEPS_AFTER = ["dir_fsync:0", "replace:1", "replace:2", "replace:60", "dir_fsync:1",
               "unlink:journal", "dir_fsync:2"]


def test_crash_at_each_step(setup: tuple[Registry, Zygote], expected: list[str]) -> None:
    reg, z = setup
    state = 0
    for step in STEPS_BEFORE + STEPS_AFTER:
        lines, status = z.run(state, step)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (step, lines)
        assert lines == [f"apply {(state + 1) % 3}"]
        want = state if step in STEPS_BEFORE else (state + 1) % 3
        assert _check(reg, expected, {want}) == want, step
        state = want
    stats = writer_stats.load(reg.state)
    assert stats["rollbacks"] >= len(STEPS_BEFORE)
    assert stats["recoveries"] >= len(STEPS_AFTER) - 1  # a crash at the last step needs none
    # And a child that is not killed finishes its write.
    lines, status = z.run(state)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, lines
    _check(reg, expected, {(state + 1) % 3})


def _sweep(reg: Registry, z: Zygote, expected: list[str], kills: int) -> None:
    rng = random.Random(20260123)
    state = _check(reg, expected, {0, 1, 2})
    # Calibrate: how long one write of the cycle takes here (fsync-bound, so it varies
    # with the machine's load); kills are spread over about one write.
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        z.run(state)
        times.append(time.perf_counter() - t0)
        state = _check(reg, expected, {(state + 1) % 3})
    one_write = sorted(times)[1]
    outcomes = {"before": 0, "after": 0}
    for _ in range(kills):
        lines, status = z.run(state, mode="loop", kill_after=rng.uniform(0, one_write))
        assert os.WIFSIGNALED(status), lines
        applies = [int(ln.split()[1]) for ln in lines if ln.startswith("apply")]
        if applies:
            post = applies[-1]
            pre = (post - 1) % 3
        else:
            pre = post = state
        state = _check(reg, expected, {pre, post})
        if applies and f"done {post}" not in lines:
            outcomes["before" if state == pre else "after"] += 1
    # The kills did land in the middle of writes, both before and after the commit point.
    assert outcomes["before"] > 0 and outcomes["after"] > 0, outcomes
    stats = writer_stats.load(reg.state)
    assert stats["rollbacks"] + stats["recoveries"] > 0


def test_kill_9_sweep(setup: tuple[Registry, Zygote], expected: list[str]) -> None:
    reg, z = setup
    _sweep(reg, z, expected, SWEEP_KILLS)


@pytest.mark.slow
def test_kill_9_soak(
    setup: tuple[Registry, Zygote], expected: list[str], request: pytest.FixtureRequest
) -> None:
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("a few minutes of kills; run with -m slow (the 200-kill sweep runs by default)")
    reg, z = setup
    _sweep(reg, z, expected, 10 * SWEEP_KILLS)


@pytest.mark.parametrize(("step", "after"), [("fsync:0", False), ("replace:1", True)])
def test_cli_patch_killed_then_regauto_hash_recovers(
    git_repo: Path, step: str, after: bool
) -> None:
    first = run_regauto("hash", cwd=git_repo)
    assert first.returncode == 0

    changes = {k: v for k, v in cycle_changes(1, 30).items() if v is not None}
    patch = json.dumps({"base_hash": first.stdout.strip(), "source": "t", "reason": "t",
                        "changes": changes})
    proc = run_regauto("patch", "-", cwd=git_repo, input=patch, env={CRASH_ENV: step})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    reg_dir = git_repo / ".regauto" / "registry"
    assert any(".regauto-tmp" in p.name for p in reg_dir.iterdir()) or after
    h = run_regauto("hash", cwd=git_repo)
    assert h.returncode == 0, h.stderr
    assert h.stdout.strip() == manifest_hash(reg_dir)
    if after:
        d = git_repo.parent / "expected"
        write_shards(d, list(changes.values()))
        assert h.stdout.strip() == manifest_hash(d)
    else:
        assert h.stdout.strip() == first.stdout.strip()
    assert not [p for p in reg_dir.iterdir() if ".regauto-tmp" in p.name]
    assert not list((git_repo / ".git" / "regauto").glob("journal*"))


def test_readers_never_see_a_half_written_registry(
    setup: tuple[Registry, Zygote], expected: list[str]
) -> None:
    """While a writer loops, every hash and every snapshot a reader takes is one of the
    states: a write in progress is waited for, never observed half done."""
    reg, z = setup
    state = _check(reg, expected, {0, 1, 2})
    seen: list[str] = []
    stop = threading.Event()

    failures: list[BaseException] = []

    def poll() -> None:
        reader = reg.reader()
        try:
            while not stop.is_set():
                for _ in range(10):
                    seen.append(reader.current_hash())
                    time.sleep(0.001)
                snap = reader.snapshot()
                ids = {r["doc_id"] for r in snap.records}
                assert snap.hash in expected, "snapshot of no state"
                assert ids == set(cycle_state(expected.index(snap.hash), N_DOCS)), "torn"
        except BaseException as e:
            failures.append(e)

    t = threading.Thread(target=poll)
    t.start()
    try:
        z.run(state, mode="paced", kill_after=2.0)
    finally:
        stop.set()
        t.join()
    assert not failures, failures
    assert len(seen) > 10
    assert set(seen) <= set(expected), set(seen) - set(expected)
    assert len(set(seen)) > 1, "the reader never saw the writer's progress"


def _crash_cli_patch(repo: Path, step: str) -> str:
    """Apply a 20-record patch through the CLI, SIGKILLed at ``step``; returns the hash
    the registry must have once the committed write is rolled forward."""
    changes = {k: v for k, v in cycle_changes(1, 30).items() if v is not None}
    patch = json.dumps({"base_hash": run_regauto("hash", cwd=repo).stdout.strip(),
                        "source": "t", "reason": "t", "changes": changes})
    proc = run_regauto("patch", "-", cwd=repo, input=patch, env={CRASH_ENV: step})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    expected_dir = repo.parent / f"expected-{step}"
    write_shards(expected_dir, list(changes.values()))
    return manifest_hash(expected_dir)


def test_committed_write_rolls_forward_after_the_registry_setting_changed(
    git_repo: Path,
) -> None:
    post = _crash_cli_patch(git_repo, "replace:1")
    (git_repo / "regauto.toml").write_text('registry = "moved/registry"\n')
    h = run_regauto("hash", cwd=git_repo)
    assert h.returncode == 0 and h.stdout.strip() == manifest_hash(git_repo / "moved/registry")
    old = git_repo / ".regauto" / "registry"
    assert manifest_hash(old) == post
    assert not [p for p in old.iterdir() if ".regauto-tmp" in p.name]
    assert not list((git_repo / ".git" / "regauto").glob("journal*"))


def test_committed_write_rolls_forward_after_the_repository_moved(git_repo: Path) -> None:
    post = _crash_cli_patch(git_repo, "replace:1")
    moved = git_repo.parent / "moved-repo"
    git_repo.rename(moved)
    h = run_regauto("hash", cwd=moved)
    assert h.returncode == 0, h.stderr
    assert h.stdout.strip() == post == manifest_hash(moved / ".regauto" / "registry")
