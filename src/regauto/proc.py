"""The one way regauto runs a subprocess: an argument list, never a shell."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence

from regauto.errors import CalledProcessError


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
    if check and proc.returncode != 0:
        raise CalledProcessError(tuple(cmd), proc.returncode, proc.stdout, proc.stderr)
    return proc.returncode, proc.stdout, proc.stderr
