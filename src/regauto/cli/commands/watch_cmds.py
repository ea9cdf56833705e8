"""``regauto watch`` (foreground) and ``regauto daemon start|stop|status`` (SPEC §8.5)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Optional

import typer

from regauto.cli.context import STATE, say
from regauto.cli.options import command, group

daemon_app = typer.Typer(
    name="daemon", help="Run the watcher in the background: start, stop, status.",
    no_args_is_help=True,
)


def register(app: typer.Typer, panel: str) -> None:
    command(app, "watch", watch_cmd, panel)
    group(daemon_app)
    command(daemon_app, "start", start_cmd)
    command(daemon_app, "stop", stop_cmd)
    command(daemon_app, "status", status_cmd)
    app.add_typer(daemon_app, name="daemon", rich_help_panel=panel)


def _log(msg: str) -> None:
    if not STATE.quiet:
        sys.stderr.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}\n")
        sys.stderr.flush()


def watch_cmd(
    pid_file: Optional[Path] = typer.Option(  # noqa: UP045 - typer needs Optional on 3.10
        None, "--pid-file", hidden=True, help="Write our pid here while running (the daemon)."
    ),
) -> int:
    """Keep the registry true while you edit; stop with Ctrl-C or SIGTERM."""
    from regauto.watch import daemon
    from regauto.watch.watcher_daemon import Watcher, stop_on_signals

    project = STATE.project()
    stop = threading.Event()
    log = _log
    if pid_file is not None:  # the daemon: its output is daemon.log, rotated by size
        log_file = daemon.log_file(project.state_dir)

        def log(msg: str) -> None:
            daemon.rotate_log(log_file, redirect=True)
            _log(msg)

    with stop_on_signals(stop), daemon.watcher_lock(project.state_dir, pid_file):
        return Watcher(project, log=log).run(stop)


def start_cmd() -> int:
    """Start the watcher in the background (log and pid file in the state dir)."""
    from regauto.watch import daemon

    project = STATE.project()
    st = daemon.start(project.root, project.state_dir, STATE.config)
    say(f"daemon started (pid {st.pid}); log: {st.log_file}")
    return 0


def stop_cmd(
    timeout: float = typer.Option(
        30.0, "--timeout", help="Seconds to wait for the daemon to finish its batch."
    ),
) -> int:
    """Stop the background watcher (SIGTERM; it finishes the batch in progress)."""
    from regauto.watch import daemon

    st = daemon.stop(STATE.project().state_dir, timeout)
    if st.pid is not None and not st.stale:
        say(f"daemon stopped (pid {st.pid})")
    else:
        say("daemon not running" + (" (removed a stale pid file)" if st.stale else ""))
    return 0


def status_cmd() -> int:
    """Say whether the background watcher runs: exit 0 running, 1 not running."""
    from regauto.watch import daemon

    st = daemon.status(STATE.project().state_dir)
    if st.running:
        print(f"running (pid {st.pid}); log: {st.log_file}")
        return 0
    note = f" (removed a stale pid file of pid {st.pid})" if st.stale and st.pid else ""
    if st.foreground:
        note += "; a foreground `regauto watch` is running"
    print(f"not running{note}; log: {st.log_file}")
    return 1
