"""The one way regauto runs git for its output: a failure becomes a ``GitError`` naming the
command and git's last line of complaint."""

from __future__ import annotations

from pathlib import Path

from regauto import proc
from regauto.errors import CalledProcessError, GitError


def run(*args: str, cwd: Path, check: bool = True, input: bytes | None = None) -> bytes:
    try:
        _, out, _ = proc.run(("git", *args), cwd=cwd, check=check, input=input)
    except CalledProcessError as e:
        err = e.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed in {cwd}: {err[-1] if err else e.returncode}") from e
    return out
