"""Two files claim one doc_id (SPEC §8.2 ``duplicate_id``): ``sync`` and ``fix`` pick the
same keeper.  The file the registry records for the id keeps it (when it records several,
the first of them in path order); with no record, the path that sorts first.  The other
file gets a new id, and ``check`` is clean afterwards.

Each contest is made as it happens to a user: a merge of two branches that each added a
file carrying the same id, with or without registering it, or two files written by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import git, make_tree
from pipeline_helpers import by_path, commit_all, documents_on_disk, regauto, sync
from regauto import docid

X = "2025010112000009"
HEADER = f"# doc_id: {X}\n"
COMMANDS = [("sync", "--all"), ("fix",)]


def paths(mode: str, twin_first: bool) -> tuple[str, str]:
    """The holder and the twin claiming ``X``; the twin's path sorts first or last."""
    if mode == "prefix":  # docs/*.md: prefix mode by default
        return f"docs/{X}_guide.md", f"docs/{X}_{'0' if twin_first else 'z'}-twin.md"
    return "pkg/core.py", f"pkg/{'a' if twin_first else 'z'}_twin.py"


def content(path: str, text: str) -> str:
    return HEADER + f"X = {text!r}\n" if path.endswith(".py") else f"# {text}\n"


def merged(repo: Path, holder: str, twin: str, *, twin_registered: bool) -> None:
    """``main`` registers ``holder``; branch ``other`` adds ``twin`` (registered or not)
    claiming the same id; ``other`` is merged into ``main``."""
    make_tree(repo, {"README.md": "# Project\n"})
    sync(repo, "--all")
    commit_all(repo, "base")
    git(repo, "checkout", "-qb", "other")
    make_tree(repo, {twin: content(twin, "twin")})
    if twin_registered:
        sync(repo, twin)
    commit_all(repo, "twin")
    git(repo, "checkout", "-q", "main")
    make_tree(repo, {holder: content(holder, "holder")})
    sync(repo, holder)
    commit_all(repo, "holder")
    git(repo, "merge", "-q", "--no-edit", "other")


def run(repo: Path, command: tuple[str, ...]) -> None:
    proc = regauto(repo, *command)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def now_at(repo: Path, path: str) -> str:
    """Where a file that lost its id ended up (prefix mode renames it to its new id)."""
    if not path.endswith(".md"):
        return path
    (hit,) = [p for p in by_path(repo) if p.endswith(path[len("docs/") + 16:])]
    return hit


def assert_kept(repo: Path, keeper: str, loser: str) -> None:
    """``keeper`` still carries and is recorded with X; ``loser`` carries and is recorded
    with a new valid id; the registry matches the tree and ``check`` is clean."""
    reg = by_path(repo)
    assert reg[keeper]["doc_id"] == X
    assert (repo / keeper).exists()
    loser_now = now_at(repo, loser)
    new = reg[loser_now]["doc_id"]
    assert new != X and docid.is_valid(new)
    if loser.endswith(".md"):
        assert loser_now == f"docs/{new}_{loser[len('docs/') + 17:]}"
        assert not (repo / loser).exists()
    else:
        assert (repo / loser).read_text().startswith(f"# doc_id: {new}\n")
    if keeper.endswith(".py"):
        assert (repo / keeper).read_text().startswith(HEADER)
    assert set(reg) == documents_on_disk(repo)
    assert len({r["doc_id"] for r in reg.values()}) == len(reg)
    check = regauto(repo, "check", "--format", "json")
    assert check.returncode == 0 and json.loads(check.stdout) == [], check.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=["sync", "fix"])
@pytest.mark.parametrize("mode", ["prefix", "header"])
def test_both_branches_registered_the_id_the_first_recorded_path_keeps_it(
    git_repo: Path, mode: str, command: tuple[str, ...]
) -> None:
    """After the merge the registry records X twice (one record from each branch)."""
    holder, twin = paths(mode, twin_first=False)
    merged(git_repo, holder, twin, twin_registered=True)
    assert sorted(p for p, r in by_path(git_repo).items() if r["doc_id"] == X) == [holder, twin]
    run(git_repo, command)
    assert_kept(git_repo, holder, twin)


@pytest.mark.parametrize("command", COMMANDS, ids=["sync", "fix"])
@pytest.mark.parametrize("mode", ["prefix", "header"])
def test_the_recorded_holder_keeps_the_id_from_an_unrecorded_twin_sorting_first(
    git_repo: Path, mode: str, command: tuple[str, ...]
) -> None:
    """The other branch committed its file without regauto: only the holder is recorded."""
    holder, twin = paths(mode, twin_first=True)
    merged(git_repo, holder, twin, twin_registered=False)
    assert [p for p, r in by_path(git_repo).items() if r["doc_id"] == X] == [holder]
    run(git_repo, command)
    assert_kept(git_repo, holder, twin)


@pytest.mark.parametrize("command", COMMANDS, ids=["sync", "fix"])
@pytest.mark.parametrize("mode", ["prefix", "header"])
def test_without_a_record_the_path_sorting_first_keeps_the_id(
    git_repo: Path, mode: str, command: tuple[str, ...]
) -> None:
    second, first = paths(mode, twin_first=True)
    make_tree(git_repo, {first: content(first, "first"), second: content(second, "second")})
    run(git_repo, command)
    assert_kept(git_repo, first, second)


def test_a_sync_of_the_losers_alone_leaves_the_keeper_and_its_record_as_they_are(
    git_repo: Path,
) -> None:
    """The keeper is not in the batch: the registry's record of it stays, the loser's line
    for the id goes, and the keeper's file is not touched."""
    holder, twin = paths("prefix", twin_first=False)
    merged(git_repo, holder, twin, twin_registered=True)
    copy = f"docs/{X}_m-copy.md"
    make_tree(git_repo, {copy: "# Copy\n"})
    record = by_path(git_repo)[holder]
    text = (git_repo / holder).read_bytes()
    sync(git_repo, copy, twin)
    assert by_path(git_repo)[holder] == record
    assert (git_repo / holder).read_bytes() == text
    assert_kept(git_repo, holder, twin)
    assert_kept(git_repo, holder, copy)
