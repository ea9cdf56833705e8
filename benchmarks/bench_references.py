"""Reference rewriting benchmark (issue 13): the pre-commit hook with 10 staged edits and a
new linked file, beside the same hook when the new file is an ADR that prefix mode renames —
so every reference to it in the repository must be found and rewritten in the same run.

Target: the run with the rename costs ≤ 1.2 × the plain one at 100k files (the references
are looked for only in files that mention the renamed file's name, which ``git grep`` finds).
The repositories are those of the hook benchmark (a third Python, two thirds Markdown),
with ``adr/**`` in prefix mode.
"""

from __future__ import annotations

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


def _hook(root: Path, env: dict[str, str], ok: tuple[int, ...]) -> float:
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "regauto", "hook", "pre-commit"], cwd=root,
                       env=env, capture_output=True, text=True, check=False)
    dt = (time.perf_counter() - t0) * 1000
    if p.returncode not in ok:
        raise RuntimeError(f"hook exited {p.returncode}: {p.stderr[-500:]}")
    return dt


def measure(n: int, repeat: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix=f"regauto-bench-refs-{n}-"))
    try:
        paths = build_repo(tmp, n)
        env = _env()
        (tmp / "regauto.toml").write_text(CONFIG)
        subprocess.run(["git", "commit", "-q", "-am", "config"], cwd=tmp, check=True, env=env)
        notes = [p for p in paths if p.endswith(".md")]
        edited = notes[:: max(1, len(notes) // 10)][:10]
        times: dict[str, list[float]] = {"edits": [], "rename": []}
        for r in range(repeat + 1):  # round 0 warms the state dir's caches
            for case in ("edits", "rename"):
                subprocess.run(["git", "reset", "-q", "--hard", "HEAD"], cwd=tmp, check=True,
                               env=env)
                subprocess.run(["git", "clean", "-fdq", "--", "adr", "notes"], cwd=tmp,
                               check=True, env=env)
                for rel in edited:
                    with (tmp / rel).open("a") as f:
                        f.write(f"edit {r}\n")
                # Both cases register a new linked file; only in adr/ is it renamed.
                folder = "adr" if case == "rename" else "notes"
                (tmp / folder).mkdir(exist_ok=True)
                (tmp / folder / f"{r:04d}-decision.md").write_text("# A decision\n")
                with (tmp / edited[0]).open("a") as f:
                    f.write(f"See [the decision](../../{folder}/{r:04d}-decision.md).\n")
                subprocess.run(["git", "add", "-A"], cwd=tmp, check=True, env=env)
                dt = _hook(tmp, env, (0,) if case == "edits" else (1,))
                if r:
                    times[case].append(dt)
        return {case: statistics.median(ts) for case, ts in times.items()}
    finally:
        rmtree(tmp, ignore_errors=True)


def run(quick: bool) -> list[Row]:
    sizes = [1000, 10000] if quick else [1000, 10000, 100000]
    repeat = 3 if quick else 7
    rows: list[Row] = []
    for n in sizes:
        m = measure(n, repeat)
        case = f"{n} files, 10 staged edits + a new linked file"
        rows.append(Row("references", case, "hook (ms)", f"{m['edits']:.0f}"))
        rows.append(Row("references", case + " renamed (ADR), its link rewritten",
                        "hook (ms)", f"{m['rename']:.0f}"))
        ratio = m["rename"] / m["edits"]
        target = ("≤ 1.20", ratio <= 1.2) if n == 100000 else ()
        rows.append(Row("references", f"{n} files", "rename / edits", f"{ratio:.2f}",
                        *target))
    return rows
