"""The doc_id format (SPEC §4.1): 16 ASCII digits ``YYYYMMDDHHMMNNNN``.

The first twelve digits are the UTC minute of allocation and must be a real date; the last
four are a sequence ``0001``–``9999``.

An id more than a day ahead of the clock (``FUTURE_SLACK``) is not valid either: no clone
allocates it (clock skew between clones is minutes, not days), and one such id would
otherwise become every allocator's floor — dragging each new id into that future, or past
year 9999 into an ``OverflowError``.  The limit moves with the clock, so an id only ever
becomes valid with time, never the other way round (caches of valid records stay true).
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
import time

# Full matches only (``fullmatch``): ``$`` also matches before a final newline.
DOC_ID_RE = re.compile(r"[0-9]{16}")
PREFIX_RE = re.compile(r"([0-9]{16})_(.+)", re.DOTALL)
MAX_SEQ = 9999
FUTURE_SLACK = _dt.timedelta(days=1)
_REFRESH_S = 30.0
_latest: tuple[float, str] = (float("-inf"), "")


def is_valid(doc_id: object) -> bool:
    """True for a 16-digit id with a real date/minute, a sequence of at least 1, and a
    minute at most ``FUTURE_SLACK`` ahead of now."""
    if not isinstance(doc_id, str) or not DOC_ID_RE.fullmatch(doc_id):
        return False
    if int(doc_id[12:]) < 1:
        return False
    return _real_minute(doc_id[:12]) and doc_id[:12] <= latest_minute()


def problem(doc_id: object) -> str | None:
    """Why ``doc_id`` is not valid, in a few words (None: it is)."""
    if not (isinstance(doc_id, str) and DOC_ID_RE.fullmatch(doc_id) and int(doc_id[12:]) >= 1
            and _real_minute(doc_id[:12])):
        return f"bad doc_id {doc_id!r} (16 digits YYYYMMDDHHMMNNNN)"
    if doc_id[:12] > latest_minute():
        return (f"doc_id {doc_id} is more than one day in the future (minute "
                f"{doc_id[:4]}-{doc_id[4:6]}-{doc_id[6:8]} {doc_id[8:10]}:{doc_id[10:12]} UTC)")
    return None


def latest_minute() -> str:
    """``YYYYMMDDHHMM`` of now + ``FUTURE_SLACK``, UTC: the latest minute a valid id has.
    Recomputed every ``_REFRESH_S`` (a long-running watcher sees the clock move); a clock
    read per id would cost more than the rest of the check."""
    global _latest
    stamp = time.monotonic()
    if stamp - _latest[0] > _REFRESH_S:
        limit = _dt.datetime.now(_dt.timezone.utc) + FUTURE_SLACK
        _latest = (stamp, limit.strftime("%Y%m%d%H%M"))
    return _latest[1]


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
    m = PREFIX_RE.fullmatch(name)
    if m and is_valid(m.group(1)):
        return m.group(1)
    return None
