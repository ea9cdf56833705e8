"""docs/format.md is the reference other tools build on: its formulas and JSON shapes are
checked against what regauto really writes and prints, on a small real repository."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO_ROOT, git, make_tree, run_regauto
from regauto.registry.records import FIELDS, META_TEXT, shard_of

DOC = (REPO_ROOT / "docs" / "format.md").read_text()


@pytest.fixture
def repo(git_repo: Path) -> Path:
    make_tree(git_repo, {"README.md": "# R\n", "a.txt": "a\n", "pkg/m.py": "x = 1\n"})
    for args in (("init",), ("sync", "--all", "-q"), ("queue", "add", "a.txt")):
        assert run_regauto(*args, cwd=git_repo).returncode == 0
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "registered")
    return git_repo


def json_of(repo: Path, *args: str) -> Any:
    r = run_regauto(*args, "--format", "json", cwd=repo)
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)


def documented_example(heading: str) -> Any:
    """The first ```json block after ``heading``."""
    after = DOC.split(heading, 1)[1]
    return json.loads(after.split("```json\n", 1)[1].split("```", 1)[0])


def test_the_registry_hash_formula_gives_regauto_hash(repo: Path) -> None:
    block = DOC.split("## registry_hash", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    ours = subprocess.run(["sh", "-c", block], cwd=repo, capture_output=True, text=True,
                          check=True).stdout
    assert ours == run_regauto("hash", cwd=repo).stdout


def test_records_shards_and_meta_are_as_documented(repo: Path) -> None:
    reg = repo / ".regauto" / "registry"
    assert (reg / "meta.json").read_text() == META_TEXT
    assert json.dumps(json.loads(META_TEXT)) in DOC
    example = documented_example("## A record")
    assert tuple(example) == FIELDS
    assert re.findall(r"^\| `(\w+)` \| (?:string|array|integer|object)", DOC, re.M) == list(FIELDS)
    for shard in reg.glob("*.jsonl"):
        lines = shard.read_text().splitlines()
        paths = [json.loads(line)["path"] for line in lines]
        assert paths == sorted(paths, key=lambda p: p.encode()) and paths
        assert all(shard_of(p) == shard.name for p in paths)
        assert all(tuple(json.loads(line)) == FIELDS for line in lines)


def test_json_outputs_have_the_documented_shape(repo: Path) -> None:
    (repo / "b.txt").write_text("untracked\n")
    drift = json_of(repo, "check")
    assert set(drift[0]) == set(documented_example("**`regauto check --format json`**")[0])
    records = json_of(repo, "ls")
    assert all(tuple(r) == FIELDS for r in records)
    assert tuple(json_of(repo, "show", "a.txt")) == FIELDS
    stats, doc_stats = json_of(repo, "stats"), documented_example("**`regauto stats")
    assert {k: set(v) for k, v in stats.items()} == {k: set(v) for k, v in doc_stats.items()}
    jobs = json_of(repo, "queue", "list")
    assert set(jobs[0]) == set(documented_example("**`regauto queue list")[0])
    doctor, doc_doctor = json_of(repo, "doctor"), documented_example("**`regauto doctor")
    assert set(doctor) == set(doc_doctor)
    assert set(doctor["checks"][0]) == set(doc_doctor["checks"][0])
    names = [c["check"] for c in doctor["checks"]]
    order = DOC.split("The\nchecks, in order: ", 1)[1].split(" in repositories", 1)[0]
    assert names == re.findall(r"`([a-z ]+)`", order)[: len(names)]


def test_the_documented_patch_applies_and_a_stale_one_is_exit_3(repo: Path) -> None:
    patch = documented_example("## PromotionPatch")
    base = run_regauto("hash", cwd=repo).stdout.strip()
    doc_id = next(r["doc_id"] for r in json_of(repo, "ls") if r["path"] == "a.txt")
    (example_id,) = patch["changes"]
    patch.update(base_hash=base, changes={doc_id: patch["changes"][example_id]})
    r = run_regauto("patch", "-", cwd=repo, input=json.dumps(patch))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == run_regauto("hash", cwd=repo).stdout.strip() != base
    assert json_of(repo, "show", doc_id)["role"] == "data"
    r = run_regauto("patch", "-", cwd=repo, input=json.dumps(patch))  # base_hash is stale now
    assert r.returncode == 3 and "re-read" in r.stderr
