"""The registry writer at 1k, 10k and 100k documents (SPEC §3, §7).

For each size a registry is written directly in canonical form (realistic records of
~350 bytes with a Python-like descriptor), then a child process — so its peak memory is
the writer's, not the builder's — applies 10-record patches (half modify, half add)
through ``RegistryWriterService`` exactly as a caller would: ``current_hash`` (recovery
+ stat-cached manifest), then ``apply`` (CAS, plan, backup, temps + fsync, journal,
renames, verify, id index).  The first patch pays the cold hash cache and id index and is
reported apart; the target is on the median of the warm ones.  Then a full load of the
largest registry.

Targets: patch(100k) <= 1.5 x patch(1k); full load of 100k < 1 s.
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import Row

NAME = "writer"
PATCHES = 15
PATCH_SIZE = 10
_EPOCH = datetime(2026, 1, 23, 22, 47)
_WORDS = ("parse", "load", "render", "index", "check", "merge", "write", "scan", "build", "sync")


def _doc_id(n: int) -> str:
    return (_EPOCH + timedelta(minutes=n // 9999)).strftime("%Y%m%d%H%M") + f"{n % 9999 + 1:04d}"


def _record(n: int, rng: random.Random) -> dict[str, Any]:
    words = rng.sample(_WORDS, 4)
    return {
        "path": f"src/pkg_{n % 97}/sub_{n % 13}/module_{n}.py",
        "doc_id": _doc_id(n),
        "id_mode": "header",
        "kind": "python",
        "tags": ["file", "non-executable", "python", "text"],
        "role": "test" if n % 7 == 0 else "source",
        "blob": f"{rng.getrandbits(160):040x}",
        "size": rng.randint(200, 40_000),
        "descriptor": {
            "summary": f"{words[0].capitalize()} and {words[1]} the {words[2]} records.",
            "classes": {f"{words[0].capitalize()}er": [f"{words[1]}", f"_{words[2]}"]},
            "functions": [f"{w}_{n % 10}" for w in words[1:]],
            "imports": ["json", "os", "pathlib", f"pkg_{n % 97}"],
            "lines": rng.randint(10, 900),
        },
    }


def build(reg_dir: Path, n: int) -> int:
    """Write a registry of ``n`` records directly, in canonical form; returns its bytes."""
    from regauto.registry import records

    rng = random.Random(n)
    by_shard: dict[str, list[dict[str, Any]]] = {}
    for i in range(n):
        rec = _record(i, rng)
        by_shard.setdefault(records.shard_of(rec["path"]), []).append(rec)
    reg_dir.mkdir(parents=True)
    (reg_dir / records.META_NAME).write_text(records.META_TEXT)
    total = 0
    for name, recs in by_shard.items():
        text = records.shard_text(recs)
        (reg_dir / name).write_text(text, encoding="utf-8")
        total += len(text.encode())
    return total


# -- measured in a child process -------------------------------------------------------------

def _child_patch(reg_dir: Path, state_dir: Path, n: int) -> dict[str, Any]:
    from regauto.events.lock_manager import LockManager
    from regauto.registry.promotion_patch import PromotionPatch
    from regauto.registry.registry_writer_service import RegistryWriterService
    from regauto.registry.store import RegistryStore

    writer = RegistryWriterService(RegistryStore(reg_dir, state_dir), LockManager(state_dir))
    rng = random.Random(7)
    times = []
    next_new = n
    for _ in range(PATCHES + 1):
        changes: dict[str, Any] = {}
        for i in rng.sample(range(n), PATCH_SIZE // 2):
            changes[_doc_id(i)] = {"size": rng.randint(1, 10**6),
                                   "descriptor": {"lines": rng.randint(1, 999)}}
        for _ in range(PATCH_SIZE - len(changes)):
            changes[_doc_id(next_new)] = _record(next_new, rng)
            next_new += 1
        t0 = time.perf_counter()
        base = writer.current_hash()
        result = writer.apply(PromotionPatch(base, "bench", "bench", changes=changes))
        times.append((time.perf_counter() - t0) * 1000)
        assert result.changed and result.records_changed == PATCH_SIZE
    return {
        "first_ms": times[0],
        "median_ms": statistics.median(times[1:]),
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child_load(reg_dir: Path, state_dir: Path, n: int) -> dict[str, Any]:
    from regauto.events.lock_manager import LockManager
    from regauto.registry.reader import Reader
    from regauto.registry.store import RegistryStore

    store = RegistryStore(reg_dir, state_dir)
    t0 = time.perf_counter()
    recs = store.load_all()
    load_ms = (time.perf_counter() - t0) * 1000
    assert len(recs) >= n
    del recs
    t0 = time.perf_counter()
    count = len(Reader(store, LockManager(state_dir)).all_records())
    reader_ms = (time.perf_counter() - t0) * 1000
    assert count >= n
    return {"load_ms": load_ms, "reader_ms": reader_ms,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _in_child(what: str, reg_dir: Path, state_dir: Path, n: int) -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "src")])}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_writer", what, str(reg_dir), str(state_dir),
         str(n)],
        capture_output=True, text=True, check=False, cwd=root, env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


# -- the benchmark -----------------------------------------------------------------------------

def run(quick: bool) -> list[Row]:
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    rows: list[Row] = []
    patch_ms: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="regauto-bench-writer-") as tmp:
        for n in sizes:
            reg_dir, state_dir = Path(tmp) / f"reg{n}", Path(tmp) / f"state{n}"
            nbytes = build(reg_dir, n)
            case = f"{n // 1000}k docs ({nbytes / 2**20:.1f} MiB, "
            case += f"{len(list(reg_dir.glob('*.jsonl')))} shards)"
            res = _in_child("patch", reg_dir, state_dir, n)
            patch_ms[n] = res["median_ms"]
            small = patch_ms[sizes[0]]
            if n == sizes[0]:
                rows.append(Row(NAME, case, f"patch {PATCH_SIZE} records, median ms",
                                f"{res['median_ms']:.1f}"))
            else:
                limit = 1.5 * small
                rows.append(Row(NAME, case, f"patch {PATCH_SIZE} records, median ms",
                                f"{res['median_ms']:.1f}", f"<= 1.5 x {small:.1f} = {limit:.1f}",
                                res["median_ms"] <= limit))
            rows.append(Row(NAME, case, "first patch ms (cold hash cache + id index)",
                            f"{res['first_ms']:.0f}"))
            rows.append(Row(NAME, case, "peak RSS of the patching process, MiB",
                            f"{res['peak_mib']:.0f}"))
        n = sizes[-1]
        load = _in_child("load", Path(tmp) / f"reg{n}", Path(tmp) / f"state{n}", n)
        rows.append(Row(NAME, f"{n // 1000}k docs", "full load ms (RegistryStore.load_all)",
                        f"{load['load_ms']:.0f}", "< 1000", load["load_ms"] < 1000))
        rows.append(Row(NAME, f"{n // 1000}k docs", "full load ms (Reader.all_records)",
                        f"{load['reader_ms']:.0f}", "< 1000", load["reader_ms"] < 1000))
        rows.append(Row(NAME, f"{n // 1000}k docs", "peak RSS of the loading process, MiB",
                        f"{load['peak_mib']:.0f}"))
    return rows


if __name__ == "__main__":
    what, reg, state, count = sys.argv[1:5]
    fn = {"patch": _child_patch, "load": _child_load}[what]
    print(json.dumps(fn(Path(reg), Path(state), int(count))))
