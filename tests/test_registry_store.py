"""The stored registry (SPEC §3): canonical form, shard placement, hashing, the id index."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regauto.errors import PatchError, RegistryFormatError
from regauto.registry.id_index import IdIndex
from regauto.registry.store import HASH_CACHE, RegistryStore
from registry_helpers import (
    EMPTY_HASH,
    META,
    Registry,
    canonical_line,
    doc_id,
    manifest_hash,
    record,
    shard_name,
    simple,
    write_shards,
)


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    return Registry(tmp_path)


def _add(reg: Registry, recs: list[dict[str, Any]]) -> str:
    w = reg.writer()
    return w.apply(simple(w.current_hash(), {r["doc_id"]: r for r in recs})).new_hash


# -- canonical form and placement ------------------------------------------------------------

def test_canonical_lines_sorted_bytewise_in_their_shards(reg: Registry) -> None:
    paths = ["b.py", "B.py", "a/é.md", "a/z.md", "Zeta/ü.txt", "_x", "a b/c d.py", "日本/文書.md"]
    recs = [record(i, p, descriptor={"z": 1, "a": {"y": [{"k": 2, "b": 1}], "c": "ü"}})
            for i, p in enumerate(paths)]
    recs += [record(100 + i) for i in range(60)]
    _add(reg, recs)
    by_id = {r["doc_id"]: r for r in recs}
    seen = set()
    for shard in sorted(reg.dir.glob("*.jsonl")):
        raw = shard.read_bytes()
        assert raw.endswith(b"\n") and b"\r" not in raw
        lines = raw.decode("utf-8").split("\n")[:-1]
        assert lines, "an empty shard must not exist"
        keys = [json.loads(ln)["path"].encode("utf-8") for ln in lines]
        assert keys == sorted(keys)
        for ln in lines:
            rec = json.loads(ln)
            assert list(rec) == ["path", "doc_id", "id_mode", "kind", "tags", "role", "blob",
                                 "size", "descriptor"]
            assert ln == canonical_line(by_id[rec["doc_id"]])
            assert shard.name == shard_name(rec["path"])
            seen.add(rec["doc_id"])
    assert seen == set(by_id)
    assert "é" in (reg.dir / shard_name("a/é.md")).read_text("utf-8")  # ensure_ascii=False
    assert (reg.dir / "meta.json").read_text() == META
    assert sorted(p.name for p in reg.dir.iterdir()) == sorted(
        {"meta.json"} | {shard_name(r["path"]) for r in recs}
    )


def test_empty_shards_are_deleted(reg: Registry) -> None:
    recs = [record(i) for i in range(20)]
    _add(reg, recs)
    victim = recs[0]
    same_shard = [r for r in recs if shard_name(r["path"]) == shard_name(victim["path"])]
    w = reg.writer()
    w.apply(simple(w.current_hash(), {r["doc_id"]: None for r in same_shard}))
    assert not (reg.dir / shard_name(victim["path"])).exists()
    w.apply(simple(w.current_hash(), {r["doc_id"]: None for r in recs}))
    assert sorted(p.name for p in reg.dir.iterdir()) == ["meta.json"]
    assert reg.hash() == EMPTY_HASH == manifest_hash(reg.dir)


def test_moving_a_record_changes_its_shard(reg: Registry) -> None:
    rec = record(1, "old/name.py")
    _add(reg, [rec])
    w = reg.writer()
    w.apply(simple(w.current_hash(), {rec["doc_id"]: {"path": "new/place.py"}}))
    assert not (reg.dir / shard_name("old/name.py")).exists()
    assert json.loads((reg.dir / shard_name("new/place.py")).read_text())["path"] == (
        "new/place.py"
    )


# -- the registry hash ---------------------------------------------------------------------

def test_missing_registry_is_the_empty_registry(reg: Registry) -> None:
    assert not reg.dir.exists()
    assert reg.store.files() == []
    assert reg.hash() == EMPTY_HASH == manifest_hash(reg.dir)
    assert not reg.dir.exists(), "reading must not create the registry"


def test_hash_matches_independent_computation_and_cold_cache(reg: Registry) -> None:
    _add(reg, [record(i) for i in range(50)])
    warm = reg.store.registry_hash()
    assert warm == manifest_hash(reg.dir)
    assert (reg.state / HASH_CACHE).exists()
    (reg.state / HASH_CACHE).unlink()
    assert RegistryStore(reg.dir, reg.state).registry_hash() == warm


def test_hash_cache_notices_edits(reg: Registry) -> None:
    _add(reg, [record(i) for i in range(30)])
    store = reg.store
    before = store.registry_hash()
    shard = sorted(reg.dir.glob("*.jsonl"))[0]
    st = shard.stat()
    # Same size, same mtime: only ctime (and the content) tell.
    data = shard.read_bytes()
    edited = data.replace(b'"source"', b'"script"', 1)
    assert len(edited) == len(data) and edited != data
    with open(shard, "r+b") as f:
        f.write(edited)
    os.utime(shard, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = store.registry_hash()
    assert after != before
    assert after == manifest_hash(reg.dir)
    # A new shard, then a deleted one.
    extra = next(reg.dir / f"{i:02x}.jsonl" for i in range(256)
                 if not (reg.dir / f"{i:02x}.jsonl").exists())
    extra.write_text(canonical_line(record(999, "x")) + "\n")
    assert store.registry_hash() == manifest_hash(reg.dir) != after
    extra.unlink()
    assert store.registry_hash() == after


def test_temp_and_foreign_files_are_not_part_of_the_hash(reg: Registry) -> None:
    _add(reg, [record(1)])
    before = reg.store.registry_hash()
    (reg.dir / "README.txt").write_text("hello")
    (reg.dir / "0.jsonl").write_text("x")
    (reg.dir / "AB.jsonl").write_text("x")
    assert reg.store.registry_hash() == before == manifest_hash(reg.dir)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.text(
            st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
            min_size=1, max_size=8,
        ).filter(lambda s: s not in (".", "..") and s != ".git"),
        st.dictionaries(st.text(max_size=4), st.integers() | st.text(max_size=4), max_size=3),
        min_size=1, max_size=15,
    )
)
def test_store_round_trip_property(tmp_path_factory: pytest.TempPathFactory,
                                   docs: dict[str, dict[str, Any]]) -> None:
    reg = Registry(tmp_path_factory.mktemp("prop"))
    recs = [record(i, "d/" + name, descriptor=desc) for i, (name, desc) in enumerate(docs.items())]
    new_hash = _add(reg, recs)
    assert new_hash == manifest_hash(reg.dir) == reg.hash()
    loaded = {r["doc_id"]: r for r in reg.store.load_all()}
    assert loaded == {r["doc_id"]: r for r in recs}
    # Writing the same records directly in canonical form gives byte-identical files.
    other = Registry(tmp_path_factory.mktemp("direct"))
    write_shards(other.dir, recs)
    assert manifest_hash(other.dir) == new_hash


# -- malformed shards --------------------------------------------------------------------

@pytest.mark.parametrize(
    ("bad", "what"),
    [
        ('{"path": "x", ', "malformed JSON"),
        ("[1, 2]", "not a JSON object"),
        ("", "empty line"),
        ('{"a": 1}, {"b": 2}', "malformed JSON"),
    ],
)
def test_malformed_line_names_file_and_line(reg: Registry, bad: str, what: str) -> None:
    recs = [record(i) for i in range(200)]
    write_shards(reg.dir, recs)
    shard = max(reg.dir.glob("*.jsonl"), key=lambda p: p.stat().st_size)
    lines = shard.read_text().split("\n")[:-1]
    assert len(lines) >= 2
    lines.insert(1, bad)
    shard.write_text("\n".join(lines) + "\n")
    with pytest.raises(RegistryFormatError) as e:
        reg.store.read_shard(shard.name)
    assert f"{shard.name}:2:" in str(e.value)
    assert what in str(e.value)
    with pytest.raises(RegistryFormatError, match=f"{shard.name}:2:"):
        reg.reader().all_records()


def test_invalid_utf8_names_file_and_line(reg: Registry) -> None:
    write_shards(reg.dir, [record(i, f"a{i}") for i in range(3)])
    shard = sorted(reg.dir.glob("*.jsonl"))[0]
    shard.write_bytes(shard.read_bytes() + b'{"path": "\xff"}\n')
    with pytest.raises(RegistryFormatError, match=rf"{shard.name}:2: not valid UTF-8"):
        reg.store.read_shard(shard.name)


def test_misleading_line_merge_still_names_the_bad_line(reg: Registry) -> None:
    # Lines that happen to re-join into the right number of JSON values must not
    # shift the blame to another line.
    shard = reg.dir / "00.jsonl"
    reg.dir.mkdir(parents=True)
    good = canonical_line(record(1))
    shard.write_text(good + "\n" + "{}, {}\n" + "[1\n" + "2]\n")
    with pytest.raises(RegistryFormatError, match=r"00\.jsonl:2:"):
        reg.store.read_shard("00.jsonl")


def test_writer_refuses_to_touch_an_unparseable_shard(reg: Registry) -> None:
    rec = record(1)
    write_shards(reg.dir, [rec])
    shard = reg.dir / shard_name(rec["path"])
    shard.write_text(shard.read_text() + "{oops\n")
    before = manifest_hash(reg.dir)
    w = reg.writer()
    with pytest.raises(RegistryFormatError, match=rf"{shard.name}:2"):
        w.apply(simple(before, {rec["doc_id"]: {"role": "doc"}}))
    assert manifest_hash(reg.dir) == before


# -- the id index ----------------------------------------------------------------------------

def test_id_index_notices_hand_edits(reg: Registry) -> None:
    recs = [record(i) for i in range(40)]
    _add(reg, recs)
    index = IdIndex(reg.store)
    index.sync(reg.store.manifest())
    assert index.sync(reg.store.manifest()) == 0, "an unchanged registry re-reads nothing"
    # Hand edit: the record of doc 5 gets a new id, outside the writer.
    target = recs[5]
    new_id = doc_id(5000)
    shard = reg.dir / shard_name(target["path"])
    shard.write_text(shard.read_text().replace(target["doc_id"], new_id))
    assert index.sync(reg.store.manifest()) == 1
    assert index.shards_of([new_id]) == {new_id: {shard.name}}
    assert index.shards_of([target["doc_id"]]) == {}
    index.close()
    # The writer sees the edit too: changing the new id modifies that record…
    w = reg.writer()
    w.apply(simple(w.current_hash(), {new_id: {"role": "doc"}}))
    assert reg.records()[new_id]["role"] == "doc"
    # …and the old id is unknown, so fields alone do not make a record.
    with pytest.raises(PatchError, match="missing field"):
        w.apply(simple(w.current_hash(), {target["doc_id"]: {"role": "doc"}}))


def test_no_duplicate_id_through_a_stale_index(reg: Registry) -> None:
    _add(reg, [record(i) for i in range(10)])
    w = reg.writer()
    w.apply(simple(w.current_hash(), {doc_id(1): {"size": 7}}))  # index now built
    # Outside the writer, a record with id 500 appears in some shard.
    stray = record(500, "hand/added.md")
    shard = reg.dir / shard_name(stray["path"])
    old = shard.read_text() if shard.exists() else ""
    shard.write_text(
        "".join(sorted([*old.splitlines(keepends=True), canonical_line(stray) + "\n"],
                       key=lambda ln: json.loads(ln)["path"].encode()))
    )
    # Adding id 500 again at another path updates (moves) it: never a second holder.
    w.apply(simple(w.current_hash(), {doc_id(500): record(500, "elsewhere/new.md")}))
    ids = [r["doc_id"] for r in reg.reader().all_records()]
    assert ids.count(doc_id(500)) == 1
    assert reg.records()[doc_id(500)]["path"] == "elsewhere/new.md"


def test_id_index_follows_other_registry_dirs(tmp_path: Path) -> None:
    a = Registry(tmp_path)
    _add(a, [record(1)])
    other = RegistryStore(tmp_path / "other", a.state)
    write_shards(other.dir, [record(2)])
    index = IdIndex(other)
    index.sync(other.manifest())
    assert set(index.shards_of([doc_id(1), doc_id(2)])) == {doc_id(2)}
    index.close()


def _index_rows(reg: Registry) -> list[tuple[str, str, str]]:
    index = IdIndex(reg.store)
    try:
        index.sync(reg.store.manifest())
        return sorted((d, s, p) for d, places in index.all_ids().items() for s, p in places)
    finally:
        index.close()


def _true_rows(reg: Registry) -> list[tuple[str, str, str]]:
    return sorted((r["doc_id"], shard_name(r["path"]), r["path"]) for r in reg.store.load_all())


def test_id_index_stays_exact_through_many_writes(reg: Registry) -> None:
    """The writer updates only the rows of the records a patch changes; after adds,
    edits, moves (across shards) and deletes the index equals one rebuilt from scratch."""
    import random

    rng = random.Random(5)
    live: dict[str, dict[str, Any]] = {}
    w = reg.writer()
    for step in range(25):
        changes: dict[str, Any] = {}
        for _ in range(rng.randint(1, 8)):
            n = rng.randrange(60)
            i = doc_id(n)
            roll = rng.random()
            if i not in live or roll < 0.3:
                changes[i] = record(n, f"d{rng.randrange(40)}/f{n}.py")
            elif roll < 0.6:
                changes[i] = {"size": rng.randrange(10**6)}
            elif roll < 0.8:
                changes[i] = {"path": f"moved{step}/f{n}.py"}
            else:
                changes[i] = None
        try:
            w.apply(simple(w.current_hash(), changes))
        except PatchError:
            continue  # two records on one path: rejected whole, fine
        live = {r["doc_id"]: r for r in reg.store.load_all()}
        assert _index_rows(reg) == _true_rows(reg), f"step {step}"
    # A cold rebuild agrees.
    (reg.state / "state.db").unlink()
    for extra in reg.state.glob("state.db-*"):
        extra.unlink()
    assert _index_rows(reg) == _true_rows(reg)


def test_writer_keeps_noncanonical_lines_and_reads_them_right(reg: Registry) -> None:
    """Lines of another shape (keys reordered, a non-string doc_id) are parsed, kept
    byte for byte, and still count for the unique-path check."""
    shard = shard_name("dir/a.py")
    p1, p2 = [p for p in (f"dir/x{i}.py" for i in range(5000)) if shard_name(p) == shard][:2]
    a = record(1, "dir/a.py")
    odd = dict(reversed(list(record(2, p1).items())))
    weird = {**record(3, p2), "doc_id": [4, 2]}  # not even hashable
    write_shards(reg.dir, [a])
    lines = [json.dumps(odd), json.dumps(weird, ensure_ascii=False)]
    (reg.dir / shard).write_text(canonical_line(a) + "\n" + "\n".join(lines) + "\n")
    w = reg.writer()
    w.apply(simple(w.current_hash(), {doc_id(1): {"size": 5}}))  # index built here
    text = (reg.dir / shard).read_text()
    assert all(ln + "\n" in text for ln in lines)
    w.apply(simple(w.current_hash(), {doc_id(1): {"size": 6}}))  # lazily read this time
    assert all(ln + "\n" in (reg.dir / shard).read_text() for ln in lines)
    with pytest.raises(PatchError, match="two records"):
        w.apply(simple(w.current_hash(), {doc_id(9): record(9, p1)}))
    with pytest.raises(PatchError, match="two records"):
        w.apply(simple(w.current_hash(), {doc_id(9): record(9, p2)}))
    # A change of the odd record by its id finds it.
    w.apply(simple(w.current_hash(), {doc_id(2): {"role": "doc"}}))
    assert [r["role"] for r in reg.store.load_all() if r["doc_id"] == doc_id(2)] == ["doc"]


def test_hand_truncated_line_is_caught_even_with_a_warm_index(reg: Registry) -> None:
    recs = [record(i, f"same/{i}") for i in range(30)]
    _add(reg, recs)
    w = reg.writer()
    w.apply(simple(w.current_hash(), {doc_id(0): {"size": 1}}))  # index warm
    shard = reg.dir / shard_name(recs[0]["path"])
    lines = shard.read_text().split("\n")
    lines[0] = lines[0][:60]  # still starts like a canonical line
    shard.write_text("\n".join(lines))
    before = manifest_hash(reg.dir)
    with pytest.raises(RegistryFormatError, match=rf"{shard.name}:1: malformed JSON"):
        w.apply(simple(before, {doc_id(0): {"size": 2}}))
    assert manifest_hash(reg.dir) == before


def test_warm_writer_parses_only_what_it_touches(
    reg: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add(reg, [record(i) for i in range(200)])
    w = reg.writer()
    w.apply(simple(w.current_hash(), {doc_id(0): {"size": 1}}))  # index warm
    parsed: list[str] = []
    real_loads = json.loads

    def counting_loads(text: str, *a: Any, **k: Any) -> Any:
        if text.startswith('{"path"') or text.startswith("["):
            parsed.append(text)  # a record line, or a whole shard
        return real_loads(text, *a, **k)

    monkeypatch.setattr("regauto.registry.store.json.loads", counting_loads)
    res = w.apply(simple(w.current_hash(), {doc_id(i): {"size": 7} for i in range(1, 6)}))
    assert res.records_changed == 5
    assert len(parsed) == 5, "only the five changed lines are parsed"
    monkeypatch.undo()
    assert all(reg.records()[doc_id(i)]["size"] == 7 for i in range(1, 6))


def _same_shard(*names: str) -> list[str]:
    """``names`` under one folder chosen so that they all land in one shard."""
    for k in range(100_000):
        paths = [f"t{k}/{n}" for n in names]
        if len({shard_name(p) for p in paths}) == 1:
            return paths
    raise AssertionError("no folder found")


# Pairs whose line order (JSON text) differs from their path order: a prefix followed by a
# character below '"', and characters that JSON escapes.
_TRICKY = [
    *_same_shard("a", "a b"), *_same_shard("a", "a!"), *_same_shard('a"', "a#"),
    *_same_shard("a\\", "a]"), *_same_shard("a", "a\t"), *_same_shard("ä", "z"),
    *_same_shard("x", "x\u2028"), "日本", "e\u0301",
]


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(
    st.dictionaries(
        st.integers(0, 40),
        st.one_of(st.none(), st.sampled_from(_TRICKY), st.integers(0, 10**6)),
        min_size=1, max_size=8,
    ),
    min_size=1, max_size=12,
))
def test_ordered_fast_path_writes_what_the_full_rebuild_writes(
    tmp_path_factory: pytest.TempPathFactory, steps: list[dict[int, Any]]
) -> None:
    """The writer edits an ordered shard by binary search; forced to read every line
    instead (no shard vouched for by the index), it must produce the same bytes and the
    same accept/reject decisions, for paths whose JSON escapes and prefixes make line
    order differ from path order."""
    from regauto.registry.id_index import IdIndex as Index

    fast, slow = (Registry(tmp_path_factory.mktemp(k)) for k in ("fast", "slow"))
    real = Index.shard_hashes
    for step in steps:
        outcomes = []
        for reg in (fast, slow):
            w = reg.writer()
            changes: dict[str, Any] = {}
            for n, what in step.items():
                if what is None:
                    changes[doc_id(n)] = None
                elif isinstance(what, int):
                    changes[doc_id(n)] = record(n, f"p/{n}", size=what)
                else:
                    changes[doc_id(n)] = record(n, what)
            if reg is slow:
                Index.shard_hashes = lambda self: {}  # type: ignore[method-assign]
            try:
                w.apply(simple(w.current_hash(), changes))
                outcomes.append("ok")
            except PatchError as e:
                outcomes.append(str(e).split(" (")[0])
            finally:
                Index.shard_hashes = real  # type: ignore[method-assign]
        assert outcomes[0] == outcomes[1]
        assert manifest_hash(fast.dir) == manifest_hash(slow.dir)
        assert _index_rows(fast) == _true_rows(fast)


def test_ordered_fast_path_places_tricky_paths_by_path_order(reg: Registry) -> None:
    pairs = [("a", "a b"), ("a", "a!"), ('a"', "a#"), ("a\\", "a]"), ("b", "b\t")]
    recs = []
    w = reg.writer()
    for n, (x, y) in enumerate(pairs):
        px, py = _same_shard(x, y)
        rx, ry = record(2 * n, px), record(2 * n + 1, py)
        recs += [rx, ry]
        for rec in (ry, rx):  # the second write edits an ordered shard
            w.apply(simple(w.current_hash(), {rec["doc_id"]: rec}))
    other = Registry(reg.dir.parent / "direct")
    write_shards(other.dir, recs)
    assert manifest_hash(reg.dir) == manifest_hash(other.dir)
    with pytest.raises(PatchError, match="two records"):
        w.apply(simple(w.current_hash(), {doc_id(99): record(99, recs[3]["path"])}))
