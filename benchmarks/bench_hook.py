"""Hook benchmark (issue 6): ``regauto hook pre-commit`` with 10 staged edited files in
synthetic 1k / 10k / 100k-file repositories, beside a no-op hook under the pre-commit
framework on the same repository.

Targets: hook(100k) ≤ 2 × hook(1k); hook(10k) ≤ the framework's no-op overhead.

The hook is timed two ways: as the framework's commit hook runs it (``PRE_COMMIT=1`` and
git's ``GIT_INDEX_FILE`` set, nothing stashed: it reads the framework's stash patch instead
of diffing the index) — the comparison the targets are about — and as a plain git hook.
The no-op is ``pre-commit run noop --files …`` with the framework's own executable, never a
version manager's shim (pyenv's adds ~80 ms to every call and would flatter the hook).
CPU times (user + sys of the hook and the git processes it ran) are printed beside the
wall times: on a shared machine the wall times move with the load, CPU times much less.
The repositories are built fast: files written directly, the registry's shards rendered in
canonical form from the same classifier/extractor the pipeline uses, one commit.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Row
from regauto import git as rgit
from regauto.automation import classifier, descriptor_extractor
from regauto.registry import records

CONFIG = '[[rules]]\nmatch = "**/*"\nid_mode = "registry"\n'


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    # Users run with bytecode caches; this sandbox sets PYTHONDONTWRITEBYTECODE, which would
    # make every hook run recompile regauto (~80 ms) and measure the sandbox, not regauto.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@b", GIT_COMMITTER_NAME="b",
               GIT_COMMITTER_EMAIL="b@b")
    return env


def build_repo(root: Path, n: int) -> list[str]:
    """``n`` committed documents with a consistent registry; returns the document paths."""
    env = _env()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True, env=env)
    (root / "regauto.toml").write_text(CONFIG)
    paths = []
    shards: dict[str, list[records.Record]] = {}
    base = 202611260000 * 10000
    for i in range(n):
        d = f"pkg{i % 97:02d}/sub{i % 13:02d}"
        rel = f"{d}/note_{i:06d}.md" if i % 3 else f"{d}/mod_{i:06d}.py"
        text = (f"# Note {i}\n\nSome text for document {i}.\n" if i % 3 else
                f'"""Module {i}."""\n\nimport os\n\n\ndef f{i}(a, b=1):\n    return a\n')
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode()
        p.write_bytes(data)
        paths.append(rel)
    for rel in [*paths, "regauto.toml"]:
        data = (root / rel).read_bytes()
        cls = classifier.classify_content(rel, data[:1024])
        rec = {"path": rel, "doc_id": str(base + len(shards.get("x", [])) + 1),
               "id_mode": "registry", "kind": cls.kind, "tags": sorted(cls.tags),
               "role": cls.role, "blob": rgit.blob_id(data), "size": len(data),
               "descriptor": descriptor_extractor.extract(cls.kind, data)}
        shards.setdefault("x", []).append(rec)
    reg = root / ".regauto" / "registry"
    reg.mkdir(parents=True)
    (reg / records.META_NAME).write_text(records.META_TEXT)
    by_shard: dict[str, list[records.Record]] = {}
    for i, rec in enumerate(shards["x"]):
        rec["doc_id"] = f"2026112600{i // 9999:02d}{i % 9999 + 1:04d}"
        by_shard.setdefault(records.shard_of(rec["path"]), []).append(rec)
    for name, recs in by_shard.items():
        (reg / name).write_text(records.shard_text(recs))
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "bench"], cwd=root, check=True, env=env)
    return paths


CPU: dict[str, list[float]] = {}  # label -> CPU ms (user + sys, git included) per run


def _cpu_ms() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1000


def _time(cmd: list[str], root: Path, env: dict[str, str], label: str = "") -> float:
    """Wall ms of ``cmd``; its CPU ms (with the git processes it waited for) go to CPU."""
    c0, t0 = _cpu_ms(), time.perf_counter()
    p = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=False)
    dt = (time.perf_counter() - t0) * 1000
    if p.returncode != 0:
        raise RuntimeError(f"{cmd} exited {p.returncode}: {p.stderr[-500:]}")
    if label:
        CPU.setdefault(label, []).append(_cpu_ms() - c0)
    return dt


def pre_commit_exe() -> str | None:
    """The framework's real executable: beside this interpreter, else on PATH unless that
    is a shell-script shim."""
    beside = Path(sys.executable).parent / "pre-commit"
    if beside.exists():
        return str(beside)
    found = shutil.which("pre-commit")
    if found and Path(found).read_bytes()[:40].startswith(b"#!/usr/bin/env bash"):
        return None  # a shim: timing it would measure the version manager
    return found


def measure(n: int, repeat: int) -> dict[str, float]:
    """Median ms of the hook (framework mode, plain mode) and of the framework's no-op."""
    tmp = Path(tempfile.mkdtemp(prefix=f"regauto-bench-hook-{n}-"))
    try:
        paths = build_repo(tmp, n)
        env = _env()
        fw_env = dict(env, PRE_COMMIT="1", GIT_INDEX_FILE=str(tmp / ".git" / "index"),
                      PRE_COMMIT_HOME=str(tmp / ".git" / "pre-commit-home"))
        (tmp / ".git" / "pre-commit-home").mkdir()
        edited = paths[:: max(1, len(paths) // 10)][:10]
        hook = [sys.executable, "-m", "regauto", "hook", "pre-commit"]
        times: dict[str, list[float]] = {"framework": [], "plain": []}
        # Round 0 of each mode is a warm-up (the state dir's caches, as after any checkout);
        # the modes alternate so that a change of load hits both alike.
        for r in range(repeat + 1):
            for mode, e in (("framework", fw_env), ("plain", env)):
                for rel in edited:
                    with (tmp / rel).open("a") as f:
                        f.write(f"edit {r} {mode}\n")
                subprocess.run(["git", "add", "--", *edited], cwd=tmp, check=True, env=env)
                dt = _time(hook, tmp, e, f"{n} {mode}" if r else "")
                if r:
                    times[mode].append(dt)
        out = {mode: statistics.median(ts) for mode, ts in times.items()}
        exe = pre_commit_exe()
        if exe:
            (tmp / ".pre-commit-config.yaml").write_text(
                "repos:\n- repo: local\n  hooks:\n  - id: noop\n    name: noop\n"
                "    entry: 'true'\n    language: system\n    pass_filenames: false\n"
                "    always_run: true\n")
            subprocess.run(["git", "add", ".pre-commit-config.yaml"], cwd=tmp, check=True,
                           env=env)
            fw = [exe, "run", "noop", "--files", *edited]
            _time(fw, tmp, env)
            out["noop"] = statistics.median(
                _time(fw, tmp, env, f"{n} noop") for _ in range(repeat))
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(quick: bool) -> list[Row]:
    sizes = [1000, 10000] if quick else [1000, 10000, 100000]
    repeat = 5 if quick else 9
    rows: list[Row] = []
    results: dict[int, dict[str, float]] = {}
    load0 = os.getloadavg()[0]
    for n in sizes:
        results[n] = m = measure(n, repeat)
        rows.append(Row("hook", f"{n} files, 10 staged edits",
                        "hook under the framework (ms)", f"{m['framework']:.0f}"))
        rows.append(Row("hook", f"{n} files, 10 staged edits", "hook as a plain git hook (ms)",
                        f"{m['plain']:.0f}"))
        if "noop" in m:
            rows.append(Row("hook", f"{n} files", "pre-commit framework no-op (ms)",
                            f"{m['noop']:.0f}"))
    load1 = os.getloadavg()[0]
    cpu = {k: statistics.median(v) for k, v in CPU.items()}
    for n in sizes:
        rows.append(Row("hook", f"{n} files", "CPU ms: framework / plain / no-op",
                        " / ".join(f"{cpu.get(f'{n} {m}', float('nan')):.0f}"
                                   for m in ("framework", "plain", "noop"))))
    if 10000 in results and "noop" in results[10000]:
        m = results[10000]
        for mode in ("framework", "plain"):
            ratio = m[mode] / m["noop"]
            rows.append(Row("hook", f"10k, {mode}, vs framework no-op", "ratio", f"{ratio:.2f}",
                            *(("≤ 1.0", ratio <= 1.0) if mode == "framework" else ())))
    if 100000 in results:
        for mode in ("framework", "plain"):
            ratio = results[100000][mode] / results[1000][mode]
            rows.append(Row("hook", f"100k vs 1k, {mode}", "ratio", f"{ratio:.2f}",
                            *(("≤ 2.0", ratio <= 2.0) if mode == "framework" else ())))
    if 10000 in results and "10000 noop" in cpu:
        rows.append(Row("hook", "10k, framework, vs no-op, in CPU time", "ratio",
                        f"{cpu['10000 framework'] / cpu['10000 noop']:.2f}"))
    if 100000 in results:
        rows.append(Row("hook", "100k vs 1k, framework, in CPU time", "ratio",
                        f"{cpu['100000 framework'] / cpu['1000 framework']:.2f}"))
    rows.append(Row("hook", "machine", "load average before → after",
                    f"{load0:.1f} → {load1:.1f} on {os.cpu_count()} cores"))
    return rows
