"""The one error boundary (STYLE habit 5).

Known errors become one line on stderr and their exit code (SPEC §8.1); Ctrl-C is 130;
anything unexpected is an internal error: exit 4, one line to the user, the traceback in
the crash log (``regauto.crashlog``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from regauto.crashlog import crash_log
from regauto.errors import EXIT_INTERNAL, EXIT_USAGE, RegautoError


def error_line(msg: str) -> None:
    first, *rest = str(msg).strip().splitlines() or [""]
    sys.stderr.write(f"regauto: error: {first}\n")
    if os.environ.get("REGAUTO_VERBOSE_ERRORS") and rest:
        sys.stderr.write("\n".join(rest) + "\n")


def guarded(fn: Callable[[], int]) -> int:
    """Run ``fn`` and map whatever it raises to an exit code.

    A state database that SQLite finds corrupt midway (a large file passes the checks on
    open; the bad page shows in a later query) is moved aside and ``fn`` runs once more
    on a fresh one: the command, the commit hook above all, ends as on a healthy database.
    """
    from regauto import statedb, textout

    textout.escape_streams()  # a file name that is not UTF-8 must not crash the output
    try:
        return fn()
    except KeyboardInterrupt:
        return _interrupted()
    except Exception as e:
        if not statedb.recover(e):
            return _exit_code(e)
    try:
        return fn()
    except KeyboardInterrupt:
        return _interrupted()
    except Exception as e:
        return _exit_code(e)


def _interrupted() -> int:
    sys.stderr.write("regauto: interrupted\n")
    return 130


def _exit_code(e: Exception) -> int:
    from regauto import statedb

    if isinstance(e, RegautoError):
        if e.exit_code == EXIT_INTERNAL:
            path = crash_log(e)
            error_line(f"internal error: {str(e).splitlines()[0]} (details in {path})")
        else:
            error_line(str(e))
        return e.exit_code
    if isinstance(e, BrokenPipeError):
        return 0
    corrupt = statedb.corruption_in(e)
    if corrupt is not None:  # still corrupt after a fresh start: say so, no traceback
        error_line(corrupt)
        return EXIT_USAGE
    path = crash_log(e)  # the boundary: nothing escapes as a traceback
    error_line(f"internal error: {type(e).__name__}: {e} (traceback in {path})")
    return EXIT_INTERNAL
