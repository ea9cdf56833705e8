"""What ``-v`` prints: each stage of a command with its time, on stderr.

A stage is a function decorated with ``@timed("name")``.  Off (the default) it costs one
global read per call; ``enable()`` — the CLI's ``-v`` — makes each stage print
``regauto: <name>: <ms> ms`` when it ends, so a user sees where a slow ``check`` or hook
spends its time without a profiler.  ``-v`` prints the outermost stages; ``-vv`` also the
stages inside them, indented (an inner stage ends, and prints, before its outer one).
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])

_level = 0
_depth = 0


def enable(level: int = 1) -> None:
    global _level
    _level = level


def enabled() -> bool:
    return _level > 0


def timed(name: str) -> Callable[[_F], _F]:
    """Decorate a function as the stage ``name``."""

    def deco(fn: _F) -> _F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            global _depth
            if not _level:
                return fn(*args, **kwargs)
            start = time.perf_counter()
            _depth += 1
            try:
                return fn(*args, **kwargs)
            finally:
                _depth -= 1
                if _depth < _level:
                    ms = (time.perf_counter() - start) * 1000
                    sys.stderr.write(f"regauto: {'  ' * _depth}{name}: {ms:.1f} ms\n")

        return wrapper  # type: ignore[return-value]

    return deco
