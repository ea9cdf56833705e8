"""The single registry writer (SPEC §7): CAS, atomicity under injected faults, validation,
no-op patches, and no lost update between concurrent processes."""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from regauto.durable import FAULT_ENV, DurableFiles
from regauto.durable_faults import StepFaults
from regauto.errors import CASConflict, PatchError, RegistryFormatError
from regauto.registry import writer_stats
from regauto.registry.backups import listing
from registry_helpers import (
    Registry,
    complex_,
    doc_id,
    manifest_hash,
    record,
    shard_name,
    simple,
    snapshot,
)

N = 40


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    r = Registry(tmp_path)
    w = r.writer()
    w.apply(simple(w.current_hash(), {doc_id(i): record(i) for i in range(N)}))
    return r


def _multi_shard_change(reg: Registry) -> dict[str, Any]:
    """A change touching several shards: modify, add, delete (and so at least 4 ops)."""
    changes: dict[str, Any] = {doc_id(i): {"role": "doc"} for i in range(0, 12, 3)}
    changes[doc_id(1)] = None
    changes[doc_id(900)] = record(900, "new/file.md")
    return changes


# -- compare-and-swap ------------------------------------------------------------------------

def test_cas_conflict_changes_nothing(reg: Registry) -> None:
    w = reg.writer()
    base = w.current_hash()
    w.apply(simple(base, {doc_id(0): {"size": 1}}))
    before = snapshot(reg.dir)
    conflicts = writer_stats.load(reg.state)["conflicts"]
    with pytest.raises(CASConflict) as e:
        w.apply(simple(base, {doc_id(2): {"size": 2}}))
    assert e.value.expected == base and e.value.actual == manifest_hash(reg.dir)
    assert snapshot(reg.dir) == before
    assert writer_stats.load(reg.state)["conflicts"] == conflicts + 1


def test_result_hash_is_the_new_registry_hash(reg: Registry) -> None:
    w = reg.writer()
    base = w.current_hash()
    before = snapshot(reg.dir)
    res = w.apply(simple(base, _multi_shard_change(reg)))
    assert res.changed and res.base_hash == base
    assert res.new_hash == manifest_hash(reg.dir) == reg.hash()
    assert set(res.changed_ids) == set(_multi_shard_change(reg))
    assert res.records_changed == len(_multi_shard_change(reg))
    # The shards it changed were backed up first.
    (folder, meta), *_ = listing(reg.state)
    assert meta["base_hash"] == base and meta["target_hash"] == res.new_hash
    saved = {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "backup.json"}
    assert saved == {n: before[n] for n in res.shards_written if n in before}
    assert sorted(meta["absent"]) == sorted(n for n in res.shards_written if n not in before)
    # The backup keeps the old bytes however the registry changes afterwards.
    w.apply(simple(w.current_hash(), {doc_id(i): {"size": 1} for i in range(2, N)}))
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "backup.json"} == (
        saved)


# -- faults at every step --------------------------------------------------------------------

class _Recording(DurableFiles):
    """Plain steps, each noted under the name ``StepFaults`` gives it."""

    def __init__(self) -> None:
        self.steps: list[str] = []

    def _note(self, kind: str) -> None:
        self.steps.append(f"{kind}:{sum(s.startswith(kind + ':') for s in self.steps)}")

    def fill(self, fd: int, data: bytes) -> None:
        self._note("write")
        super().fill(fd, data)

    def sync_fd(self, fd: int) -> None:
        self._note("fsync")
        super().sync_fd(fd)

    def replace(self, src: Path, dst: Path) -> None:
        self._note("replace")
        if dst.name == "journal.json":
            self.steps.append("committed")
        super().replace(src, dst)

    def unlink(self, path: Path) -> bool:
        self._note("unlink")
        return super().unlink(path)

    def fsync_dir(self, path: Path) -> None:
        self._note("dir_fsync")
        super().fsync_dir(path)


def _copy(reg: Registry, to: Path) -> Registry:
    twin = Registry(to)
    shutil.copytree(reg.dir, twin.dir)
    shutil.copytree(reg.state, twin.state, ignore=shutil.ignore_patterns("locks"))
    return twin


def test_an_os_error_at_each_step_leaves_the_registry_old_or_new(
    reg: Registry, tmp_path: Path
) -> None:
    """A real OSError (EIO) at every file-system step of a multi-shard write: the write
    fails, and the next command finds the registry exactly as before the write (the error
    came before the journal was in place) or exactly as after it (rolled forward)."""
    changes = _multi_shard_change(reg)
    base, before = reg.hash(), snapshot(reg.dir)
    # The steps of this write, and the state it leads to, from a twin written without fault.
    twin, rec = _copy(reg, tmp_path / "twin"), _Recording()
    w = twin.writer(rec)
    target = w.apply(simple(base, changes)).new_hash
    after, steps = snapshot(twin.dir), rec.steps
    commit = steps.index("committed")
    assert len(steps) > 20 and steps[commit - 1].startswith("replace:")
    for i, step in enumerate(s for s in steps if s != "committed"):
        r = _copy(reg, tmp_path / f"fault{i}")
        faults = StepFaults(fault=step)
        with pytest.raises(OSError) as e:
            r.writer(faults).apply(simple(base, changes))
        assert e.value.errno == errno.EIO and faults.fired == step, step
        # The next command (here a read) recovers first.
        committed = steps.index(step) > commit
        assert r.hash() == (target if committed else base), step
        assert snapshot(r.dir) == (after if committed else before), step
        assert r.leftovers() == [], step
        assert manifest_hash(r.dir) == r.hash(), step
        # And the registry still works, its id index following whatever happened.
        w2 = r.writer()
        w2.apply(simple(w2.current_hash(), {doc_id(3): {"size": 3}}))
        assert r.records()[doc_id(3)]["size"] == 3, step
        assert len(r.store.load_all()) == len(r.records()), step


def test_a_full_disk_while_writing_a_temp_changes_nothing(
    reg: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC half way through a shard's temp file, injected through the environment as
    in a ``regauto`` process: nothing changes, no backup of a write that never was."""
    base, before = reg.hash(), snapshot(reg.dir)
    n_backups = len(listing(reg.state))
    stats = writer_stats.load(reg.state)
    monkeypatch.setenv(FAULT_ENV, "write:1:ENOSPC")
    with pytest.raises(OSError) as e:
        w = reg.writer()
        w.apply(simple(base, _multi_shard_change(reg)))
    assert e.value.errno == errno.ENOSPC
    assert snapshot(reg.dir) == before and reg.hash() == base and reg.leftovers() == []
    assert len(listing(reg.state)) == n_backups
    assert writer_stats.load(reg.state)["rollbacks"] == stats["rollbacks"] + 1


class _LyingDisk(DurableFiles):
    """A disk that stores one shard's temp file with a byte flipped, and says nothing."""

    def __init__(self) -> None:
        self.lied = False

    def write(self, path: Path, data: bytes, mode: int = 0o644) -> None:
        if not self.lied and ".regauto-tmp" in path.name and data:
            self.lied = True
            data = data[:-2] + bytes([data[-2] ^ 1]) + data[-1:]
        super().write(path, data, mode)


def test_a_write_that_does_not_verify_is_undone(reg: Registry) -> None:
    base, before = reg.hash(), snapshot(reg.dir)
    disk = _LyingDisk()
    with pytest.raises(RegistryFormatError, match="verification"):
        reg.writer(disk).apply(simple(base, _multi_shard_change(reg)))
    assert disk.lied
    assert reg.hash() == base == manifest_hash(reg.dir)
    assert snapshot(reg.dir) == before and reg.leftovers() == []


def test_fault_while_creating_the_registry_leaves_it_absent(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    with pytest.raises(OSError):
        w = reg.writer(StepFaults(fault="fsync:0"))
        w.apply(simple(w.current_hash(), {doc_id(1): record(1)}))
    assert reg.store.files() == [] and reg.leftovers() == []


# -- JSON Patch and no-ops ---------------------------------------------------------------------

def test_failing_test_op_changes_nothing(reg: Registry) -> None:
    w = reg.writer()
    base = w.current_hash()
    before = snapshot(reg.dir)
    ops: list[dict[str, Any]] = [
        {"op": "replace", "path": f"/documents/{doc_id(2)}/role", "value": "doc"},
        {"op": "test", "path": f"/documents/{doc_id(2)}/size", "value": -1},
    ]
    with pytest.raises(PatchError, match="test failed"):
        w.apply(complex_(base, ops))
    assert snapshot(reg.dir) == before and reg.leftovers() == []


def test_json_patch_operations(reg: Registry) -> None:
    w = reg.writer()
    a, b = doc_id(4), doc_id(5)
    res = w.apply(complex_(w.current_hash(), [
        {"op": "test", "path": f"/documents/{a}/size", "value": 104},
        {"op": "replace", "path": f"/documents/{a}/role", "value": "test"},
        {"op": "add", "path": f"/documents/{a}/descriptor/extra", "value": [1, 2]},
        {"op": "remove", "path": f"/documents/{b}"},
        {"op": "add", "path": f"/documents/{doc_id(777)}", "value": record(777, "n/e/w.py")},
        {"op": "copy", "from": f"/documents/{a}/size", "path": f"/documents/{doc_id(6)}/size"},
    ]))
    recs = reg.records()
    assert recs[a]["role"] == "test" and recs[a]["descriptor"]["extra"] == [1, 2]
    assert b not in recs and recs[doc_id(777)]["path"] == "n/e/w.py"
    assert recs[doc_id(6)]["size"] == 104
    assert res.new_hash == manifest_hash(reg.dir)


def test_whole_document_operations(reg: Registry) -> None:
    w = reg.writer()
    w.apply(complex_(w.current_hash(), [{"op": "replace", "path": "/documents", "value": {
        doc_id(1): record(1), doc_id(2): record(2, "elsewhere.py")}}]))
    assert set(reg.records()) == {doc_id(1), doc_id(2)}
    assert reg.records()[doc_id(2)]["path"] == "elsewhere.py"


@pytest.mark.parametrize(
    "kind",
    ["empty_changes", "same_values", "test_only", "same_record", "delete_absent", "ops_empty"],
)
def test_noop_patch_keeps_hash_and_writes_nothing(reg: Registry, kind: str) -> None:
    w = reg.writer()
    base = w.current_hash()
    before = snapshot(reg.dir)
    mtimes = {p.name: p.stat().st_mtime_ns for p in reg.dir.iterdir()}
    backups_before = len(listing(reg.state))
    noops = writer_stats.load(reg.state)["noops"]
    patch = {
        "empty_changes": simple(base, {}),
        "same_values": simple(base, {doc_id(3): {"role": "source", "size": 103}}),
        "test_only": complex_(base, [{"op": "test", "path": f"/documents/{doc_id(3)}/size",
                                      "value": 103}]),
        "same_record": simple(base, {doc_id(7): record(7)}),
        "delete_absent": simple(base, {doc_id(4321): None}),
        "ops_empty": complex_(base, []),
    }[kind]
    res = w.apply(patch)
    assert not res.changed and res.new_hash == base == manifest_hash(reg.dir)
    assert snapshot(reg.dir) == before
    assert {p.name: p.stat().st_mtime_ns for p in reg.dir.iterdir()} == mtimes
    assert len(listing(reg.state)) == backups_before
    assert writer_stats.load(reg.state)["noops"] == noops + 1


def test_noop_on_missing_registry_creates_nothing(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    w = reg.writer()
    res = w.apply(simple(w.current_hash(), {}))
    assert not res.changed and not reg.dir.exists()


# -- validation --------------------------------------------------------------------------

BAD_CHANGES: dict[str, dict[str, Any]] = {
    "bad_id": {"123": record(1)},
    "bad_date_id": {"2026139912000001": record(1, doc_id="2026139912000001")},
    "zero_sequence": {"2026010100000000": record(1, doc_id="2026010100000000")},
    "missing_fields": {doc_id(500): {"path": "x.py", "doc_id": doc_id(500)}},
    "unknown_field": {doc_id(2): {"colour": "red"}},
    "dup_path_existing": {doc_id(500): record(500, record(3)["path"])},
    "dup_path_within": {doc_id(500): record(500, "same.py"), doc_id(501): record(501, "same.py")},
    "dotdot": {doc_id(500): record(500, "../outside.py")},
    "dotdot_inner": {doc_id(500): record(500, "a/../../b.py")},
    "absolute": {doc_id(500): record(500, "/etc/passwd")},
    "dot_git": {doc_id(500): record(500, ".git/hooks/pre-commit")},
    "dot_git_move": {doc_id(2): {"path": ".git/config"}},
    "empty_path": {doc_id(500): record(500, "")},
    "nul_path": {doc_id(500): record(500, "a\0b")},
    "bad_role": {doc_id(2): {"role": "boss"}},
    "unsorted_tags": {doc_id(2): {"tags": ["z", "a"]}},
    "bad_blob": {doc_id(2): {"blob": "xyz"}},
    "negative_size": {doc_id(2): {"size": -1}},
    "bool_size": {doc_id(2): {"size": True}},
    "id_mismatch": {doc_id(2): {"doc_id": doc_id(3)}},
    "descriptor_not_object": {doc_id(2): {"descriptor": 3}},
    "bad_id_mode": {doc_id(2): {"id_mode": "magic"}},
}


@pytest.mark.parametrize("name", sorted(BAD_CHANGES))
def test_invalid_patch_is_rejected_and_changes_nothing(reg: Registry, name: str) -> None:
    w = reg.writer()
    base = w.current_hash()
    before = snapshot(reg.dir)
    with pytest.raises(PatchError):
        w.apply(simple(base, BAD_CHANGES[name]))
    assert snapshot(reg.dir) == before and reg.leftovers() == []


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "add", "path": "/other", "value": 1}],
        [{"op": "add", "path": f"/documents/{doc_id(600)}", "value": record(601)}],
        [{"op": "add", "path": f"/documents/{doc_id(600)}", "value": "text"}],
        [{"op": "replace", "path": f"/documents/{doc_id(2)}/path", "value": "../x"}],
        [{"op": "remove", "path": f"/documents/{doc_id(2)}/kind"}],
        [{"op": "remove", "path": f"/documents/{doc_id(4242)}"}],
        [{"op": "frobnicate", "path": f"/documents/{doc_id(2)}"}],
        [{"op": "move", "path": f"/documents/{doc_id(2)}/x", "from": 5}],
        [{"op": "replace", "path": "/documents", "value": [1]}],
        [{"op": "replace", "path": "", "value": {"documents": {"x": record(1)}}}],
    ],
)
def test_invalid_operations_are_rejected(reg: Registry, ops: list[dict[str, Any]]) -> None:
    w = reg.writer()
    before = snapshot(reg.dir)
    with pytest.raises(PatchError):
        w.apply(complex_(w.current_hash(), ops))
    assert snapshot(reg.dir) == before


def test_merge_patch_semantics(reg: Registry) -> None:
    w = reg.writer()
    a = doc_id(8)
    w.apply(simple(w.current_hash(), {a: {"descriptor": {"summary": None, "new": {"x": 1}}}}))
    desc = reg.records()[a]["descriptor"]
    assert "summary" not in desc and desc["new"] == {"x": 1} and desc["functions"] == ["main"]


# -- no lost update ------------------------------------------------------------------------

_INCREMENTER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from registry_helpers import Registry, simple
    from regauto.registry.retry import apply_with_retry

    worker, count = int(sys.argv[1]), int(sys.argv[2])
    reg = Registry(Path({root!r}))
    writer = reg.writer()
    reader = reg.reader()
    COUNTER = {counter!r}

    for i in range(count):
        def compute(base: str, i: int = i):
            # Re-read after the hash was taken: a write in between makes the CAS fail.
            rec = next(r for r in reader.all_records() if r["doc_id"] == COUNTER)
            desc = rec["descriptor"]
            return simple(base, {{COUNTER: {{"descriptor": {{
                "n": desc["n"] + 1, "log": [*desc["log"], f"{{worker}}:{{i}}"]}}}}}})
        apply_with_retry(writer, compute, attempts=200, base_delay=0.002)
    """
)


def test_no_lost_update_between_processes(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    counter = doc_id(1)
    w = reg.writer()
    w.apply(simple(w.current_hash(), {counter: record(1, descriptor={"n": 0, "log": []})}))
    script = tmp_path / "incr.py"
    script.write_text(_INCREMENTER.format(
        tests=str(Path(__file__).parent), root=str(tmp_path), counter=counter))
    workers, count = 8, 50
    procs = [
        subprocess.Popen([sys.executable, str(script), str(k), str(count)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for k in range(workers)
    ]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    desc = reg.records()[counter]["descriptor"]
    assert desc["n"] == workers * count
    assert sorted(desc["log"]) == sorted(f"{k}:{i}" for k in range(workers) for i in range(count))
    stats = writer_stats.load(reg.state)
    assert stats["conflicts"] > 0
    assert stats["writes"] == 1 + workers * count
    assert reg.hash() == manifest_hash(reg.dir)
    assert json.loads(reg.dir.joinpath(shard_name(record(1)["path"])).read_text())["doc_id"] == (
        counter
    )
