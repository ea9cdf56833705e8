"""The one way regauto runs a subprocess: an argument list, never a shell."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

from regauto.errors import CalledProcessError

_TRACE = bool(os.environ.get("REGAUTO_TRACE"))


def run(
    cmd: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    check: bool = True,
) -> tuple[int, bytes, bytes]:
    """Run ``cmd``; return (returncode, stdout, stderr) as bytes.

    With ``check`` a non-zero exit raises :class:`CalledProcessError` holding the command,
    the exit code and both streams, so the message is enough to act on.
    """
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            list(cmd),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            input=input,
            stdin=subprocess.DEVNULL if input is None else None,
            capture_output=True,
        )
    except OSError as e:
        raise CalledProcessError(tuple(cmd), -1, b"", str(e).encode()) from e
    if _TRACE:
        # REGAUTO_TRACE=1: one stderr line per command with its wall time, to see where a
        # slow hook spends its time (RUNBOOK "A slow commit").
        ms = (time.perf_counter() - t0) * 1000
        shown = " ".join(list(cmd)[:6]) + (" …" if len(cmd) > 6 else "")
        sys.stderr.write(f"regauto trace: {ms:7.1f} ms  {shown}\n")
    if check and proc.returncode != 0:
        raise CalledProcessError(tuple(cmd), proc.returncode, proc.stdout, proc.stderr)
    return proc.returncode, proc.stdout, proc.stderr


def pid_alive(pid: int) -> bool:
    """Does process ``pid`` exist on this machine (ours or someone else's)?  A reused pid
    counts as alive: callers treat "alive" as the safe answer."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, belongs to someone else
    return True
