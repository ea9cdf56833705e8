"""Where an unexpected error's traceback goes: ``<state dir>/log/crash.log``, or the temp
dir when no state dir is known.

Below every layer, so that the error boundary (``regauto.cli.boundary``) and the hooks that
must never block a checkout (``regauto.gitint.hooks``) write the same log.
"""

from __future__ import annotations

import sys
from pathlib import Path

_state_dir: Path | None = None


def set_state_dir(path: Path | None) -> None:
    """Tell the crash log where it goes once a repository is known."""
    global _state_dir
    _state_dir = path


def crash_log(exc: BaseException) -> Path:
    """Append ``exc``'s traceback to the crash log; returns its path (``<unwritable>`` when
    it could not be written: a crash report must not crash)."""
    # Imported on a crash only: traceback and tempfile cost ~3 ms of every hook run.
    import tempfile
    import time
    import traceback

    folder = (_state_dir / "log") if _state_dir is not None else Path(tempfile.gettempdir())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / ("crash.log" if _state_dir is not None else "regauto-crash.log")
        with path.open("a", encoding="utf-8") as f:
            f.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} argv={sys.argv!r}\n")
            f.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        return path
    except OSError:
        return Path("<unwritable>")
