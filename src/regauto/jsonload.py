"""JSON from outside regauto's control, parsed with a cap on nesting (and on Unicode).

Every JSON text regauto reads — shard lines, patches, the merge driver's three versions,
``meta.json`` — may come from a hostile branch or a broken tool.  ``json.loads`` recurses
once per level: a line nested a hundred thousand deep raises ``RecursionError`` (an
internal error, exit 4), and one nested only a few hundred deep parses but breaks whatever
recursive code (merge patches, ``deepcopy``, the encoder) handles it next.  So a text
nested deeper than ``MAX_NESTING`` is malformed, reported as a ``json.JSONDecodeError``
with its line and column like any other malformed JSON.  The check costs nothing on
ordinary input: the parsed value's depth is looked at only when the text has more
brackets than the cap.

``\\ud800`` is valid JSON but not Unicode: a lone surrogate cannot be written as UTF-8, so
``strict=True`` refuses it at parse time rather than when a shard is written.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_NESTING = 100  # a record is 2 levels plus its descriptor (capped at 64); a patch 3 more

_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_LONG_NUMBER = re.compile(r"-?\d{4000,}")


def loads(text: str, *, max_depth: int = MAX_NESTING, strict: bool = False,
          **kw: Any) -> Any:
    """``json.loads(text, **kw)``, refusing (``json.JSONDecodeError``) a value nested
    deeper than ``max_depth`` and, with ``strict``, a string holding a lone surrogate."""
    try:
        value = json.loads(text, **kw)
    except RecursionError:
        raise _too_deep(text, max_depth) from None
    except json.JSONDecodeError:
        raise
    except ValueError:  # an integer past Python's digit limit: not a number regauto reads
        m = _LONG_NUMBER.search(text)
        raise json.JSONDecodeError("a number with more digits than Python converts", text,
                                   m.start() if m else 0) from None
    # Fewer brackets than the cap cannot nest deeper: ordinary lines never pay the walk.
    if text.count("[") + text.count("{") > max_depth and depth(value) > max_depth:
        raise _too_deep(text, max_depth)
    if strict and _SURROGATE_ESCAPE.search(text):
        bad = lone_surrogate(value)
        if bad is not None:
            m = _SURROGATE_ESCAPE.search(text)
            raise json.JSONDecodeError(f"a string holds a lone surrogate ({bad!r}), "
                                       "which is not Unicode", text, m.start() if m else 0)
    return value


def _too_deep(text: str, max_depth: int) -> json.JSONDecodeError:
    """The error, at the bracket that goes one level too deep (strings are skipped whole:
    a bracket inside one is not nesting).  Only on the error path: a Python-level scan."""
    level, pos = 0, 0
    for m in _TOKEN.finditer(text):
        tok = m.group()
        if tok in ("[", "{"):
            level += 1
            if level > max_depth:
                pos = m.start()
                break
        elif tok in ("]", "}"):
            level -= 1
    return json.JSONDecodeError(f"nested deeper than {max_depth} levels", text, pos)


def depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion: level by level, keeping
    only the containers, as most values are strings."""
    deepest = 0
    level = [value]
    while True:
        level = [v for v in level if isinstance(v, (dict, list))]
        if not level:
            return deepest
        deepest += 1
        below: list[Any] = []
        for v in level:
            below.extend(v.values() if isinstance(v, dict) else v)
        level = below


def has_float(value: Any) -> bool:
    """Does a parsed JSON value hold a float (a number with a fraction or an exponent, or
    NaN/Infinity)?"""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is dict:
            stack.extend(v.values())
        elif t is list:
            stack.extend(v)
        elif t is float:
            return True
    return False


def lone_surrogate(value: Any) -> str | None:
    """The first lone surrogate in any string (key or value) of a parsed JSON value."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            m = _SURROGATE.search(v)
            if m:
                return m.group()
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return None
