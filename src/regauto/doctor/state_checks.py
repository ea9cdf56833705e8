"""The doctor's checks of what running regauto leaves in the state dir: the Python that
wrote the descriptors, an interrupted write, work left in the queue, locks held right now,
and the daemon."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from regauto.doctor import OK, WARN, Line
from regauto.project import Project
from regauto.registry import journal, writer_stats
from regauto.registry.store import RegistryStore


def python_version(state_dir: Path) -> Line:
    """Descriptors of Python files come from ``ast``, whose verdict (and error text) changes
    between minor versions; the writer records the minor version at each write.  Nothing
    re-extracts the descriptors of unchanged files, so the remedy is to run regauto with the
    Python the registry was made with; a write by this one moves the record to it."""
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    made = writer_stats.load(state_dir).get("python")
    if not made:
        return Line("python", OK, f"{here} (no registry write recorded in this clone yet)")
    if made != here:
        return Line("python", WARN, f"the registry was last written by Python {made}, "
                    f"regauto runs on {here} here: descriptors of Python files can differ "
                    "between the two", f"use Python {made} for regauto in this clone "
                    f"(python{made} -m pip install regauto, then python{made} -m regauto "
                    "init --hooks git)")
    return Line("python", OK, f"{here}, as at the last registry write")


def leftovers(project: Project) -> Line:
    """A journal or temp files: a write that was interrupted.  Every command that reads the
    registry finishes or rolls it back first; doctor only looks."""
    state = project.state_dir
    found = [p.name for p in (journal.journal_path(state),
                              state / (journal.JOURNAL_NAME + ".tmp")) if p.exists()]
    found += RegistryStore(project.registry_dir, state).temp_files()
    try:
        found += [n for n in os.listdir(state)
                  if n.startswith(writer_stats.STATS_NAME) and n.endswith(".tmp")]
    except OSError:
        pass
    if found:
        return Line("interrupted write", WARN, f"left {', '.join(sorted(found))}: the next "
                    "command finishes or rolls it back", "regauto fix")
    return Line("interrupted write", OK, "none")


def state_database(state_dir: Path) -> Line:
    """SQLite's own ``quick_check`` of the state database.  Doctor only looks: the next
    command that opens a corrupt database moves it aside and starts afresh (nothing in it
    is the only copy of anything), so the remedy is any command."""
    import sqlite3

    from regauto import statedb_heal

    path = state_dir / "state.db"
    if not path.exists():
        return Line("state database", OK, "none yet")
    try:
        conn = sqlite3.connect(path, timeout=5)
        try:
            verdict = str(conn.execute("PRAGMA quick_check").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        if not statedb_heal.is_corruption(e):
            return Line("state database", WARN, f"{path}: cannot be read ({e})",
                        "wait for the other regauto command to finish, then run doctor again")
        verdict = str(e)
    if verdict == "ok":
        return Line("state database", OK, "healthy")
    return Line("state database", WARN, f"{path} is corrupt ({verdict.splitlines()[0]}): the "
                "next regauto command moves it aside and starts afresh (the id index is "
                "rebuilt from the registry; queued jobs in it are lost)",
                "regauto queue list")


def queue(state_dir: Path) -> list[Line]:
    from regauto.events.work_queue import DEAD_LETTER, FAILED, WorkQueue

    if not (state_dir / "state.db").exists():
        return [Line("queue", OK, "empty")]
    with WorkQueue(state_dir) as q:
        counts = q.counts()
    lines = []
    if counts[DEAD_LETTER]:
        lines.append(Line("queue", WARN, f"{counts[DEAD_LETTER]} dead letter(s): jobs that "
                          "failed every attempt (`regauto queue dead` shows why; `regauto "
                          "queue purge --status dead_letter` drops them)",
                          "regauto queue retry --all-dead && regauto queue run"))
    if counts[FAILED]:
        lines.append(Line("queue", WARN, f"{counts[FAILED]} failed job(s) waiting for a "
                          "retry", "regauto queue run"))
    if not lines:
        busy = {k: n for k, n in counts.items() if n and k not in ("completed",)}
        lines.append(Line("queue", OK, ", ".join(f"{n} {k}" for k, n in busy.items())
                          or "nothing pending"))
    return lines


def _flock_holders() -> dict[int, int] | None:
    """``{inode: pid}`` of the flocks held on this machine (Linux's /proc/locks)."""
    try:
        text = Path("/proc/locks").read_text()
    except OSError:
        return None
    holders: dict[int, int] = {}
    for raw in text.splitlines():
        f = raw.split()
        # "1: FLOCK  ADVISORY  WRITE 4242 08:02:131 0 EOF"; a waiter's line has "->" at f[1].
        if len(f) >= 6 and f[1] == "FLOCK" and f[4].isdigit():
            holders[int(f[5].rsplit(":", 1)[1])] = int(f[4])
    return holders


def _held(path: Path) -> bool:
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock we took
    return False


def _who(pid: int | None) -> str:
    if pid is None:
        return "another process"
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").strip()
    except OSError:
        return f"pid {pid}"
    text = cmd.decode("utf-8", "replace")
    return f"pid {pid} ({text[:80]}{'…' if len(text) > 80 else ''})"


def locks(state_dir: Path) -> list[Line]:
    """Locks held right now, and by whom.  The watcher's own locks are the daemon's line."""
    from regauto.watch.daemon import CONTROL_LOCK, WATCH_LOCK

    folder = state_dir / "locks"
    if os.name != "posix" or not folder.is_dir():
        return [Line("locks", OK, "none held")]
    holders = _flock_holders()
    lines = []
    with os.scandir(folder) as entries:
        for e in entries:
            if e.name in (WATCH_LOCK, CONTROL_LOCK):
                continue
            if holders is not None and e.inode() not in holders:
                continue
            if not _held(Path(e.path)):
                continue
            pid = holders.get(e.inode()) if holders is not None else None
            kind = e.name.split("-", 1)[0]
            lines.append(Line("locks", WARN, f"the {kind} lock {e.name} is held by "
                              f"{_who(pid)}: regauto commands wait for it",
                              f"wait for it to finish, or end it: kill {pid}" if pid
                              else "wait for the other regauto command to finish"))
    return lines or [Line("locks", OK, "none held")]


def daemon(state_dir: Path) -> Line:
    from regauto.watch import daemon as d

    if not state_dir.is_dir():
        return Line("daemon", OK, "not running")
    st = d.status(state_dir)
    if st.running:
        return Line("daemon", OK, f"running (pid {st.pid}); log: {st.log_file}")
    note = " (removed the stale pid file of a daemon that died)" if st.stale else ""
    if st.foreground:
        return Line("daemon", OK, f"not running{note}; a foreground `regauto watch` runs")
    return Line("daemon", OK, f"not running{note}")
