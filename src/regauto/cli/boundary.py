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
from regauto.errors import EXIT_INTERNAL, RegautoError


def error_line(msg: str) -> None:
    first, *rest = str(msg).strip().splitlines() or [""]
    sys.stderr.write(f"regauto: error: {first}\n")
    if os.environ.get("REGAUTO_VERBOSE_ERRORS") and rest:
        sys.stderr.write("\n".join(rest) + "\n")


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
