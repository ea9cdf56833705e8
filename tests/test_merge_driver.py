"""The registry merge driver: record-by-record merges, through real git and directly."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import git, make_tree, run_regauto
from regauto.git import blob_id
from regauto.gitint import merge_driver
from regauto.gitint.install import ensure_merge_driver
from regauto.registry import records
from registry_helpers import same_shard_paths

REG = ".regauto/registry"


def rec(path: str, doc_id: str, content: str = "x\n") -> dict[str, Any]:
    data = content.encode()
    return {
        "path": path,
        "doc_id": doc_id,
        "id_mode": "registry",
        "kind": "markdown",
        "tags": ["file", "markdown", "text"],
        "role": "doc",
        "blob": blob_id(data),
        "size": len(data),
        "descriptor": {"lines": content.count("\n")},
    }


P = same_shard_paths(4)
SHARD = f"{REG}/{records.shard_of(P[0])}"
R = [rec(p, f"20260101120{i}0001") for i, p in enumerate(P)]


def text(*recs: dict[str, Any]) -> str:
    return records.shard_text(list(recs))


def branches(repo: Path, base: str, ours: str, theirs: str) -> None:
    """Commit ``base``, then ``ours`` on main and ``theirs`` on branch ``other``."""
    make_tree(repo, {f"{REG}/meta.json": records.META_TEXT, SHARD: base})
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "other")
    make_tree(repo, {SHARD: theirs})
    git(repo, "commit", "-qam", "theirs")
    git(repo, "checkout", "-q", "main")
    make_tree(repo, {SHARD: ours})
    git(repo, "commit", "-qam", "ours")


def merge(repo: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    p = subprocess.run(
        ["git", "merge", "--no-edit", "other"], cwd=repo, capture_output=True, text=True,
        env=env,
    )
    return p.returncode, p.stdout + p.stderr


def without_regauto_on_path() -> dict[str, str]:
    """The environment with a PATH holding only git's folder: no ``regauto`` command, as
    for a user whose regauto lives in the pre-commit framework's virtualenv."""
    git_dir = os.path.dirname(shutil.which("git") or "/usr/bin/git")
    assert shutil.which("regauto", path=git_dir) is None
    return {**os.environ, "PATH": git_dir}


def this_interpreter_at(python: Path) -> None:
    """This test run's interpreter, with its packages, at the path ``python``.

    A bare symlink is not enough when the tests run from a virtualenv (a venv, the pre-commit
    framework's environment): Python finds its venv through the ``pyvenv.cfg`` beside or above
    the path it was started by, so a symlink elsewhere starts the base interpreter without the
    venv's packages.  The venv's ``pyvenv.cfg`` and ``lib`` beside the link make it the same
    environment seen from another folder."""
    python.parent.mkdir()
    python.symlink_to(sys.executable)
    if sys.prefix == sys.base_prefix:
        return
    home = python.parent.parent
    shutil.copyfile(Path(sys.prefix, "pyvenv.cfg"), home / "pyvenv.cfg")
    for sub in ("lib", "lib64"):
        if Path(sys.prefix, sub).exists():
            (home / sub).symlink_to(Path(sys.prefix, sub))


# -- through real git ------------------------------------------------------------------------


def test_parallel_additions_merge_cleanly(git_repo: Path) -> None:
    assert ensure_merge_driver(git_repo, REG)
    git(git_repo, "add", ".gitattributes")
    branches(git_repo, text(R[0], R[3]), text(R[0], R[1], R[3]), text(R[0], R[2], R[3]))
    rc, out = merge(git_repo)
    assert rc == 0, out
    assert (git_repo / SHARD).read_text() == text(*R)
    assert git(git_repo, "status", "--porcelain") == ""


def test_without_the_driver_the_same_merge_conflicts(git_repo: Path) -> None:
    # The control: two additions at one place in a sorted file are a textual conflict.
    branches(git_repo, text(R[0], R[3]), text(R[0], R[1], R[3]), text(R[0], R[2], R[3]))
    rc, _ = merge(git_repo)
    assert rc != 0


def test_delete_against_modify_is_a_conflict(git_repo: Path) -> None:
    ensure_merge_driver(git_repo, REG)
    git(git_repo, "add", ".gitattributes")
    changed = rec(P[1], R[1]["doc_id"], "changed\n")
    branches(git_repo, text(R[0], R[1]), text(R[0]), text(R[0], changed))
    rc, out = merge(git_repo)
    assert rc != 0
    line = next(ln for ln in out.splitlines() if ln.startswith("regauto:"))
    assert R[1]["doc_id"] in line and SHARD in line
    assert (git_repo / SHARD).read_text() == text(R[0])  # ours, for the conflicting record
    assert git(git_repo, "status", "--porcelain", "--", SHARD).startswith("UU")


def test_one_side_modifies_the_other_adds(git_repo: Path) -> None:
    ensure_merge_driver(git_repo, REG)
    git(git_repo, "add", ".gitattributes")
    changed = rec(P[1], R[1]["doc_id"], "new content\n")
    branches(git_repo, text(R[0], R[1], R[3]), text(R[0], changed, R[3]), text(*R[:2], R[2], R[3]))
    rc, out = merge(git_repo)
    assert rc == 0, out
    assert (git_repo / SHARD).read_text() == text(R[0], changed, R[2], R[3])


@pytest.mark.parametrize("folder", ["bin", "my venv's bin"])
def test_the_driver_runs_without_regauto_on_path(git_repo: Path, tmp_path: Path,
                                                 folder: str) -> None:
    """``regauto init`` names the interpreter that ran it, shell-quoted (git runs the driver
    through the shell); a merge by a user who has no ``regauto`` on PATH still goes through
    it."""
    python = tmp_path / folder / "python"  # an interpreter at a path that needs quoting
    this_interpreter_at(python)
    init = subprocess.run([str(python), "-m", "regauto", "init", "--hooks", "none"],
                          cwd=git_repo, capture_output=True, text=True, check=False)
    assert init.returncode == 0, init.stderr
    assert git(git_repo, "config", "merge.regauto.driver") == (
        f"{shlex.quote(str(python))} -m regauto merge-driver %O %A %B %P\n")
    git(git_repo, "add", "-A")
    branches(git_repo, text(R[0], R[3]), text(R[0], R[1], R[3]), text(R[0], R[2], R[3]))
    rc, out = merge(git_repo, without_regauto_on_path())
    assert rc == 0, out
    assert (git_repo / SHARD).read_text() == text(*R)
    assert git(git_repo, "status", "--porcelain") == ""


# -- the driver process itself ---------------------------------------------------------------


def write3(tmp_path: Path, base: str | bytes, ours: str | bytes, theirs: str | bytes) -> list[str]:
    files = {"O": base, "A": ours, "B": theirs}
    make_tree(tmp_path, files)
    return [str(tmp_path / n) for n in files]


@pytest.mark.parametrize(
    "bad",
    ['{"path": "a", "doc_id": \n', "[1, 2]\n", b"\xff\xfe not utf-8\n", "\n"],
    ids=["truncated", "not-object", "not-utf8", "blank-line"],
)
@pytest.mark.parametrize("where", [0, 1, 2])
def test_garbage_input_fails_and_leaves_ours(tmp_path: Path, bad: str | bytes, where: int) -> None:
    good = text(R[0])
    versions: list[str | bytes] = [good, text(R[0], R[1]), text(R[0], R[2])]
    versions[where] = bad
    o, a, b = write3(tmp_path, *versions)
    before = Path(a).read_bytes()
    p = run_regauto("merge-driver", o, a, b, SHARD, cwd=tmp_path)
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert SHARD in p.stderr
    assert Path(a).read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["A", "B", "O"]  # no temp left behind


def test_driver_writes_canonical_result(tmp_path: Path) -> None:
    o, a, b = write3(tmp_path, text(R[0]), text(R[0], R[2]), text(R[0], R[1]))
    p = run_regauto("merge-driver", o, a, b, SHARD, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert Path(a).read_text() == text(R[0], R[1], R[2])
    assert p.stdout == "" and p.stderr == ""


def test_driver_leaves_ours_alone_when_it_is_the_result(tmp_path: Path) -> None:
    o, a, b = write3(tmp_path, text(R[0]), text(R[0], R[1]), text(R[0]))
    ino = os.stat(a).st_ino
    assert merge_driver.run(Path(o), Path(a), Path(b), SHARD) == 0
    assert os.stat(a).st_ino == ino


# -- the merge, case by case -----------------------------------------------------------------


def m(base: list[dict[str, Any]], ours: list[dict[str, Any]], theirs: list[dict[str, Any]]):
    return merge_driver.merge(text(*base), text(*ours), text(*theirs), SHARD)


def test_same_change_on_both_sides() -> None:
    changed = rec(P[0], R[0]["doc_id"], "v2\n")
    assert m([R[0]], [changed], [changed]) == (text(changed), [])


def test_added_on_both_sides_identically() -> None:
    assert m([], [R[0], R[1]], [R[1]]) == (text(R[0], R[1]), [])


def test_deleted_on_one_side_untouched_on_the_other() -> None:
    assert m([R[0], R[1]], [R[0]], [R[0], R[1]]) == (text(R[0]), [])
    assert m([R[0], R[1]], [R[0], R[1]], [R[1]]) == (text(R[1]), [])
    assert m([R[0], R[1]], [R[0]], [R[0]]) == (text(R[0]), [])


def test_content_changed_differently_keeps_ours() -> None:
    # Neither side's blob is the merged file's: the record is stale either way, and the
    # post-merge hook / fix re-derive it from the merged file.
    ours = rec(P[0], R[0]["doc_id"], "ours\n")
    theirs = rec(P[0], R[0]["doc_id"], "theirs\n")
    assert m([R[0]], [ours], [theirs]) == (text(ours), [])


def test_move_on_one_side_and_edit_on_the_other_combine() -> None:
    moved = {**R[0], "path": P[3]}
    edited = rec(P[0], R[0]["doc_id"], "edited\n")
    merged, conflicts = m([R[0]], [moved], [edited])
    assert conflicts == []
    assert merged == text({**edited, "path": P[3]})


def test_moved_apart_is_a_conflict() -> None:
    merged, conflicts = m([R[0]], [{**R[0], "path": P[2]}], [{**R[0], "path": P[3]}])
    assert merged == text({**R[0], "path": P[2]})
    assert len(conflicts) == 1 and R[0]["doc_id"] in conflicts[0]


def test_theirs_deletes_ours_modifies_is_a_conflict_keeping_ours() -> None:
    changed = rec(P[0], R[0]["doc_id"], "v2\n")
    merged, conflicts = m([R[0], R[1]], [changed, R[1]], [R[1]])
    assert merged == text(changed, R[1])
    assert conflicts and "deleted by theirs" in conflicts[0]


def test_one_id_added_at_two_paths_keeps_both() -> None:
    twin = {**R[1], "doc_id": R[0]["doc_id"]}
    assert m([], [R[0]], [twin]) == (text(R[0], twin), [])


def test_two_ids_at_one_path_keeps_both() -> None:
    twin = {**R[0], "doc_id": R[1]["doc_id"]}
    merged, conflicts = m([], [R[0]], [twin])
    assert conflicts == [] and merged.splitlines() == sorted(
        [records.dumps(R[0]), records.dumps(twin)]
    )


def test_duplicate_ids_merge_as_lines() -> None:
    twin = {**R[1], "doc_id": R[0]["doc_id"]}
    base = [R[0], twin]
    assert m(base, [R[0], twin, R[2]], [R[0]]) == (text(R[0], R[2]), [])


def test_records_without_doc_id_are_kept_verbatim() -> None:
    odd = '{"path": "docs/odd.md", "note": "hand-written"}'
    merged, conflicts = merge_driver.merge("", odd + "\n", text(R[0]), SHARD)
    assert conflicts == []
    assert merged == text(R[0]) + odd + "\n"  # "docs/note-…" < "docs/odd.md"


def test_noncanonical_input_comes_out_canonical() -> None:
    # Keys reversed, default separators, records out of path order.
    messy = "".join(
        json.dumps({k: r[k] for k in reversed(records.FIELDS)}) + "\n" for r in reversed(R[:2])
    )
    assert m([], [], [])[0] == ""
    assert merge_driver.merge(messy, messy, messy, SHARD) == (text(R[0], R[1]), [])
