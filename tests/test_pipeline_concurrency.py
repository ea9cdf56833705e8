"""Concurrent ``regauto sync`` processes over overlapping paths lose and duplicate nothing.

Four real CLI processes start at once, each over three quarters of the files (so every
file is in three of them), first on a fresh tree (every file needs an id, a rename or a
header), then after edits, moves, copies and deletions.  Afterwards every file has exactly
one record, ids are unique and carried by the files, and a final ``sync --all`` finds
nothing to change.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

from conftest import make_tree
from pipeline_helpers import TIMEOUT_S, by_path, documents_on_disk, regauto, sync

PROCESSES = 4
N = 30


def run_concurrently(repo: Path, path_sets: list[list[str]]) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "regauto", "sync", "--", *paths],
            cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for paths in path_sets
    ]
    failures = []
    for p in procs:
        _out, err = p.communicate(timeout=TIMEOUT_S)
        if p.returncode != 0:
            failures.append(f"exit {p.returncode}: {err}")
    assert not failures, "\n".join(failures)


def overlapping(units: list[list[str]], seed: int) -> list[list[str]]:
    """PROCESSES path sets in shuffled orders; unit i is left out of set i % PROCESSES only.

    A unit is one path, or the old and new paths of a move: like a user, a process names
    both (a registry-mode file carries no id, so only its old record identifies it)."""
    rng = random.Random(seed)
    sets = []
    for k in range(PROCESSES):
        chosen = [u for i, u in enumerate(units) if i % PROCESSES != k]
        rng.shuffle(chosen)
        sets.append([p for u in chosen for p in u])
    return sets


def check_consistent(repo: Path) -> dict[str, str]:
    """One record per file, unique ids, each carried by its file; returns path -> id."""
    reg = by_path(repo)
    assert set(reg) == documents_on_disk(repo)
    ids = {p: r["doc_id"] for p, r in reg.items()}
    assert len(set(ids.values())) == len(ids), "duplicate ids"
    for path, doc in ids.items():
        name = path.rsplit("/", 1)[-1]
        if path.startswith("docs/"):
            assert name.startswith(f"{doc}_") and not re.match(r"[0-9]{16}_", name[17:]), path
        elif path.endswith(".py"):
            assert (repo / path).read_text().splitlines()[0] == f"# doc_id: {doc}", path
    return ids


def test_concurrent_syncs_lose_and_duplicate_nothing(git_repo: Path) -> None:
    repo = git_repo
    files: dict[str, str | bytes] = {}
    for i in range(N):
        files[f"docs/d{i:02d}.md"] = f"# Document {i}\n"
        files[f"pkg/m{i:02d}.py"] = f'"""Module {i}."""\nX = {i}\n'
        files[f"notes/n{i:02d}.txt"] = f"note {i}\n"
    make_tree(repo, files)
    run_concurrently(repo, overlapping([[p] for p in sorted(files)], seed=1))
    ids = check_consistent(repo)
    assert len(ids) == len(files)

    # Round two: edits, moves (all three id modes), copies, deletions and new files.
    touched: list[list[str]] = []
    for i in range(0, N, 3):
        doc = next(p for p in ids if p.startswith(f"docs/{ids[p]}_d{i:02d}"))
        (repo / doc).write_text(f"# Document {i}, edited\n")
        touched.append([doc])
    for i in range(1, N, 3):
        doc = next(p for p in ids if p.startswith(f"docs/{ids[p]}_d{i:02d}"))
        new = doc.replace("docs/", "docs/moved/")
        (repo / "docs/moved").mkdir(exist_ok=True)
        (repo / doc).rename(repo / new)
        old_py, new_py = f"pkg/m{i:02d}.py", f"pkg/sub/m{i:02d}.py"
        (repo / "pkg/sub").mkdir(exist_ok=True)
        (repo / old_py).rename(repo / new_py)
        old_txt, new_txt = f"notes/n{i:02d}.txt", f"archive/n{i:02d}.txt"
        (repo / "archive").mkdir(exist_ok=True)
        (repo / old_txt).rename(repo / new_txt)
        touched += [[doc, new], [old_py, new_py], [old_txt, new_txt]]
    for i in range(2, N, 6):
        (repo / f"notes/n{i:02d}.txt").unlink()
        copy = f"pkg/m{i:02d}_copy.py"
        (repo / copy).write_bytes((repo / f"pkg/m{i:02d}.py").read_bytes())
        (repo / f"docs/new{i:02d}.md").write_text(f"# New {i}\n")
        touched += [[f"notes/n{i:02d}.txt"], [copy], [f"docs/new{i:02d}.md"]]
    run_concurrently(repo, overlapping(touched, seed=2))
    after = check_consistent(repo)

    kept = {p: d for p, d in ids.items() if p in after}
    assert all(after[p] == d for p, d in kept.items())
    for i in range(1, N, 3):
        assert after[f"pkg/sub/m{i:02d}.py"] == ids[f"pkg/m{i:02d}.py"]
        assert after[f"archive/n{i:02d}.txt"] == ids[f"notes/n{i:02d}.txt"]
    deleted = {ids[f"notes/n{i:02d}.txt"] for i in range(2, N, 6)}
    assert not deleted & set(after.values())
    assert set(ids.values()) - deleted <= set(after.values()), "an id was lost"

    before_hash = regauto(repo, "hash").stdout
    proc = sync(repo, "--all")
    assert "up to date" in proc.stderr, proc.stderr
    assert regauto(repo, "hash").stdout == before_hash
    assert check_consistent(repo) == after
