"""Ids are permanent (issue 12): ``check --base REF`` catches an id changed by hand or two
ids swapped, and an id lost while its document stays; ``fix --base REF`` gives them back."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import git, make_tree
from pipeline_helpers import REGISTRY, commit_all, ids_by_path, regauto, registry_bytes, sync

FILES: dict[str, str | bytes] = {
    "notes/a.txt": "alpha\n",
    "notes/b.txt": "beta\n",
    "notes/c.txt": "gamma\n",
    "pkg/core.py": '"""Core."""\n',
}


def on_topic(repo: Path) -> dict[str, str]:
    """Registered on main; a branch ``topic`` checked out.  The ids main recorded."""
    git(repo, "branch", "-M", "main")
    make_tree(repo, FILES)
    sync(repo, "--all")
    commit_all(repo, "registered")
    git(repo, "checkout", "-qb", "topic")
    return ids_by_path(repo)


def set_ids(repo: Path, new: dict[str, str]) -> None:
    """Edit the registry by hand: each path's record gets the given id (text replacement,
    the way a person edits the line)."""
    old = ids_by_path(repo)
    for shard in (repo / REGISTRY).glob("*.jsonl"):
        lines = []
        for line in shard.read_text().splitlines(keepends=True):
            path = json.loads(line)["path"]
            if path in new:
                line = line.replace(old[path], new[path])
            lines.append(line)
        shard.write_text("".join(lines))


def drifts(repo: Path, *args: str) -> list[tuple[str, str, str | None]]:
    r = regauto(repo, "check", *args, "--format", "json")
    return [(d["kind"], d["path"], d["doc_id"]) for d in json.loads(r.stdout)]


def test_a_swapped_pair_and_a_hand_changed_id_are_caught_and_restored(git_repo: Path) -> None:
    ids = on_topic(git_repo)
    a, b, c = ids["notes/a.txt"], ids["notes/b.txt"], ids["notes/c.txt"]
    other = str(int(c) + 1000)
    set_ids(git_repo, {"notes/a.txt": b, "notes/b.txt": a, "notes/c.txt": other})
    commit_all(git_repo, "hand edits")
    assert regauto(git_repo, "check").returncode == 0  # without history nothing shows
    r = regauto(git_repo, "check", "--base", "main")
    assert r.returncode == 1 and "regauto fix --base main" in r.stdout
    assert drifts(git_repo, "--base", "main") == [
        ("id_changed", "notes/a.txt", b), ("id_changed", "notes/b.txt", a),
        ("id_changed", "notes/c.txt", other)]
    # In CI, on the committed tree: the same answer.
    assert drifts(git_repo, "--rev", "HEAD", "--base", "main") == drifts(
        git_repo, "--base", "main")
    hand_edited = registry_bytes(git_repo)
    r = regauto(git_repo, "fix", "--base", "main", "--dry-run")
    assert r.returncode == 1 and r.stdout.count("would fix id_changed") == 3
    assert registry_bytes(git_repo) == hand_edited
    r = regauto(git_repo, "fix", "--base", "main")
    assert r.returncode == 0, r.stderr
    assert ids_by_path(git_repo) == ids
    after = registry_bytes(git_repo)
    r = regauto(git_repo, "fix", "--base", "main")
    assert r.returncode == 0 and r.stdout == "" and registry_bytes(git_repo) == after
    assert regauto(git_repo, "check", "--base", "main").returncode == 0
    git(git_repo, "diff", "--exit-code", "main", "--", REGISTRY)  # main's registry, byte for byte


def test_an_id_lost_by_a_move_comes_back(git_repo: Path) -> None:
    ids = on_topic(git_repo)
    # Moved and registered anew (what a move looks like when the record was dropped and
    # the file registered again): main's id is gone, the document is not.
    (git_repo / "notes/a.txt").rename(git_repo / "notes/z.txt")
    for shard in (git_repo / REGISTRY).glob("*.jsonl"):
        lines = shard.read_text().splitlines(keepends=True)
        shard.write_text("".join(ln for ln in lines if '"notes/a.txt"' not in ln))
    assert regauto(git_repo, "fix").returncode == 0
    new = ids_by_path(git_repo)["notes/z.txt"]
    assert new != ids["notes/a.txt"]
    assert drifts(git_repo, "--base", "main") == [("id_lost", "notes/z.txt", ids["notes/a.txt"])]
    assert regauto(git_repo, "fix", "--base", "main").returncode == 0
    assert ids_by_path(git_repo)["notes/z.txt"] == ids["notes/a.txt"]
    assert regauto(git_repo, "check", "--base", "main").returncode == 0


def test_an_id_lost_with_its_record_comes_back(git_repo: Path) -> None:
    ids = on_topic(git_repo)
    for shard in (git_repo / REGISTRY).glob("*.jsonl"):
        lines = shard.read_text().splitlines(keepends=True)
        shard.write_text("".join(ln for ln in lines if '"notes/b.txt"' not in ln))
    assert ("id_lost", "notes/b.txt", ids["notes/b.txt"]) in drifts(git_repo, "--base", "main")
    assert regauto(git_repo, "fix", "--base", "main").returncode == 0
    assert ids_by_path(git_repo) == ids
    assert regauto(git_repo, "check", "--base", "main").returncode == 0


def test_an_id_carried_by_the_file_is_left_for_a_person(git_repo: Path) -> None:
    ids = on_topic(git_repo)
    core = ids["pkg/core.py"]
    new = str(int(core) + 1000)
    text = (git_repo / "pkg/core.py").read_text().replace(core, new)
    (git_repo / "pkg/core.py").write_text(text)
    set_ids(git_repo, {"pkg/core.py": new})
    assert regauto(git_repo, "fix").returncode == 0
    assert drifts(git_repo, "--base", "main") == [("id_changed", "pkg/core.py", new)]
    r = regauto(git_repo, "fix", "--base", "main")
    assert r.returncode == 1 and "pkg/core.py" in r.stderr and "header" in r.stderr


def test_an_unknown_base_is_exit_2(git_repo: Path) -> None:
    on_topic(git_repo)
    r = regauto(git_repo, "check", "--base", "origin/nowhere")
    assert r.returncode == 2 and "fetch-depth: 0" in r.stderr
