"""How regauto writes names it cannot decode.

A file name is bytes; regauto reads names as UTF-8 with ``surrogateescape``, so a name that
is not UTF-8 (``caf\\xe9.md`` from a Latin-1 system) holds lone surrogates (``\\udce9``).
The registry refuses such names, but ``check``, ``fix``, ``sync`` and the hooks must still
*name* them, and writing a surrogate to a strict UTF-8 stream (an ``en_US.UTF-8`` terminal,
``PYTHONIOENCODING=utf-8``, a CI log) raises ``UnicodeEncodeError``: exit 4 instead of the
one line the user needs.  So, one spelling everywhere:

- for people (text, ``--format github``, messages): each byte that is not UTF-8 as ``\\xNN``
  — the name as the file system has it — and control characters escaped, so that a name
  with a newline cannot split a line (:func:`shown`; and, as a net under every stream,
  the ``regauto-escape`` error handler, installed by the error boundary);
- in JSON: the byte as the escape ``\\udcNN``, so the text stays valid UTF-8 and a Python
  consumer gets the original bytes back with ``os.fsencode(path)`` (:func:`json_text`).
"""

from __future__ import annotations

import codecs
import io
import json
import re
import sys
from typing import Any

ERRORS = "regauto-escape"
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(c: str) -> str:
    o = ord(c)
    if 0xDC80 <= o <= 0xDCFF:  # a byte surrogateescape could not decode
        return f"\\x{o - 0xDC00:02x}"
    return c.encode("ascii", "backslashreplace").decode("ascii")


def _handler(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeEncodeError):
        raise err
    return "".join(_escape(c) for c in err.object[err.start:err.end]), err.end


codecs.register_error(ERRORS, _handler)


def undecodable_shown(text: str) -> str:
    """``text`` with each byte that is not UTF-8 spelled ``\\xNN`` (and nothing else)."""
    return _SURROGATE.sub(lambda m: _escape(m.group()), text)


def shown(text: str) -> str:
    """``text`` (a path, or a message naming one) fit for one line on any terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in undecodable_shown(text))


def json_text(obj: Any, indent: int | None = 2) -> str:
    """``json.dumps`` (UTF-8 text, not ASCII) with lone surrogates as ``\\uXXXX`` escapes."""
    text = json.dumps(obj, ensure_ascii=False, indent=indent)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def escape_streams() -> None:
    """Make stdout and stderr spell undecodable bytes ``\\xNN`` instead of raising."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors != ERRORS:
            try:
                stream.reconfigure(errors=ERRORS)
            except (ValueError, OSError):  # closed or detached: nothing to protect
                pass
