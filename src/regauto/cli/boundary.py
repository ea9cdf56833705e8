"""The one error boundary (STYLE habit 5).

Known errors become one line on stderr and their exit code (SPEC §8.1); Ctrl-C is 130;
anything unexpected is an internal error: exit 4, one line to the user, the traceback in
``<state dir>/log/crash.log`` (or the temp dir when no state dir is known).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from regauto.errors import EXIT_INTERNAL, RegautoError

_state_dir: Path | None = None


def set_state_dir(path: Path | None) -> None:
    """Tell the boundary where crash logs go once a repository is known."""
    global _state_dir
    _state_dir = path


def error_line(msg: str) -> None:
    first, *rest = str(msg).strip().splitlines() or [""]
    sys.stderr.write(f"regauto: error: {first}\n")
    if os.environ.get("REGAUTO_VERBOSE_ERRORS") and rest:
        sys.stderr.write("\n".join(rest) + "\n")


def crash_log(exc: BaseException) -> Path:
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


def guarded(fn: Callable[[], int]) -> int:
    """Run ``fn`` and map whatever it raises to an exit code."""
    from regauto import textout

    textout.escape_streams()  # a file name that is not UTF-8 must not crash the output
    try:
        return fn()
    except RegautoError as e:
        if e.exit_code == EXIT_INTERNAL:
            path = crash_log(e)
            error_line(f"internal error: {str(e).splitlines()[0]} (details in {path})")
        else:
            error_line(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("regauto: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # the boundary: nothing escapes as a traceback
        path = crash_log(e)
        error_line(f"internal error: {type(e).__name__}: {e} (traceback in {path})")
        return EXIT_INTERNAL
