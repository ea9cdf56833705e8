"""``regauto daemon start|stop|status``: the watch loop in the background (SPEC §8.5).

The daemon is ``python -m regauto watch`` started in a new session with its output in
``<state dir>/daemon.log`` and its pid in ``<state dir>/daemon.pid``.  Liveness is a lock,
not a pid: every ``regauto watch`` holds ``<state dir>/locks/watch.lock`` for its whole
life (one watcher per repository), and the kernel releases it when the process dies, even
by SIGKILL.  A pid alone cannot tell a live daemon from a recycled pid or an unreaped
zombie; "pid file present, process alive, lock held" can.  A pid file that fails the test
is stale and is removed.

The log is rotated by size: at ``LOG_MAX_BYTES`` it becomes ``daemon.log.1`` (replacing the
previous one) and a new ``daemon.log`` begins, both when the daemon starts and while it runs
(the daemon's stdout and stderr are the log, so it moves them to the new file itself).

``start`` and ``stop`` serialise on ``locks/daemon.lock`` and re-check the state after
taking it, so two concurrent ``start`` never spawn two daemons.  Only POSIX is supported.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import filelock

from regauto import proc
from regauto.errors import LockTimeout, RegautoError, UsageError

PID_NAME = "daemon.pid"
LOG_NAME = "daemon.log"
WATCH_LOCK = "watch.lock"
CONTROL_LOCK = "daemon.lock"
START_WAIT_S = 15.0
LOG_MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Status:
    running: bool
    pid: int | None
    pid_file: Path
    log_file: Path
    stale: bool = False  # a pid file of a process that is gone was found (and removed)
    foreground: bool = False  # a `regauto watch` that is not the daemon holds the lock


def pid_file(state_dir: Path) -> Path:
    return state_dir / PID_NAME


def log_file(state_dir: Path) -> Path:
    return state_dir / LOG_NAME


def rotate_log(path: Path, max_bytes: int = LOG_MAX_BYTES, *, redirect: bool = False) -> bool:
    """Move ``path`` to ``path.1`` once it holds ``max_bytes``; True if it did.  With
    ``redirect``, this process's stdout and stderr (the daemon's, which write to the log)
    follow to the new, empty log."""
    try:
        if path.stat().st_size < max_bytes:
            return False
    except FileNotFoundError:
        return False
    if redirect:
        sys.stdout.flush()
        sys.stderr.flush()
    os.replace(path, path.with_name(path.name + ".1"))
    if redirect:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.dup2(fd, sys.stdout.fileno())
            os.dup2(fd, sys.stderr.fileno())
        finally:
            os.close(fd)
    return True


def _lock(state_dir: Path, name: str) -> filelock.FileLock:
    (state_dir / "locks").mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(str(state_dir / "locks" / name), preserve_lock_file=True)


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return int(text) if text.isdigit() else None


def watcher_running(state_dir: Path) -> bool:
    """Is some ``regauto watch`` holding this repository's watch lock?"""
    lock = _lock(state_dir, WATCH_LOCK)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        return True
    lock.release()
    return False


@contextmanager
def watcher_lock(state_dir: Path, pid_path: Path | None = None, timeout: float = 1.0
                 ) -> Iterator[None]:
    """Be the repository's one watcher; with ``pid_path``, announce our pid there.

    The short wait covers a ``status`` probing the lock at the moment we start.
    """
    lock = _lock(state_dir, WATCH_LOCK)
    try:
        lock.acquire(timeout=timeout)
    except filelock.Timeout:
        pid = read_pid(pid_file(state_dir))
        who = f" (daemon pid {pid})" if pid else ""
        raise UsageError(f"another regauto watch is already running for this repository{who}"
                         ) from None
    try:
        if pid_path is not None:
            tmp = pid_path.with_name(f".{pid_path.name}.{os.getpid()}")
            tmp.write_text(f"{os.getpid()}\n")
            os.replace(tmp, pid_path)
        yield
    finally:
        if pid_path is not None and read_pid(pid_path) == os.getpid():
            pid_path.unlink(missing_ok=True)
        lock.release()


def status(state_dir: Path) -> Status:
    pf, lf = pid_file(state_dir), log_file(state_dir)
    pid = read_pid(pf)
    held = watcher_running(state_dir)
    if pid is None:
        garbage = pf.exists()  # a pid file that holds no pid
        pf.unlink(missing_ok=True)
        return Status(False, None, pf, lf, stale=garbage, foreground=held)
    if held and proc.pid_alive(pid):
        return Status(True, pid, pf, lf)
    pf.unlink(missing_ok=True)
    return Status(False, pid, pf, lf, stale=True, foreground=held)


def start(root: Path, state_dir: Path, config: Path | None = None) -> Status:
    """Spawn the daemon and wait until it holds the watch lock and wrote its pid."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with _lock(state_dir, CONTROL_LOCK):
        st = status(state_dir)
        if st.running:
            raise UsageError(f"the daemon is already running (pid {st.pid}); log: {st.log_file}")
        if st.foreground:
            raise UsageError("a `regauto watch` is already running for this repository")
        cmd = [sys.executable, "-m", "regauto", "--root", str(root)]
        if config is not None:
            cmd += ["--config", str(config.resolve())]
        cmd += ["watch", "--pid-file", str(st.pid_file)]
        rotate_log(st.log_file)
        with st.log_file.open("ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} daemon start\n".encode())
            log.flush()
            child = subprocess.Popen(
                cmd, cwd=root, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + START_WAIT_S
        while time.monotonic() < deadline:
            if read_pid(st.pid_file) == child.pid:
                return Status(True, child.pid, st.pid_file, st.log_file)
            code = child.poll()
            if code is not None:
                raise RegautoError(f"the daemon exited at once (code {code}); "
                                   f"see {st.log_file}:\n{_tail(st.log_file)}")
            time.sleep(0.05)
        child.terminate()
        raise RegautoError(f"the daemon did not start within {START_WAIT_S:g}s; "
                           f"see {st.log_file}")


def stop(state_dir: Path, timeout_s: float = 30.0) -> Status:
    """SIGTERM the daemon and wait until it let go of the watch lock (it finishes the
    batch in progress first).  Stopping a daemon that is not running is not an error."""
    with _lock(state_dir, CONTROL_LOCK):
        st = status(state_dir)
        if not st.running or st.pid is None:
            return st
        try:
            os.kill(st.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout_s
        while watcher_running(state_dir) and proc.pid_alive(st.pid):
            if time.monotonic() >= deadline:
                raise LockTimeout(f"the daemon (pid {st.pid}) did not stop within "
                                  f"{timeout_s:g}s; it may be finishing a large batch")
            time.sleep(0.05)
        st.pid_file.unlink(missing_ok=True)
        return Status(False, st.pid, st.pid_file, st.log_file)


def _tail(path: Path, lines: int = 10) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
