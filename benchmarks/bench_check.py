"""Check benchmark: a clean ``regauto check`` on synthetic 10k and 100k-file repositories,
side by side with ``git status`` on the same tree; and ``regauto fix`` after 100 edits.

Target (SPEC §8.2): a clean check costs little more than ``git status`` —
check(100k) ≤ 3 × git status(100k).

Each repository comes from ``benchmarks.synth.make_repo`` and is registered the way a
user would, ``regauto sync --all`` (minutes at 100k: its time is reported too), then
committed.  Every command runs as a user runs it: the CLI in a subprocess, interpreter
start included.  Three clean checks are reported:

- *cold*: the first check after the bootstrap (no reconciler cache: every shard parsed,
  the index compared file by file);
- *warm*: the same check again (the verdict cache: unchanged registry, configuration and
  index — what a repeated check, a hook or CI with a kept state dir sees);
- *no verdict*: the verdict cache removed but the shard and claim caches kept (the first
  check after a commit changed the index).

``python -m benchmarks.bench_check [N …]`` runs chosen sizes and prints rows as they come.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Row
from benchmarks.synth import make_repo

TARGET_RATIO = 3.0
EDITS = 100


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    # This sandbox sets PYTHONDONTWRITEBYTECODE: every run would recompile regauto.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@b", GIT_COMMITTER_NAME="b",
               GIT_COMMITTER_EMAIL="b@b", NO_COLOR="1")
    return env


def _run(cmd: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, check=False)
    dt = time.perf_counter() - t0
    if proc.returncode not in ok:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace')[-2000:]}")
    return dt


def _regauto(*args: str) -> list[str]:
    return [sys.executable, "-m", "regauto", *args]


def _median(cmd: list[str], cwd: Path, repeat: int, before: object = None) -> float:
    times = []
    for _ in range(repeat):
        if callable(before):
            before()
        times.append(_run(cmd, cwd))
    return statistics.median(times)


def prepare(n: int, work: Path) -> tuple[Path, list[Row]]:
    """A registered, committed ``n``-file repository under ``work`` (reused if a previous
    ``--keep`` run left one: its caches are dropped so the cold check is cold)."""
    name = _name(n)
    root = work / f"repo{n}"
    marker = work / f"repo{n}.ready"
    if marker.exists():
        shutil.rmtree(root / ".git" / "regauto" / "reconcile", ignore_errors=True)
        return root, [Row("check", name, "bootstrap", "reused")]
    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    make_repo(root, n)
    rows = [Row("check", name, "build synthetic repo (s)", f"{time.perf_counter() - t0:.1f}")]
    rows.append(Row("check", name, "bootstrap: regauto sync --all (s)",
                    f"{_run(_regauto('-q', 'sync', '--all'), root):.1f}"))
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-q", "--no-verify", "-m", "registered"], root)
    shutil.rmtree(root / ".git" / "regauto" / "reconcile", ignore_errors=True)
    marker.touch()
    return root, rows


def _name(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 else str(n)


def bench_size(n: int, work: Path, *, repeat: int = 5, fix_edits: bool = False) -> list[Row]:
    name = _name(n)
    root, rows = prepare(n, work)
    status = _median(["git", "status"], root, repeat)
    porcelain = _median(["git", "status", "--porcelain=v1", "-z", "--untracked-files=all"],
                        root, repeat)
    cold = _run(_regauto("-q", "check"), root)
    warm = _median(_regauto("-q", "check"), root, repeat)
    verdict = root / ".git" / "regauto" / "reconcile" / "verdict.marshal"
    nov = _median(_regauto("-q", "check"), root, repeat,
                  before=lambda: verdict.unlink(missing_ok=True))
    ratio = warm / status
    rows += [
        Row("check", name, "git status (ms)", f"{status * 1000:.0f}"),
        Row("check", name, "git status --porcelain -uall (ms)", f"{porcelain * 1000:.0f}"),
        Row("check", name, "check, cold (ms)", f"{cold * 1000:.0f}"),
        Row("check", name, "check, warm (ms)", f"{warm * 1000:.0f}"),
        Row("check", name, "check, no verdict cache (ms)", f"{nov * 1000:.0f}"),
        Row("check", name, "check warm / git status", f"{ratio:.2f}",
            f"≤ {TARGET_RATIO:g}", ratio <= TARGET_RATIO if n >= 100_000 else None),
        Row("check", name, "check no-verdict / git status", f"{nov / status:.2f}",
            f"≤ {TARGET_RATIO:g}", nov / status <= TARGET_RATIO if n >= 100_000 else None),
    ]
    if fix_edits:
        py = sorted(p.relative_to(root).as_posix() for p in (root / "src").rglob("*.py"))
        for rel in py[:: max(1, len(py) // EDITS)][:EDITS]:
            with open(root / rel, "a") as f:
                f.write("# edited for the benchmark\n")
        t = _run(_regauto("-q", "fix"), root)
        after = _run(_regauto("-q", "check"), root, ok=(0, 1))
        clean = subprocess.run(_regauto("-q", "check"), cwd=root, env=_env(),
                               capture_output=True).returncode == 0
        rows.append(Row("check", name, f"fix after {EDITS} edits (ms)", f"{t * 1000:.0f}",
                        "check clean after", clean))
        rows.append(Row("check", name, "check after that fix (ms)", f"{after * 1000:.0f}"))
        _run(["git", "checkout", "-q", "--", "."], root)  # back to the registered state
    return rows


def run(quick: bool) -> list[Row]:
    sizes = [(1_000, False), (5_000, True)] if quick else [(10_000, False), (100_000, True)]
    work = Path(tempfile.mkdtemp(prefix="regauto-bench-check-"))
    try:
        rows: list[Row] = []
        for n, fix in sizes:
            rows += bench_size(n, work, fix_edits=fix)
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str]) -> int:
    """``[--keep DIR] [N …]``: with ``--keep``, repositories are built in DIR and reused by
    the next run (a 100k bootstrap takes minutes)."""
    keep = None
    if argv[:1] == ["--keep"]:
        keep, argv = Path(argv[1]), argv[2:]
    sizes = [int(a) for a in argv] or [10_000, 100_000]
    work = keep or Path(tempfile.mkdtemp(prefix="regauto-bench-check-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for n in sizes:
            fix = n == max(sizes)
            for r in bench_size(n, work, fix_edits=fix):
                met = "" if r.met is None else (" met" if r.met else " NOT MET")
                print(f"{r.case:>5}  {r.metric:38} {r.value:>10} {r.target}{met}", flush=True)
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
