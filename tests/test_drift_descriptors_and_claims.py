"""Two drifts a full ``regauto check`` must not call clean, and one it must.

- A descriptor holding a non-integer number (``1.0``, ``1.5``, ``NaN``): no extractor makes
  one (every number in a descriptor is a count), and a float's text is not the same in
  every JSON writer, so a registry holding one is no longer byte-identical across machines
  (SPEC §3).  It is an ``invalid_record``; ``fix`` re-derives the record from the file.
- A registry-mode file whose header claims another id than its record: when no other
  document holds that id the claim wins (SPEC §4.3: the id a file claims comes first), so
  check reports ``header_mismatch`` and fix moves the record to it.  When another document
  holds it, the file is a copy: the holder keeps the id, the copy its own (SPEC §8.2), and
  registry mode never edits the file (§4.2) — nothing to repair, so check is clean.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import make_tree
from pipeline_helpers import REGISTRY, by_path, regauto, sync
from regauto.registry import records


def edit_shard(repo: Path, path: str, old: str, new: str) -> None:
    shard = repo / REGISTRY / records.shard_of(path)
    text = shard.read_text(encoding="utf-8")
    assert old in text, text
    shard.write_text(text.replace(old, new, 1), encoding="utf-8")


def drifts(repo: Path) -> list[dict[str, str]]:
    proc = regauto(repo, "check", "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    found: list[dict[str, str]] = json.loads(proc.stdout)
    assert (proc.returncode == 1) == bool(found)
    return found


@pytest.mark.parametrize("number", ["3.0", "2.5", "3e0", "NaN"])
def test_a_float_in_a_descriptor_is_an_invalid_record_that_fix_rederives(
        git_repo: Path, number: str) -> None:
    make_tree(git_repo, {"a.txt": "1\n2\n3\n", "b.txt": "b\n"})
    sync(git_repo, "--all")
    edit_shard(git_repo, "a.txt", '"descriptor": {"lines": 3}',
               f'"descriptor": {{"lines": {number}}}')
    [bad] = drifts(git_repo)
    assert (bad["kind"], bad["path"]) == ("invalid_record", "a.txt"), bad
    assert "integer" in bad["detail"]
    fixed = regauto(git_repo, "fix")
    assert fixed.returncode == 0, fixed.stderr
    assert drifts(git_repo) == []
    assert by_path(git_repo)["a.txt"]["descriptor"] == {"lines": 3}


def test_the_writer_refuses_a_float_in_a_descriptor(git_repo: Path) -> None:
    make_tree(git_repo, {"a.txt": "a\n"})
    sync(git_repo, "--all")
    rec = dict(by_path(git_repo)["a.txt"], descriptor={"lines": 1.5})
    base = regauto(git_repo, "hash").stdout.strip()
    text = json.dumps({"base_hash": base, "source": "t", "reason": "t",
                       "changes": {rec["doc_id"]: rec}})
    before = regauto(git_repo, "hash").stdout
    proc = subprocess.run([sys.executable, "-m", "regauto", "patch", "-"], cwd=git_repo,
                          input=text, capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "integer" in proc.stderr, proc.stderr
    assert regauto(git_repo, "hash").stdout == before


def test_a_registry_mode_header_claiming_a_free_id_moves_the_record(git_repo: Path) -> None:
    make_tree(git_repo, {"a.md": "# A\n", "b.md": "# B\n"})
    sync(git_repo, "--all")
    own = by_path(git_repo)["b.md"]["doc_id"]
    claimed = "2026120500000042"
    (git_repo / "b.md").write_text(f"<!-- doc_id: {claimed} -->\n# B\n")
    assert regauto(git_repo, "fix").returncode == 0
    assert by_path(git_repo)["b.md"]["doc_id"] == claimed  # the claim came first
    edit_shard(git_repo, "b.md", f'"doc_id": "{claimed}"', f'"doc_id": "{own}"')
    [d] = drifts(git_repo)  # the blob still matches: only the claim says so
    assert (d["kind"], d["path"], d["doc_id"]) == ("header_mismatch", "b.md", own), d
    assert regauto(git_repo, "fix").returncode == 0
    assert drifts(git_repo) == [] and by_path(git_repo)["b.md"]["doc_id"] == claimed


def test_a_registry_mode_copy_claiming_anothers_id_keeps_its_own(git_repo: Path) -> None:
    make_tree(git_repo, {"a.md": "# A\n", "b.md": "# B\n"})
    sync(git_repo, "--all")
    ids = {p: r["doc_id"] for p, r in by_path(git_repo).items()}
    copy = f"<!-- doc_id: {ids['a.md']} -->\n# B\n"
    (git_repo / "b.md").write_text(copy)
    assert regauto(git_repo, "fix").returncode == 0
    after = {p: r["doc_id"] for p, r in by_path(git_repo).items()}
    assert after == ids  # the holder keeps its id, the copy its own
    assert (git_repo / "b.md").read_text() == copy  # registry mode: never edited
    assert drifts(git_repo) == []
    assert regauto(git_repo, "fix").stderr.startswith("nothing to fix")
