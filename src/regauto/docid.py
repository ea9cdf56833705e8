"""The doc_id format (SPEC §4.1): 16 ASCII digits ``YYYYMMDDHHMMNNNN``.

The first twelve digits are the UTC minute of allocation and must be a real date; the last
four are a sequence ``0001``–``9999``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re

DOC_ID_RE = re.compile(r"^[0-9]{16}$")
PREFIX_RE = re.compile(r"^([0-9]{16})_(.+)$", re.DOTALL)
MAX_SEQ = 9999


def is_valid(doc_id: object) -> bool:
    """True for a 16-digit id with a real date/minute and a sequence of at least 1."""
    if not isinstance(doc_id, str) or not DOC_ID_RE.match(doc_id):
        return False
    if int(doc_id[12:]) < 1:
        return False
    return _real_minute(doc_id[:12])


@functools.lru_cache(maxsize=65536)
def _real_minute(minute: str) -> bool:
    # Ids come in runs of one minute, so a 100k-id registry has a few thousand distinct
    # minutes: cached.  The datetime constructor checks what strptime("%Y%m%d%H%M") would
    # (months, leap days, hours, minutes) without importing _strptime and locale (~3 ms
    # of every commit hook).
    try:
        _minute(minute)
    except ValueError:
        return False
    return True


def _minute(m: str) -> _dt.datetime:
    """``YYYYMMDDHHMM`` (twelve ASCII digits) as a UTC datetime; ValueError if not real."""
    return _dt.datetime(int(m[0:4]), int(m[4:6]), int(m[6:8]), int(m[8:10]), int(m[10:12]),
                        tzinfo=_dt.timezone.utc)


def minute_of(doc_id: str) -> _dt.datetime:
    return _minute(doc_id[:12])


def make(minute: _dt.datetime, seq: int) -> str:
    if not 1 <= seq <= MAX_SEQ:
        raise ValueError(f"sequence {seq} out of range 1..{MAX_SEQ}")
    return minute.strftime("%Y%m%d%H%M") + f"{seq:04d}"


def claimed_by_name(name: str) -> str | None:
    """The id a file name claims with a ``<16 digits>_`` prefix, if that id is valid."""
    m = PREFIX_RE.match(name)
    if m and is_valid(m.group(1)):
        return m.group(1)
    return None
