"""doc_id allocation: unique across processes, monotonic, above the floor, spilling minutes."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regauto import docid
from regauto.automation.id_allocator import RANDOM_START_MAX, IdAllocator, plan

CTX = multiprocessing.get_context("spawn")
UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 26, 21, 5, 30, tzinfo=UTC)


def seq(doc_id: str) -> int:
    return int(doc_id[12:])


def _child_allocate(state: str, n: int, out: str, start: Any) -> None:
    alloc = IdAllocator(Path(state))
    start.wait()
    ids = [alloc.allocate()[0] for _ in range(n)]
    Path(out).write_text(json.dumps(ids))


def test_four_processes_allocating_at_once_never_share_an_id(tmp_path: Path) -> None:
    state = tmp_path / "state"
    IdAllocator(state).close()  # the schema exists before the race, as after `init`
    start = CTX.Event()
    outs = [tmp_path / f"ids{i}.json" for i in range(4)]
    procs = [CTX.Process(target=_child_allocate, args=(str(state), 500, str(o), start))
             for o in outs]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 4
    per_process = [json.loads(o.read_text()) for o in outs]
    every = [i for ids in per_process for i in ids]
    assert len(every) == len(set(every)) == 2000
    assert all(docid.is_valid(i) for i in every)
    for ids in per_process:
        assert ids == sorted(ids) and len(set(ids)) == len(ids)  # monotonic per process
    assert IdAllocator(state).high_water() == max(every)


def test_ids_are_monotonic_even_when_the_clock_goes_back(tmp_path: Path) -> None:
    alloc = IdAllocator(tmp_path)
    [first] = alloc.allocate(now=NOW)
    assert first.startswith("202611262105") and 1 <= seq(first) <= RANDOM_START_MAX
    [back] = alloc.allocate(now=NOW - dt.timedelta(hours=5))
    assert back == first[:12] + f"{seq(first) + 1:04d}"
    [later] = alloc.allocate(now=NOW + dt.timedelta(minutes=3))
    assert later.startswith("202611262108") and later > back
    # A new process (a new instance on the same state dir) continues above.
    assert IdAllocator(tmp_path).allocate(now=NOW)[0] > later


def test_allocation_is_strictly_above_the_floor(tmp_path: Path) -> None:
    # The floor's minute is in use: continue right after it, not at a random start.
    same_minute = "2026112621050100"
    assert IdAllocator(tmp_path / "a").allocate(2, floor=same_minute, now=NOW) == [
        "2026112621050101", "2026112621050102",
    ]
    # A floor ahead of the clock (a clone whose registry came from a faster machine).
    ahead = "2026112700000042"
    assert IdAllocator(tmp_path / "b").allocate(floor=ahead, now=NOW) == ["2026112700000043"]
    # An older floor does not pull allocation back below this clone's own mark.
    alloc = IdAllocator(tmp_path / "c")
    mine = alloc.allocate(now=NOW)[0]
    assert alloc.allocate(floor="2020010100000001", now=NOW)[0] > mine


def test_a_mark_or_floor_more_than_a_day_ahead_is_ignored(tmp_path: Path) -> None:
    # Such an id is not valid (docid.FUTURE_SLACK): following it would drag every new id
    # into that future, and one at 9999-12-31 23:59 into an OverflowError.
    for far in ("2026112721060001", "9999123123599999"):
        assert plan(far, NOW.replace(second=0), 1)[0].startswith("202611262105")
    assert plan("2026112721040001", NOW.replace(second=0), 1) == ["2026112721040002"]
    alloc = IdAllocator(tmp_path)
    [far_mark] = alloc.allocate(floor="2026112721040001", now=NOW)  # within the day
    [back] = alloc.allocate(now=NOW - dt.timedelta(days=2))  # the mark is now 3 days ahead
    assert back.startswith("202611242105") and back < far_mark


def test_bulk_allocation_spills_into_following_minutes(tmp_path: Path) -> None:
    alloc = IdAllocator(tmp_path)
    ids = alloc.allocate(12, floor="2026112621059990", now=NOW)
    assert ids[:9] == [f"20261126210599{s}" for s in range(91, 100)]
    assert all(i.startswith("202611262106") for i in ids[9:])
    assert 1 <= seq(ids[9]) <= RANDOM_START_MAX  # a new minute starts at random
    assert [seq(i) for i in ids[9:]] == [seq(ids[9]) + k for k in range(3)]
    big = alloc.allocate(20_000, now=NOW)
    assert big == sorted(big) and len(set(big)) == 20_000 and big[0] > ids[-1]
    assert all(docid.is_valid(i) for i in big)
    assert len({i[:12] for i in big}) >= 3


def test_fresh_minutes_start_at_scattered_random_sequences(tmp_path: Path) -> None:
    starts = {seq(IdAllocator(tmp_path / str(i)).allocate(now=NOW)[0]) for i in range(20)}
    assert all(1 <= s <= RANDOM_START_MAX for s in starts)
    assert len(starts) > 5  # two clones in one minute rarely meet


def test_arguments_are_checked(tmp_path: Path) -> None:
    alloc = IdAllocator(tmp_path)
    assert alloc.allocate(0) == []
    with pytest.raises(ValueError, match="negative"):
        alloc.allocate(-1)
    with pytest.raises(ValueError, match="not a valid doc_id"):
        alloc.allocate(floor="2026113200000001")  # no 32 November
    assert alloc.high_water() is None


def test_now_is_taken_in_utc(tmp_path: Path) -> None:
    berlin = dt.timezone(dt.timedelta(hours=1))
    local = dt.datetime(2026, 11, 26, 22, 5, tzinfo=berlin)
    assert IdAllocator(tmp_path / "a").allocate(now=local)[0].startswith("202611262105")
    naive = dt.datetime(2026, 11, 26, 21, 5)
    assert IdAllocator(tmp_path / "b").allocate(now=naive)[0].startswith("202611262105")
    before = dt.datetime.now(UTC).strftime("%Y%m%d%H%M")
    real = IdAllocator(tmp_path / "c").allocate()[0]
    assert before <= real[:12] <= dt.datetime.now(UTC).strftime("%Y%m%d%H%M")


IDS = st.builds(
    lambda m, s: docid.make(dt.datetime(2026, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=m), s),
    st.integers(0, 5), st.integers(1, 9999),
)


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.none(), IDS), st.integers(0, 5), st.integers(1, 12_000))
def test_plan_is_ascending_valid_and_above_the_mark(last: str | None, minute: int, n: int) -> None:
    minute_now = dt.datetime(2026, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=minute)
    ids = plan(last, minute_now, n)
    assert len(ids) == n
    assert ids == sorted(set(ids))  # strictly ascending
    assert all(docid.is_valid(i) for i in ids)
    assert last is None or ids[0] > last
    assert docid.minute_of(ids[0]) >= minute_now



@settings(max_examples=300, deadline=None)
@given(st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
       st.integers(0, 61), st.integers(0, 9999))
def test_doc_id_validity_is_a_real_utc_minute(
    y: int, mo: int, d: int, h: int, mi: int, n: int
) -> None:
    # SPEC 4.1: the first twelve digits are a real date and minute; the sequence is
    # 0001-9999.  strptime is the reference for "real".  Components just around their
    # ranges, so that real and unreal minutes both come up often.
    minute = f"{y:04d}{mo:02d}{d:02d}{h:02d}{mi:02d}"
    try:
        dt.datetime.strptime(minute, "%Y%m%d%H%M")
        real = True
    except ValueError:
        real = False
    # And no more than a day ahead of the clock (docid.FUTURE_SLACK).
    soon = minute <= docid.latest_minute()
    assert docid.is_valid(f"{minute}{n:04d}") == (real and n >= 1 and soon)


def test_ids_are_full_matches_and_not_far_in_the_future() -> None:
    assert not docid.is_valid("2026010100000001\n")  # `$` would match before the newline
    assert docid.claimed_by_name("2026010100000001_a.txt\n") == "2026010100000001"
    assert docid.claimed_by_name("2026010100000001\n_a.txt") is None
    tomorrow = dt.datetime.now(UTC) + dt.timedelta(hours=23)
    assert docid.is_valid(docid.make(tomorrow, 1))
    far = docid.make(dt.datetime.now(UTC) + dt.timedelta(days=1, minutes=2), 1)
    assert not docid.is_valid(far)
    assert "more than one day in the future" in (docid.problem(far) or "")
    assert docid.problem("9999123123599999") is not None


@pytest.mark.parametrize(("minute", "real"), [
    ("202402290000", True), ("202302290000", False), ("202512312359", True),
    ("202613010000", False), ("202611262460", False), ("000001010000", False),
])
def test_doc_id_minutes_at_the_edges(minute: str, real: bool) -> None:
    assert docid.is_valid(minute + "0001") is real
    if real:
        assert docid.minute_of(minute + "0001").strftime("%Y%m%d%H%M") == minute


def test_peek_shows_the_next_allocation_and_reserves_nothing(tmp_path: Path) -> None:
    alloc = IdAllocator(tmp_path)
    for floor in (None, "2026112621050100", None):  # a fresh minute, then continuing
        peeked = alloc.peek(3, floor=floor, now=NOW)
        assert alloc.peek(3, floor=floor, now=NOW) == peeked  # nothing was reserved
        assert IdAllocator(tmp_path).allocate(3, floor=floor, now=NOW) == peeked
    # spilling into a fresh minute is foreseen too
    spill = alloc.peek(3, floor="2026112621059998", now=NOW)
    assert alloc.allocate(3, floor="2026112621059998", now=NOW) == spill
