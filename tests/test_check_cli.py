"""``regauto check`` / ``regauto fix`` as a user and CI see them (SPEC §8.1): exit codes,
the documented JSON schema, GitHub annotations, ``--diff``, ``--dry-run``, ``-q``, and
that checking writes nothing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import git, make_tree
from pipeline_helpers import REGISTRY, commit_all, regauto, snapshot, sync
from regauto.reconcile.drift import KINDS, Drift
from regauto.reconcile.report import to_github, to_json

FILES: dict[str, str | bytes] = {
    "notes/plan.txt": "The plan.\n",
    "docs/guide.md": "# Guide\n",
    "pkg/core.py": '"""Core."""\n',
}


def registered(repo: Path) -> None:
    make_tree(repo, FILES)
    sync(repo, "--all")
    commit_all(repo)


def tree(repo: Path) -> dict[str, object]:
    return {p: v for p, v in snapshot(repo).items() if not p.startswith(".git/")}


def test_clean_is_exit_0_everywhere(git_repo: Path) -> None:
    registered(git_repo)
    for args in (("check",), ("check", "--format", "json"), ("check", "--format", "github"),
                 ("check", "--diff"), ("fix", "--dry-run"), ("fix",)):
        proc = regauto(git_repo, *args)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    assert json.loads(regauto(git_repo, "check", "--format", "json").stdout) == []
    assert regauto(git_repo, "check", "--format", "github").stdout == ""
    assert regauto(git_repo, "-q", "check").stdout == ""
    assert "clean" in regauto(git_repo, "check").stdout


def test_json_schema_and_order(git_repo: Path) -> None:
    registered(git_repo)
    make_tree(git_repo, {"b.txt": "b\n", "a.txt": "a\n"})
    (git_repo / "notes/plan.txt").write_text("changed\n")
    proc = regauto(git_repo, "check", "--format", "json")
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert all(list(d) == ["kind", "doc_id", "path", "detail"] for d in data)
    assert all(d["kind"] in KINDS and isinstance(d["path"], str) and isinstance(d["detail"], str)
               and (d["doc_id"] is None or len(d["doc_id"]) == 16) for d in data)
    assert [(d["kind"], d["path"]) for d in data] == [
        ("modified", "notes/plan.txt"), ("untracked", "a.txt"), ("untracked", "b.txt")]


def test_text_groups_by_kind_and_names_the_fix(git_repo: Path) -> None:
    registered(git_repo)
    make_tree(git_repo, {"a.txt": "a\n"})
    proc = regauto(git_repo, "check")
    assert proc.returncode == 1
    assert "untracked" in proc.stdout and "a.txt" in proc.stdout
    assert "run `regauto fix`" in proc.stdout.strip().splitlines()[-1]


def test_github_annotations_escape_their_fields() -> None:
    d = Drift("untracked", None, "dir,x/a:b.txt", "100% new\nline")
    assert to_github([d]) == (
        "::error file=dir%2Cx/a%3Ab.txt,title=regauto untracked::100%25 new%0Aline\n")
    assert json.loads(to_json([d])) == [
        {"kind": "untracked", "doc_id": None, "path": "dir,x/a:b.txt", "detail": "100% new\nline"}]


def test_diff_shows_the_registry_lines_and_check_writes_nothing(git_repo: Path) -> None:
    registered(git_repo)
    make_tree(git_repo, {"a.txt": "a\n"})
    (git_repo / "notes/plan.txt").unlink()
    before = tree(git_repo)
    proc = regauto(git_repo, "check", "--diff")
    assert proc.returncode == 1
    assert '+{"path": "a.txt", ' in proc.stdout
    assert '-{"path": "notes/plan.txt", ' in proc.stdout
    assert f"a/{REGISTRY}/" in proc.stdout or f"b/{REGISTRY}/" in proc.stdout
    as_json = regauto(git_repo, "check", "--format", "json", "--diff")
    json.loads(as_json.stdout)  # the diff went to stderr
    assert '+{"path": "a.txt", ' in as_json.stderr
    dry = regauto(git_repo, "fix", "--dry-run")
    assert dry.returncode == 1 and "a.txt" in dry.stdout
    assert tree(git_repo) == before


def test_fix_prints_one_line_per_action_and_is_idempotent(git_repo: Path) -> None:
    registered(git_repo)
    make_tree(git_repo, {"docs/new.md": "# New\n"})
    proc = regauto(git_repo, "fix")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert any(ln.startswith("registered docs/new.md as ") for ln in lines)
    assert any(ln.startswith("renamed docs/new.md -> docs/") for ln in lines)
    again = regauto(git_repo, "fix")
    assert again.returncode == 0 and again.stdout == ""
    assert "nothing to fix" in again.stderr


def test_malformed_registry_is_exit_2_naming_file_and_line(git_repo: Path) -> None:
    registered(git_repo)
    shard = sorted((git_repo / REGISTRY).glob("*.jsonl"))[0]
    shard.write_text(shard.read_text() + "{not json\n")
    n = len(shard.read_text().splitlines())
    for args in (("check",), ("check", "--format", "json")):
        proc = regauto(git_repo, *args)
        assert proc.returncode == 2, proc.stderr
        assert f"{shard.name}:{n}:" in proc.stderr
        assert "Traceback" not in proc.stderr
    dry = regauto(git_repo, "fix", "--dry-run")
    assert dry.returncode == 1 and "would restore" in dry.stdout
    assert regauto(git_repo, "fix").returncode == 0
    assert regauto(git_repo, "check").returncode == 0


def test_bad_config_is_exit_2(git_repo: Path) -> None:
    registered(git_repo)
    (git_repo / "regauto.toml").write_text("bogus = 1\n")
    proc = regauto(git_repo, "check")
    assert proc.returncode == 2 and "bogus" in proc.stderr


def test_help_texts() -> None:
    for cmd in ("check", "fix"):
        proc = regauto(Path.cwd(), cmd, "--help")
        assert proc.returncode == 0
        assert "--format" in proc.stdout if cmd == "check" else "--dry-run" in proc.stdout


def test_library_reconcile_hook(git_repo: Path) -> None:
    """The daemon's periodic hook: ``reconcile(project, apply=...)``."""
    from regauto.project import Project
    from regauto.reconcile.reconciler import reconcile

    registered(git_repo)
    make_tree(git_repo, {"a.txt": "a\n"})
    project = Project.open(git_repo)
    found = reconcile(project, apply=False)
    assert [d.kind for d in found.drifts] == ["untracked"] and not found.applied
    done = reconcile(project, apply=True)
    assert done.applied and done.actions
    assert reconcile(project, apply=False).clean


def test_fix_waits_for_a_merge_with_unresolved_paths(git_repo: Path) -> None:
    registered(git_repo)
    make_tree(git_repo, {"a.txt": "a\n"})
    head = (git_repo / ".git/HEAD").read_text()
    (git_repo / ".git/MERGE_HEAD").write_text(head)
    # a.txt unresolved: ours and theirs in the index, as git leaves a conflict.
    blob = git(git_repo, "hash-object", "-w", "a.txt").strip()
    subprocess.run(["git", "update-index", "--index-info"], cwd=git_repo, check=True,
                   input=f"100644 {blob} 2\ta.txt\n100644 {blob} 3\ta.txt\n", text=True)
    proc = regauto(git_repo, "fix")
    assert proc.returncode == 3 and "merge" in proc.stderr and "a.txt" in proc.stderr
    assert regauto(git_repo, "check").returncode == 1  # check still reads
    # Resolved (still merging, before the merge commit): fix prepares what it will record.
    git(git_repo, "add", "a.txt")
    assert (git_repo / ".git/MERGE_HEAD").exists()
    assert regauto(git_repo, "fix").returncode == 0
