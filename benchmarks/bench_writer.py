"""The registry writer at 1k, 10k and 100k documents (SPEC §3, §7).

For each size a registry is written directly in canonical form (realistic records of
~350 bytes with a Python-like descriptor).  Child processes — so that peak memory is the
writer's, not the builder's — apply 10-record patches (half modify, half add) through
``RegistryWriterService`` exactly as a caller would: ``current_hash`` (recovery +
stat-cached manifest), then ``apply`` (CAS, plan, backup, temps + fsync, journal,
renames, verify, id index).  One child per size reports the first patch (cold hash cache
and id index) and the peak memory; then one child applies patches to all sizes in turn,
so that the machine's load weighs on each alike, and reports the medians the target is
on.  Then a full load of the largest registry.

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
PATCHES = 40
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

class _Patcher:
    """Applies 10-record patches to one registry, as a caller would."""

    def __init__(self, reg_dir: Path, state_dir: Path, n: int, seed: int) -> None:
        from regauto.events.lock_manager import LockManager
        from regauto.registry.registry_writer_service import RegistryWriterService
        from regauto.registry.store import RegistryStore

        self.writer = RegistryWriterService(RegistryStore(reg_dir, state_dir),
                                            LockManager(state_dir))
        self.n = n
        self.next_new = n + 10**6 * seed
        self.rng = random.Random(seed)

    def patch_ms(self) -> float:
        from regauto.registry.promotion_patch import PromotionPatch

        rng = self.rng
        changes: dict[str, Any] = {}
        for i in rng.sample(range(self.n), PATCH_SIZE // 2):
            changes[_doc_id(i)] = {"size": rng.randint(1, 10**6),
                                   "descriptor": {"lines": rng.randint(1, 999)}}
        while len(changes) < PATCH_SIZE:
            changes[_doc_id(self.next_new)] = _record(self.next_new, rng)
            self.next_new += 1
        t0 = time.perf_counter()
        base = self.writer.current_hash()
        result = self.writer.apply(PromotionPatch(base, "bench", "bench", changes=changes))
        elapsed = (time.perf_counter() - t0) * 1000
        assert result.changed and result.records_changed == PATCH_SIZE
        return elapsed


def _child_patch(dirs: list[tuple[Path, Path, int]]) -> dict[str, Any]:
    """One registry: the first (cold) patch, a few more, and the peak memory."""
    (reg_dir, state_dir, n), = dirs
    p = _Patcher(reg_dir, state_dir, n, seed=1)
    first = p.patch_ms()
    for _ in range(3):
        p.patch_ms()
    return {"first_ms": first, "peak_mib": _peak_mib()}


def _child_interleaved(dirs: list[tuple[Path, Path, int]]) -> dict[str, Any]:
    """All sizes in turn, patch after patch, so that the machine's load (fsync latency
    varies a lot on a shared disk) weighs on every size alike; medians per size."""
    patchers = [_Patcher(r, s, n, seed=2) for r, s, n in dirs]
    for p in patchers:
        p.patch_ms()  # warm: hash cache and id index already built by _child_patch
    times: dict[int, list[float]] = {p.n: [] for p in patchers}
    for _ in range(PATCHES):
        for p in patchers:
            times[p.n].append(p.patch_ms())
    return {str(n): statistics.median(t) for n, t in times.items()}


def _child_load(dirs: list[tuple[Path, Path, int]]) -> dict[str, Any]:
    from regauto.events.lock_manager import LockManager
    from regauto.registry.reader import Reader
    from regauto.registry.store import RegistryStore

    (reg_dir, state_dir, n), = dirs
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
    return {"load_ms": load_ms, "reader_ms": reader_ms, "peak_mib": _peak_mib()}


def _peak_mib() -> float:
    """Peak resident memory of this process.  ``VmHWM`` where there is one: on Linux
    ``ru_maxrss`` survives ``exec`` and would report the parent's peak (the builder's)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _in_child(what: str, dirs: list[tuple[Path, Path, int]]) -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "src")])}
    args = [f"{r}{os.pathsep}{s}{os.pathsep}{n}" for r, s, n in dirs]
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_writer", what, *args],
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
    with tempfile.TemporaryDirectory(prefix="regauto-bench-writer-") as tmp:
        dirs = [(Path(tmp) / f"reg{n}", Path(tmp) / f"state{n}", n) for n in sizes]
        cases = {}
        for reg_dir, state_dir, n in dirs:
            nbytes = build(reg_dir, n)
            shards = len(list(reg_dir.glob("*.jsonl")))
            cases[n] = f"{n // 1000}k docs ({nbytes / 2**20:.1f} MiB, {shards} shards)"
            res = _in_child("patch", [(reg_dir, state_dir, n)])
            rows.append(Row(NAME, cases[n], "first patch ms (cold hash cache + id index)",
                            f"{res['first_ms']:.0f}"))
            rows.append(Row(NAME, cases[n], "peak RSS of the patching process, MiB",
                            f"{res['peak_mib']:.0f}"))
        medians = {int(k): v for k, v in _in_child("interleaved", dirs).items()}
        small = medians[sizes[0]]
        for n in sizes:
            target, met = "", None
            if n != sizes[0]:
                target, met = f"<= 1.5 x {small:.1f} = {1.5 * small:.1f}", medians[n] <= 1.5 * small
            rows.append(Row(NAME, cases[n], f"patch {PATCH_SIZE} records, median ms",
                            f"{medians[n]:.1f}", target, met))
        reg_dir, state_dir, n = dirs[-1]
        load = _in_child("load", [dirs[-1]])
        case = f"{n // 1000}k docs"
        rows.append(Row(NAME, case, "full load ms (RegistryStore.load_all)",
                        f"{load['load_ms']:.0f}", "< 1000", load["load_ms"] < 1000))
        rows.append(Row(NAME, case, "full load ms (Reader.all_records)",
                        f"{load['reader_ms']:.0f}", "< 1000", load["reader_ms"] < 1000))
        rows.append(Row(NAME, case, "peak RSS of the loading process, MiB",
                        f"{load['peak_mib']:.0f}"))
    return rows


if __name__ == "__main__":
    fn = {"patch": _child_patch, "interleaved": _child_interleaved, "load": _child_load}
    triples = [a.split(os.pathsep) for a in sys.argv[2:]]
    print(json.dumps(fn[sys.argv[1]]([(Path(r), Path(s), int(n)) for r, s, n in triples])))
