"""Bootstrap: the first ``regauto sync --all`` of a repository that has no registry yet.

Compared with a floor measured in the same run on the same files: ``ast.parse`` of every
Python file, each worker reading its files itself, over all cores.  That is the least work
any tool that extracts Python descriptors must do, so ``bootstrap / floor`` says how much
regauto adds on top (ids, renames, headers, hashing, Markdown and JSON, the registry).

Peak memory is the largest resident set of any process of the ``regauto`` process tree
(``wait4``), and the sampled peak of the whole tree's sum (workers included; pages shared
after a fork are counted once per process, so this overstates).  On a shared machine the
wall times move with the load: the floor is measured before and after the bootstrap and the
faster run counts, and CPU times are reported beside them.

``python -m benchmarks [--quick] bootstrap``; also ``python -m benchmarks.bench_bootstrap N``
for one size, printing its rows.
"""

from __future__ import annotations

import ast
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

from benchmarks.common import Row
from benchmarks.synth import make_repo

NAME = "bootstrap"
RATIO_TARGET = 1.5
RSS_TARGET_MIB = 1024
SRC = Path(__file__).resolve().parent.parent / "src"


def _parse(path: str) -> int:
    with open(path, "rb") as f:
        data = f.read()
    try:
        ast.parse(data)
    except (SyntaxError, ValueError):
        pass
    return len(data)


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def parse_floor(paths: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds to read and ``ast.parse`` every file, split over all cores
    (pool start included)."""
    n = os.cpu_count() or 1
    cpu0, t0 = _children_cpu(), time.perf_counter()
    with Pool(n) as pool:
        for _ in pool.imap_unordered(_parse, paths, chunksize=max(1, len(paths) // (n * 8))):
            pass
        pool.close()
        pool.join()
    return time.perf_counter() - t0, _children_cpu() - cpu0


def _tree_rss_kib(pid: int) -> int:
    """Sum of VmRSS over ``pid`` and its descendants (Linux /proc; 0 elsewhere)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds of the process and its workers
    rss: float  # MiB, the largest single process of the tree
    tree: float  # MiB, sampled peak of the sum over the tree


def run_regauto(repo: Path, *args: str) -> Run:
    """Time ``python -m regauto ARGS`` in ``repo`` and measure its memory."""
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(SRC)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "regauto", "-q", *args], cwd=repo, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_tree = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_tree
        while not done.wait(0.05):
            peak_tree = max(peak_tree, _tree_rss_kib(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"regauto {' '.join(args)} failed ({proc.returncode}): {err}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, peak_tree / 1024)


def measure(n: int, workdir: Path) -> list[Row]:
    case = f"{n:,} files"
    t0 = time.perf_counter()
    repo = make_repo(workdir / f"repo-{n}", n)
    built = time.perf_counter() - t0
    py = [str(repo.root / p) for p in repo.python]
    load0 = os.getloadavg()[0]
    floor1, floor_cpu1 = parse_floor(py)
    boot = run_regauto(repo.root, "sync", "--all")
    again = run_regauto(repo.root, "sync", "--all")
    # The floor again, after: on a shared machine the load changes; the faster run counts
    # (the conservative choice for the ratio).
    floor2, floor_cpu2 = parse_floor(py)
    floor, floor_cpu = min(floor1, floor2), min(floor_cpu1, floor_cpu2)
    fast = min((floor1, floor_cpu1), (floor2, floor_cpu2))
    load1 = os.getloadavg()[0]
    ratio, cpu_ratio = boot.wall / floor, boot.cpu / floor_cpu
    rows = [
        Row(NAME, case, "repository", f"{repo.files:,} files, {repo.bytes / 2**20:,.0f} MiB, "
            f"built in {built:.1f} s"),
        Row(NAME, case, f"floor: ast.parse {len(py):,} files on {os.cpu_count()} cores",
            f"{floor:.1f} s wall ({floor1:.1f} / {floor2:.1f}), {floor_cpu:.1f} s CPU"),
        Row(NAME, case, "bootstrap sync --all",
            f"{boot.wall:.1f} s wall ({n / boot.wall:,.0f} files/s), {boot.cpu:.1f} s CPU"),
        Row(NAME, case, "bootstrap / floor (wall)", f"{ratio:.2f}×", f"≤ {RATIO_TARGET}×",
            ratio <= RATIO_TARGET),
        Row(NAME, case, "bootstrap / floor (CPU)", f"{cpu_ratio:.2f}×"),
        Row(NAME, case, "cores used (CPU / wall)",
            f"floor {fast[1] / fast[0]:.2f}, bootstrap {boot.cpu / boot.wall:.2f} "
            f"(load {load0:.1f} → {load1:.1f})"),
        Row(NAME, case, "peak RSS, largest process", f"{boot.rss:,.0f} MiB",
            f"< {RSS_TARGET_MIB} MiB", boot.rss < RSS_TARGET_MIB),
        Row(NAME, case, "peak RSS, process tree (sampled)", f"{boot.tree:,.0f} MiB"),
        Row(NAME, case, "second sync --all (no-op)", f"{again.wall:.1f} s wall, "
            f"{again.cpu:.1f} s CPU, {again.rss:,.0f} MiB"),
    ]
    shutil.rmtree(repo.root, ignore_errors=True)
    return rows


def run(quick: bool) -> list[Row]:
    sizes = (1_000, 10_000) if quick else (10_000, 100_000)
    with tempfile.TemporaryDirectory(prefix="regauto-bench-") as tmp:
        return [row for n in sizes for row in measure(n, Path(tmp))]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="regauto-bench-") as tmp:
        for r in measure(int(sys.argv[1]) if len(sys.argv) > 1 else 1000, Path(tmp)):
            print(f"{r.case:>14} | {r.metric:<44} | {r.value:<32} | {r.target} {r.met}")
