"""Two files claim one doc_id (SPEC §8.2 ``duplicate_id``): ``sync`` and ``fix`` pick the
same keeper.  The file the registry records for the id keeps it; when it records several
(both branches of a merge registered a file with the id), the one recorded on the merge's
target branch before the merge, as the first-parent history tells, else the first of them
in path order; with no record, the path that sorts first.  The other file gets a new id,
and ``check`` is clean afterwards.

Each contest is made as it happens to a user: a merge of two branches that each added a
file carrying the same id, with or without registering it, or two files written by hand.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from conftest import git, make_tree
from pipeline_helpers import by_path, commit_all, documents_on_disk, regauto, sync
from regauto import docid
from registry_helpers import shard_name

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


def merged(repo: Path, holder: str, twin: str, *, twin_registered: bool,
           into: str = "main", commit: bool = True) -> None:
    """``main`` registers ``holder``; branch ``other`` adds ``twin`` (registered or not)
    claiming the same id; ``other`` is merged into ``main`` (or, ``into="other"``, ``main``
    into ``other``), the merge committed unless ``commit`` is false."""
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
    if into == "other":
        git(repo, "checkout", "-q", "other")
    git(repo, "merge", "-q", "--no-edit" if commit else "--no-commit",
        "main" if into == "other" else "other")


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
@pytest.mark.parametrize("twin_first", [False, True], ids=["twin-last", "twin-first"])
@pytest.mark.parametrize("into", ["main", "other"])
def test_both_branches_registered_the_id_the_target_branchs_file_keeps_it(
    git_repo: Path, mode: str, command: tuple[str, ...], twin_first: bool, into: str
) -> None:
    """After the merge the registry records X twice, one record from each branch, in two
    shards (the merge driver never saw both).  The file the target branch had registered
    keeps X whichever path sorts first: other files may refer to it by that id."""
    holder, twin = paths(mode, twin_first=twin_first)
    assert shard_name(holder) != shard_name(twin)
    merged(git_repo, holder, twin, twin_registered=True, into=into)
    assert sorted(p for p, r in by_path(git_repo).items() if r["doc_id"] == X) == sorted(
        [holder, twin])
    run(git_repo, command)
    keeper, loser = (holder, twin) if into == "main" else (twin, holder)
    assert_kept(git_repo, keeper, loser)


@pytest.mark.parametrize(("after", "command"), [
    ("uncommitted", COMMANDS[0]),  # fix waits for the merge to end; sync is the commit hook's
    ("later-commits", COMMANDS[0]), ("later-commits", COMMANDS[1]),
], ids=["uncommitted-sync", "later-commits-sync", "later-commits-fix"])
def test_the_target_branchs_file_keeps_the_id_before_the_merge_commit_and_long_after(
    git_repo: Path, command: tuple[str, ...], after: str
) -> None:
    """Before the merge is committed HEAD itself records X once; once other commits have
    changed the holder's shard since, history is read further back to the merge."""
    holder, twin = paths("prefix", twin_first=True)
    merged(git_repo, holder, twin, twin_registered=True, commit=after == "later-commits")
    if after == "later-commits":
        near = (f"data/n-{k}.json" for k in itertools.count())
        for n, path in enumerate(itertools.islice(
                (p for p in near if shard_name(p) == shard_name(holder)), 4)):
            make_tree(git_repo, {path: f"[{n}]\n"})
            sync(git_repo, path)  # claims nothing: the contest stays
            commit_all(git_repo, f"data {n}")
    run(git_repo, command)
    assert_kept(git_repo, holder, twin)


@pytest.mark.parametrize("command", COMMANDS, ids=["sync", "fix"])
def test_without_history_to_ask_the_first_recorded_path_keeps_the_id(
    git_repo: Path, command: tuple[str, ...]
) -> None:
    """On a branch with no commit yet, history cannot tell which record came first: the
    first recorded path in path order keeps X, as it does outside git."""
    holder, twin = paths("prefix", twin_first=True)
    merged(git_repo, holder, twin, twin_registered=True)
    git(git_repo, "checkout", "-q", "--orphan", "fresh")
    run(git_repo, command)
    assert_kept(git_repo, twin, holder)


def test_history_is_asked_only_while_an_id_is_recorded_twice(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lookup costs a ``git log`` (and a ``git cat-file``) per run with a contested
    id, and no git call at all once the contest is repaired."""
    holder, twin = paths("prefix", twin_first=True)
    merged(git_repo, holder, twin, twin_registered=True)
    monkeypatch.setenv("REGAUTO_TRACE", "1")

    def logs() -> int:
        proc = regauto(git_repo, "check")
        return sum(" git log " in line for line in proc.stderr.splitlines())

    assert logs() == 1
    run(git_repo, ("fix",))
    assert logs() == 0


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
