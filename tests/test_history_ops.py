"""Every commit git writes stays true, whatever git operation combines the edits (SPEC §8.3).

Each test makes the branches a team makes — both sides editing one document — combines them
with one git operation under the plain git hooks, and ends as CI does: a fresh clone whose
``regauto check`` must pass at the tip, and whose committed registry describes every
committed blob.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from regauto.gitint import install, precommit_config
from tests.conftest import git, make_tree, run_regauto
from tests.hook_helpers import assert_commit_consistent
from tests.test_hooks_precommit import pre_commit_home, regauto_hook_repo  # noqa: F401

LINES = "".join(f"v{i} = {i}\n" for i in range(40))


def edit(repo: Path, old: str, new: str, path: str = "m.py") -> None:
    p = repo / path
    text = p.read_text()
    assert old in text, f"{old!r} not in {path}"
    p.write_text(text.replace(old, new, 1))


def commit_all(repo: Path, msg: str, *extra: str) -> None:
    """``git commit -a`` through the hooks; a commit the hook asks to repeat is repeated."""
    for _ in range(2):
        p = subprocess.run(["git", "commit", "-qam", msg, *extra], cwd=repo,
                           capture_output=True, text=True, check=False)
        if p.returncode == 0:
            return
        git(repo, "add", "-A")
    raise AssertionError(f"commit {msg!r} failed: {p.stdout}{p.stderr}")


def use_framework(repo: Path, src: Path, rev: str) -> None:
    """regauto's hooks through the pre-commit framework, installed from a snapshot of this
    project's sources, every hook type regauto publishes."""
    ids = "".join(f"      - id: {i}\n" for i in precommit_config.PRE_COMMIT_IDS)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {src}\n    rev: {rev}\n    hooks:\n{ids}")
    types = [a for n in install.HOOK_NAMES for a in ("--hook-type", n)]
    r = subprocess.run(["pre-commit", "install", *types], cwd=repo, capture_output=True,
                       text=True, check=False)
    assert r.returncode == 0, r.stderr


@pytest.fixture(params=["git-hooks", "framework"])
def repo(request: pytest.FixtureRequest, git_repo: Path, monkeypatch: pytest.MonkeyPatch,
         tmp_path: Path) -> Path:
    """A registered repository with ``m.py`` (40 lines) and a note, and regauto's hooks:
    the plain git hooks, or the pre-commit framework's."""
    monkeypatch.setenv("REGAUTO", f"{sys.executable} -m regauto")
    git(git_repo, "branch", "-M", "main")
    make_tree(git_repo, {"m.py": LINES, "notes/n.txt": "one\ntwo\nthree\n"})
    if request.param == "framework":
        src, rev = request.getfixturevalue("regauto_hook_repo")
        monkeypatch.setenv("PRE_COMMIT_HOME", str(request.getfixturevalue("pre_commit_home")))
        r = run_regauto("init", "--hooks", "none", cwd=git_repo)
        use_framework(git_repo, src, rev)
    else:
        r = run_regauto("init", "--hooks", "git", cwd=git_repo)
    assert r.returncode == 0, r.stderr
    git(git_repo, "add", "-A")
    commit_all(git_repo, "register")
    assert_clean_tip(git_repo)
    return git_repo


def assert_clean_tip(repo: Path, rev: str = "HEAD") -> None:
    """What CI sees: a fresh clone of ``rev`` passes ``regauto check``."""
    assert_commit_consistent(repo, rev, outputs=("INDEX.md",))
    clone = repo.parent / f"clone-{len(list(repo.parent.iterdir()))}"
    git(repo.parent, "clone", "-q", "--no-checkout", str(repo), str(clone))
    git(clone, "checkout", "-q", git(repo, "rev-parse", rev).strip())
    r = run_regauto("check", cwd=clone)
    assert r.returncode == 0, r.stdout + r.stderr


def diverge(repo: Path, topic: tuple[str, str] = ("v30 = 30", "v30 = 300"),
            main: tuple[str, str] = ("v1 = 1\n", "v1 = 100\n")) -> None:
    """``topic`` and ``main`` each change ``m.py`` (``(old, new)`` text; by default a
    different line each)."""
    git(repo, "checkout", "-qb", "topic")
    edit(repo, *topic)
    commit_all(repo, f"topic: {topic[1].strip()}")
    git(repo, "checkout", "-q", "main")
    edit(repo, *main)
    commit_all(repo, f"main: {main[1].strip()}")


def run_git(repo: Path, *args: str, env: dict[str, str] | None = None) -> None:
    p = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False,
                       env={**os.environ, **(env or {})})
    assert p.returncode == 0, f"git {' '.join(args)}: {p.stdout}{p.stderr}"


def test_merge_of_one_file_edited_on_both_sides(repo: Path) -> None:
    diverge(repo)
    run_git(repo, "merge", "--no-edit", "topic")
    assert "v1 = 100" in (repo / "m.py").read_text()
    assert "v30 = 300" in (repo / "m.py").read_text()
    assert git(repo, "status", "--porcelain") == ""
    assert_clean_tip(repo)


def test_merge_no_ff(repo: Path) -> None:
    diverge(repo)
    run_git(repo, "merge", "--no-ff", "--no-edit", "topic")
    assert_clean_tip(repo)


def test_merge_squash_then_commit(repo: Path) -> None:
    diverge(repo)
    run_git(repo, "merge", "--squash", "topic")
    commit_all(repo, "squashed topic")
    assert_clean_tip(repo)


def test_octopus_merge(repo: Path) -> None:
    make_tree(repo, {"o.py": LINES})
    git(repo, "add", "-A")
    commit_all(repo, "add o.py")
    for name, path, old in (("t1", "m.py", "v9 = 9"), ("t2", "notes/n.txt", "two")):
        git(repo, "checkout", "-qb", name, "main")
        edit(repo, old, old.upper(), path)
        commit_all(repo, name)
    git(repo, "checkout", "-q", "main")
    edit(repo, "v1 = 1\n", "v1 = 100\n", "o.py")
    commit_all(repo, "main")
    run_git(repo, "merge", "--no-edit", "t1", "t2")
    assert len(git(repo, "log", "-1", "--format=%P").split()) == 3
    assert_clean_tip(repo)


def test_octopus_of_heads_editing_one_document_commits_nothing(repo: Path) -> None:
    """git's octopus merges files with ``git merge-file`` alone (no merge drivers): where
    two heads changed one document's record it stops before any commit — never a stale one
    (RUNBOOK: merge those heads one at a time)."""
    for name, old, new in (("t1", "v10 = 10", "v10 = 1000"), ("t2", "v20 = 20", "v20 = 2000")):
        git(repo, "checkout", "-qb", name, "main")
        edit(repo, old, new)
        commit_all(repo, name)
    git(repo, "checkout", "-q", "main")
    head = git(repo, "rev-parse", "HEAD")
    p = subprocess.run(["git", "merge", "--no-edit", "t1", "t2"], cwd=repo,
                       capture_output=True, text=True, check=False)
    assert p.returncode != 0
    assert git(repo, "rev-parse", "HEAD") == head
    run_git(repo, "reset", "-q", "--merge")
    run_git(repo, "merge", "--no-edit", "t1")
    run_git(repo, "merge", "--no-edit", "t2")
    assert_clean_tip(repo)


def test_merge_with_a_conflict_resolved_by_hand(repo: Path) -> None:
    git(repo, "checkout", "-qb", "topic")
    edit(repo, "v5 = 5\n", "v5 = 'topic'\n")
    commit_all(repo, "topic")
    git(repo, "checkout", "-q", "main")
    edit(repo, "v5 = 5\n", "v5 = 'main'\n")
    commit_all(repo, "main")
    p = subprocess.run(["git", "merge", "--no-edit", "topic"], cwd=repo, capture_output=True,
                       text=True, check=False)
    assert p.returncode != 0 and "m.py" in p.stdout + p.stderr
    (repo / "m.py").write_text(LINES.replace("v5 = 5\n", "v5 = 'both'\n"))
    git(repo, "add", "m.py")
    commit_all(repo, "merge topic")
    assert_clean_tip(repo)


def test_rebase(repo: Path) -> None:
    diverge(repo)
    git(repo, "checkout", "-q", "topic")
    run_git(repo, "rebase", "main")
    assert_clean_tip(repo)


def _sequence_editor(tmp: Path, script: str) -> dict[str, str]:
    """A ``GIT_SEQUENCE_EDITOR`` that rewrites the todo list with ``script`` (Python)."""
    ed = tmp / "seq_editor.py"
    ed.write_text(f"import sys\np = sys.argv[1]\nlines = open(p).read().splitlines()\n"
                  f"{script}\nopen(p, 'w').write('\\n'.join(lines) + '\\n')\n")
    ed.chmod(ed.stat().st_mode | stat.S_IEXEC)
    return {"GIT_SEQUENCE_EDITOR": f"{sys.executable} {ed}", "GIT_EDITOR": "true"}


def test_interactive_rebase_reorder_and_squash(repo: Path, tmp_path: Path) -> None:
    git(repo, "checkout", "-qb", "topic")
    for old, new in (("v11 = 11", "v11 = 'a'"), ("v22 = 22", "v22 = 'b'"),
                     ("v33 = 33", "v33 = 'c'")):
        edit(repo, old, new)
        commit_all(repo, f"topic {new}")
    git(repo, "checkout", "-q", "main")
    edit(repo, "v1 = 1\n", "v1 = 100\n")
    commit_all(repo, "main: v1")
    git(repo, "checkout", "-q", "topic")
    # Reorder the last two picks and squash the (new) last one into the one before.
    env = _sequence_editor(tmp_path, (
        "picks = [ln for ln in lines if ln.startswith('pick ')]\n"
        "rest = [ln for ln in lines if not ln.startswith('pick ')]\n"
        "picks = [picks[0], picks[2], 'squash ' + picks[1][5:]]\n"
        "lines = picks + rest"))
    run_git(repo, "rebase", "-i", "main", env=env)
    assert len(git(repo, "log", "--oneline", "main..HEAD").splitlines()) == 2
    assert_clean_tip(repo)


def test_rebase_autosquash(repo: Path, tmp_path: Path) -> None:
    git(repo, "checkout", "-qb", "topic")
    edit(repo, "v11 = 11", "v11 = 'a'")
    commit_all(repo, "topic a")
    edit(repo, "v33 = 33", "v33 = 'c'")
    commit_all(repo, "topic c")
    edit(repo, "v12 = 12", "v12 = 'fix'")
    commit_all(repo, "fixup! topic a")
    git(repo, "checkout", "-q", "main")
    edit(repo, "v1 = 1\n", "v1 = 100\n")
    commit_all(repo, "main: v1")
    git(repo, "checkout", "-q", "topic")
    run_git(repo, "rebase", "-i", "--autosquash", "main", env=_sequence_editor(tmp_path, ""))
    assert len(git(repo, "log", "--oneline", "main..HEAD").splitlines()) == 2
    assert_clean_tip(repo)


def test_pull_rebase(repo: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(repo), str(other))
    if (repo / ".pre-commit-config.yaml").exists():  # a teammate's clone, hooks installed
        src, rev = request.getfixturevalue("regauto_hook_repo")
        use_framework(other, src, rev)
    else:
        run_regauto("init", "--hooks", "git", cwd=other)
    edit(other, "v30 = 30", "v30 = 300")
    commit_all(other, "teammate: v30")
    edit(repo, "v1 = 1\n", "v1 = 100\n")
    commit_all(repo, "main: v1")
    run_git(other, "pull", "--rebase", "-q", "origin", "main")
    assert_clean_tip(other)


@pytest.mark.parametrize("what", ["one", "range"])
def test_cherry_pick(repo: Path, what: str) -> None:
    git(repo, "checkout", "-qb", "topic")
    edit(repo, "v30 = 30", "v30 = 300")
    commit_all(repo, "topic: v30")
    edit(repo, "v35 = 35", "v35 = 350")
    commit_all(repo, "topic: v35")
    git(repo, "checkout", "-q", "main")
    edit(repo, "v1 = 1\n", "v1 = 100\n")
    commit_all(repo, "main: v1")
    run_git(repo, "cherry-pick", *(["topic~1"] if what == "one" else ["main..topic"]))
    assert_clean_tip(repo)


def test_revert(repo: Path) -> None:
    edit(repo, "v30 = 30", "v30 = 300")
    commit_all(repo, "v30")
    edit(repo, "v1 = 1\n", "v1 = 100\n")
    commit_all(repo, "v1")
    run_git(repo, "revert", "--no-edit", "HEAD~1")
    assert "v30 = 30\n" in (repo / "m.py").read_text()
    assert_clean_tip(repo)


def test_am_three_way(repo: Path, tmp_path: Path) -> None:
    diverge(repo)
    patches = tmp_path / "patches"
    git(repo, "format-patch", "-q", "-o", str(patches), "main..topic")
    run_git(repo, "am", "-3", "-q", *sorted(str(p) for p in patches.iterdir()))
    assert "v30 = 300" in (repo / "m.py").read_text()
    assert_clean_tip(repo)


def test_commit_amend(repo: Path) -> None:
    edit(repo, "v30 = 30", "v30 = 300")
    commit_all(repo, "v30")
    edit(repo, "v31 = 31", "v31 = 310")
    commit_all(repo, "v30 and v31", "--amend")
    assert_clean_tip(repo)




def _conflicting_topic(repo: Path) -> None:
    git(repo, "checkout", "-qb", "topic")
    edit(repo, "v5 = 5\n", "v5 = 'topic'\n")
    commit_all(repo, "topic")
    git(repo, "checkout", "-q", "main")
    edit(repo, "v5 = 5\n", "v5 = 'main'\n")
    commit_all(repo, "main")


@pytest.mark.parametrize("op", ["rebase", "cherry-pick"])
def test_conflict_resolved_by_hand_then_continue(repo: Path, op: str) -> None:
    _conflicting_topic(repo)
    if op == "rebase":
        git(repo, "checkout", "-q", "topic")
        args = ["rebase", "main"]
    else:
        args = ["cherry-pick", "topic"]
    p = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    assert p.returncode != 0
    (repo / "m.py").write_text((repo / "m.py").read_text().split("<<<<<<<")[0]
                               + "v5 = 'both'\n" + (repo / "m.py").read_text().split(
                                   ">>>>>>>")[1].split("\n", 1)[1])
    git(repo, "add", "m.py")
    p = subprocess.run(["git", op, "--continue"], cwd=repo, capture_output=True, text=True,
                       check=False, env={**os.environ, "GIT_EDITOR": "true"})
    assert p.returncode == 0, p.stdout + p.stderr
    if op == "rebase":
        # git writes the resolved commit with no hook: post-rewrite repairs, stages, says so.
        assert "the repair is staged: commit it" in p.stderr
        assert git(repo, "diff", "--cached", "--name-only").startswith(".regauto/registry/")
        git(repo, "commit", "-qm", "Update the registry")
    assert git(repo, "status", "--porcelain") == ""
    assert_clean_tip(repo)


def test_cherry_pick_strategy_option_is_repaired_after_the_commit(repo: Path) -> None:
    """``-X theirs`` resolves m.py as git's merge of the document would not: the driver keeps
    ours, and post-commit finds the commit stale, repairs the registry, stages it, says so."""
    _conflicting_topic(repo)
    p = subprocess.run(["git", "cherry-pick", "-X", "theirs", "topic"], cwd=repo,
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "v5 = 'topic'" in (repo / "m.py").read_text()
    assert "the repair is staged: commit it" in p.stderr
    git(repo, "commit", "-qm", "Update the registry")
    assert git(repo, "status", "--porcelain") == ""
    assert_clean_tip(repo)


def test_commit_without_the_hook_is_repaired_after(repo: Path) -> None:
    edit(repo, "v30 = 30", "v30 = 300")
    p = subprocess.run(["git", "commit", "-qam", "no hook", "--no-verify"], cwd=repo,
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0
    assert "the repair is staged: commit it" in p.stderr
    git(repo, "commit", "-qm", "Update the registry")
    assert_clean_tip(repo)


def test_an_ordinary_commit_leaves_nothing_to_verify(repo: Path) -> None:
    edit(repo, "v30 = 30", "v30 = 300")
    p = subprocess.run(["git", "commit", "-qam", "edit"], cwd=repo, capture_output=True,
                       text=True, check=False)
    assert p.returncode == 0 and "regauto:" not in p.stderr and "Failed" not in p.stderr, p.stderr
    assert not list((repo / ".git" / "regauto").glob("precommit.stamp"))
    assert git(repo, "status", "--porcelain") == ""
    assert_commit_consistent(repo)


GENERATOR = '\n[[generators]]\nname = "index"\noutput = "INDEX.md"\nbuiltin = "markdown-index"\n'


def with_index(repo: Path) -> None:
    """A generated ``INDEX.md`` (it changes whenever a document is added)."""
    with (repo / "regauto.toml").open("a") as f:
        f.write(GENERATOR)
    git(repo, "add", "-A")
    commit_all(repo, "index")
    git(repo, "add", "-A")  # .gitattributes: the output's merge driver line
    if git(repo, "status", "--porcelain"):
        commit_all(repo, "attributes")
    assert "merge: regauto" in git(repo, "check-attr", "merge", "INDEX.md")
    assert_clean_tip(repo)


def add_doc(repo: Path, path: str) -> None:
    make_tree(repo, {path: f"{path}\n"})
    git(repo, "add", "-A")
    commit_all(repo, f"add {path}")


@pytest.mark.parametrize("op", ["merge", "rebase", "cherry-pick"])
def test_generated_output_changed_on_both_sides(repo: Path, op: str) -> None:
    with_index(repo)
    git(repo, "checkout", "-qb", "topic")
    add_doc(repo, "notes/a.txt")
    git(repo, "checkout", "-q", "main")
    add_doc(repo, "notes/b.txt")
    if op == "merge":
        # git writes the merge's tree before pre-merge-commit: the re-rendered output stops
        # the merge commit once, staged, and `git commit` finishes the merge.
        p = subprocess.run(["git", "merge", "--no-edit", "topic"], cwd=repo,
                           capture_output=True, text=True, check=False)
        assert p.returncode != 0 and "finish the merge with `git commit" in p.stderr
        assert (repo / ".git" / "MERGE_HEAD").exists()
        run_git(repo, "commit", "--no-edit")
        assert len(git(repo, "log", "-1", "--format=%P").split()) == 2
    elif op == "rebase":
        git(repo, "checkout", "-q", "topic")
        p = subprocess.run(["git", "rebase", "main"], cwd=repo, capture_output=True,
                           text=True, check=False)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "re-rendered and staged: commit it" in p.stderr
        git(repo, "commit", "-qm", "Update generated outputs")
    else:
        p = subprocess.run(["git", "cherry-pick", "topic"], cwd=repo, capture_output=True,
                           text=True, check=False)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "re-rendered and staged: commit it" in p.stderr
        git(repo, "commit", "-qm", "Update generated outputs")
    index = (repo / "INDEX.md").read_text()
    assert "notes/a.txt" in index and "notes/b.txt" in index
    assert git(repo, "status", "--porcelain") == ""
    assert_clean_tip(repo)


def test_commit_of_a_hand_edited_output_is_refused(repo: Path) -> None:
    with_index(repo)
    index = repo / "INDEX.md"
    index.write_text(index.read_text() + "my note\n")
    git(repo, "add", "INDEX.md")
    p = subprocess.run(["git", "commit", "-qm", "edit the index"], cwd=repo,
                       capture_output=True, text=True, check=False)
    assert p.returncode == 1
    assert "INDEX.md is a generated output" in p.stderr
    assert index.read_text().endswith("my note\n")  # the edit is left in place
    assert "INDEX.md" in git(repo, "diff", "--cached", "--name-only")
