"""doc_id allocation (SPEC §4.1): ``YYYYMMDDHHMM`` (UTC minute) + ``NNNN`` (0001–9999).

The state database keeps a high-water mark: the last id this clone allocated.  Every
allocation happens in one ``BEGIN IMMEDIATE`` transaction that reads the mark, hands out
ids strictly above it and stores the new mark, so two processes allocating at once queue
on SQLite's write lock and never get the same id.  Because allocation only ever goes up,
ids are monotonic in a clone, a deleted document's id is never handed out again, and a
clock that goes back changes nothing (allocation continues after the mark).

A fresh clone has an empty state database, and so has a clone whose corrupt one was moved
aside (``statedb_heal``): the caller passes ``floor``, the highest id in the registry, and
allocation goes strictly above that too — the mark is recomputed from the registry.

Two clones allocating in the same minute would collide if both started at 0001, so a
minute not used yet starts at a random sequence in 1..4999 (leaving at least 5000 ids for
the rest of that minute).  A bulk allocation that runs past 9999 continues in the next
minute, itself starting at a random sequence — even if that minute is still in the future.
The random start of a minute is drawn from a seed the clone keeps beside the mark (a
random value, drawn once): random across clones, but fixed for a given clone and minute,
so a dry run (:meth:`IdAllocator.peek`) shows the very ids the next allocation gives.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from regauto import docid, statedb

COMPONENT = "id_allocator"
MIGRATIONS = [
    "CREATE TABLE id_allocator (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
]
RANDOM_START_MAX = 4999
_MINUTE = dt.timedelta(minutes=1)


def _random_start() -> int:
    return 1 + secrets.randbelow(RANDOM_START_MAX)


def seeded_start(seed: str) -> Callable[[dt.datetime], int]:
    """The start of each fresh minute for the clone whose seed is ``seed``: uniform in
    1..RANDOM_START_MAX, the same every time for one seed and minute."""
    def start(minute: dt.datetime) -> int:
        digest = hashlib.sha256(f"{seed}:{minute:%Y%m%d%H%M}".encode()).digest()
        return 1 + int.from_bytes(digest[:8], "big") % RANDOM_START_MAX
    return start


def _utc_minute(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None:  # a naive datetime is taken to be UTC already
        now = now.replace(tzinfo=dt.timezone.utc)
    return now.astimezone(dt.timezone.utc).replace(second=0, microsecond=0)


def plan(last: str | None, minute_now: dt.datetime, n: int,
         start: Callable[[dt.datetime], int] | None = None) -> list[str]:
    """``n`` ids strictly above ``last`` (if any), at ``minute_now`` or later; a fresh
    minute starts at ``start(minute)`` (default: a random sequence).

    Pure apart from the random starts, so the rules can be tested without a database.
    A ``last`` more than ``docid.FUTURE_SLACK`` ahead of ``minute_now`` is ignored: such an
    id is not valid, and following it would drag every new id into that future.
    """
    fresh = start or (lambda _minute: _random_start())
    if last is not None and minute_now <= docid.minute_of(last) <= minute_now + docid.FUTURE_SLACK:
        minute, seq = docid.minute_of(last), int(last[12:]) + 1
    else:
        minute, seq = minute_now, fresh(minute_now)
    ids: list[str] = []
    while len(ids) < n:
        if seq > docid.MAX_SEQ:
            minute = minute + _MINUTE
            seq = fresh(minute)
        take = min(n - len(ids), docid.MAX_SEQ - seq + 1)
        ids.extend(docid.make(minute, s) for s in range(seq, seq + take))
        seq += take
    return ids


class IdAllocator(statedb.Client):
    """Allocates doc_ids for one clone; one instance per thread (one connection)."""

    def __init__(self, state_dir: Path) -> None:
        self._conn = statedb.connect(state_dir)
        statedb.migrate(self._conn, COMPONENT, MIGRATIONS)

    def allocate(
        self, n: int = 1, *, floor: str | None = None, now: dt.datetime | None = None
    ) -> list[str]:
        """Reserve ``n`` new ids, ascending, all above ``floor`` and every earlier one."""
        return self._next(n, floor, now, reserve=True)

    def peek(
        self, n: int = 1, *, floor: str | None = None, now: dt.datetime | None = None
    ) -> list[str]:
        """The ids :meth:`allocate` would reserve now, reserving none (only the clone's
        seed is drawn, if it was not yet)."""
        return self._next(n, floor, now, reserve=False)

    def _next(self, n: int, floor: str | None, now: dt.datetime | None, *,
              reserve: bool) -> list[str]:
        if n < 0:
            raise ValueError("cannot allocate a negative number of ids")
        if floor is not None and not docid.is_valid(floor):
            raise ValueError(f"floor {floor!r} is not a valid doc_id")
        if n == 0:
            return []
        minute_now = _utc_minute(now or dt.datetime.now(dt.timezone.utc))
        with statedb.transaction(self._conn):
            last = self.high_water()
            if floor is not None and (last is None or floor > last):
                last = floor  # 16 fixed-width digits: string order is id order
            ids = plan(last, minute_now, n, seeded_start(self._seed()))
            if reserve:
                self._conn.execute(
                    "INSERT INTO id_allocator (key, value) VALUES ('last', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (ids[-1],),
                )
        return ids

    def _seed(self) -> str:
        """This clone's seed for the random starts, drawn at its first use (in the caller's
        transaction)."""
        row = self._conn.execute("SELECT value FROM id_allocator WHERE key = 'seed'").fetchone()
        if row is not None:
            return str(row[0])
        seed = secrets.token_hex(16)
        self._conn.execute("INSERT INTO id_allocator (key, value) VALUES ('seed', ?)", (seed,))
        return seed

    def high_water(self) -> str | None:
        """The last id allocated in this clone, if any."""
        row = self._conn.execute("SELECT value FROM id_allocator WHERE key = 'last'").fetchone()
        return None if row is None else str(row[0])



class Allocator(Protocol):
    """Where the pipeline gets new ids: ``n`` ids above ``floor`` (the registry's highest)."""

    def allocate(self, n: int, *, floor: str | None = None) -> list[str]: ...


class Reserving:
    """The ids, reserved in this clone's state database (:class:`IdAllocator`, opened at
    the first allocation: most runs allocate nothing)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._allocator: IdAllocator | None = None

    def allocate(self, n: int, *, floor: str | None = None) -> list[str]:
        if self._allocator is None:
            self._allocator = IdAllocator(self.state_dir)
        return self._allocator.allocate(n, floor=floor)


class Planned:
    """The ids the next allocation would give, reserving none (a dry run).  With the state
    dir, they are exactly those of the next allocation in this clone made in the same UTC
    minute with none between (:meth:`IdAllocator.peek`); without it (``check``, which opens
    no state), ids of the right form and order only."""

    def __init__(self, state_dir: Path | None = None) -> None:
        self.state_dir = state_dir

    def allocate(self, n: int, *, floor: str | None = None) -> list[str]:
        if self.state_dir is None:
            return plan(floor, _utc_minute(dt.datetime.now(dt.timezone.utc)), n)
        with IdAllocator(self.state_dir) as alloc:
            return alloc.peek(n, floor=floor)
