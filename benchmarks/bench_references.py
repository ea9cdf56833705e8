"""Reference rewriting benchmark (issue 13): the pre-commit hook with 10 staged edits and a
new linked file, beside the same hook when the new file is an ADR that prefix mode renames —
so every reference to it in the repository must be found and rewritten in the same run.

Target: the run with the rename costs ≤ 1.2 × the plain one at 100k files.  The hook finds
the files that may refer to the renamed one in the reference index (``ref_index``: the
names each committed document mentions, in the state dir) plus the staged changes; the
first rename after a clone (or after the state dir was lost) builds that index, which is
reported on its own row.  Both ways the hook runs are timed: as a plain git hook, and as
the pre-commit framework runs it (``PRE_COMMIT=1``, ``GIT_INDEX_FILE`` set, nothing
stashed); CPU times (the hook and its git processes) beside the wall times, which move
with the load of a shared machine.  The repositories are those of the hook benchmark (a
third Python, two thirds Markdown: every Markdown file may hold references), with
``adr/**`` in prefix mode.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from shutil import rmtree

from benchmarks.bench_hook import _env, build_repo
from benchmarks.common import Row

CONFIG = ('[[rules]]\nmatch = "adr/**"\nid_mode = "prefix"\n'
          '[[rules]]\nmatch = "**/*"\nid_mode = "registry"\n')
MODES = ("plain", "framework")
CASES = ("edits", "rename")


def _cpu_ms() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1000


def _hook(root: Path, env: dict[str, str], ok: tuple[int, ...]) -> tuple[float, float]:
    """Wall and CPU ms of one hook run."""
    c0, t0 = _cpu_ms(), time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "regauto", "hook", "pre-commit"], cwd=root,
                       env=env, capture_output=True, text=True, check=False)
    dt = (time.perf_counter() - t0) * 1000
    if p.returncode not in ok:
        raise RuntimeError(f"hook exited {p.returncode}: {p.stderr[-500:]}")
    if "rewrote the reference" not in p.stderr and 1 in ok:
        raise RuntimeError(f"the hook rewrote no reference: {p.stderr[-500:]}")
    return dt, _cpu_ms() - c0


def _prepare(root: Path, env: dict[str, str], edited: list[str], case: str, tag: str) -> None:
    subprocess.run(["git", "reset", "-q", "--hard", "HEAD"], cwd=root, check=True, env=env)
    subprocess.run(["git", "clean", "-fdq", "--", "adr", "notes"], cwd=root, check=True, env=env)
    for rel in edited:
        with (root / rel).open("a") as f:
            f.write(f"edit {tag}\n")
    # Both cases register a new linked file; only in adr/ is it renamed.
    folder = "adr" if case == "rename" else "notes"
    (root / folder).mkdir(exist_ok=True)
    (root / folder / f"{tag}-decision.md").write_text("# A decision\n")
    with (root / edited[0]).open("a") as f:
        f.write(f"See [the decision](../../{folder}/{tag}-decision.md).\n")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)


def measure(n: int, repeat: int) -> dict[str, float]:
    """Median wall and CPU ms per (mode, case); the first rename's (index built)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"regauto-bench-refs-{n}-"))
    try:
        paths = build_repo(tmp, n)
        env = _env()
        (tmp / "regauto.toml").write_text(CONFIG)
        subprocess.run(["git", "commit", "-q", "-am", "config"], cwd=tmp, check=True, env=env)
        fw_env = dict(env, PRE_COMMIT="1", GIT_INDEX_FILE=str(tmp / ".git" / "index"))
        notes = [p for p in paths if p.endswith(".md")]
        edited = notes[:: max(1, len(notes) // 10)][:10]
        out: dict[str, float] = {}
        times: dict[str, list[float]] = {}
        # Round 0 warms the state dir's caches; its first rename builds the reference index.
        # Modes and cases alternate so that a change of load hits them alike.
        for r in range(repeat + 1):
            for mode in MODES:
                for case in CASES:
                    _prepare(tmp, env, edited, case, f"{r:02d}{mode[0]}")
                    wall, cpu = _hook(tmp, fw_env if mode == "framework" else env,
                                      (0,) if case == "edits" else (1,))
                    if r:
                        times.setdefault(f"{mode} {case}", []).append(wall)
                        times.setdefault(f"{mode} {case} cpu", []).append(cpu)
                    elif case == "rename" and "first" not in out:
                        out["first"], out["first cpu"] = wall, cpu
        out.update({k: statistics.median(v) for k, v in times.items()})
        out["index MiB"] = sum(f.stat().st_size for f in (tmp / ".git" / "regauto").glob(
            "refs.db*")) / 2**20
        return out
    finally:
        rmtree(tmp, ignore_errors=True)


def run(quick: bool) -> list[Row]:
    sizes = [10000] if quick else [10000, 100000]
    repeat = 3 if quick else 5
    rows: list[Row] = []
    for n in sizes:
        m = measure(n, repeat)
        case = f"{n} files, 10 staged edits + a new linked file"
        for mode in MODES:
            for what, label in (("edits", ""), ("rename", " renamed (ADR), its link rewritten")):
                key = f"{mode} {what}"
                rows.append(Row("references", case + label, f"hook, {mode} (ms wall / CPU)",
                                f"{m[key]:.0f} / {m[key + ' cpu']:.0f}"))
            ratio = m[f"{mode} rename"] / m[f"{mode} edits"]
            cpu_ratio = m[f"{mode} rename cpu"] / m[f"{mode} edits cpu"]
            target = ("≤ 1.20", ratio <= 1.2) if n == 100000 else ()
            rows.append(Row("references", f"{n} files, {mode}", "rename / edits (wall)",
                            f"{ratio:.2f}", *target))
            rows.append(Row("references", f"{n} files, {mode}", "rename / edits (CPU)",
                            f"{cpu_ratio:.2f}"))
        rows.append(Row("references", f"{n} files, first rename (builds the index)",
                        "hook, plain (ms wall / CPU)",
                        f"{m['first']:.0f} / {m['first cpu']:.0f}"))
        rows.append(Row("references", f"{n} files", "reference index (MiB)",
                        f"{m['index MiB']:.1f}"))
    return rows
