"""The path guard (issue 10): nothing is read or written through a symlink, the registry is
only ever regular files in real folders of the repository, and odd names and contents stay
in registry mode instead of becoming a drift no ``fix`` repairs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from regauto.registry.records import shard_of
from tests.conftest import git, make_tree, run_regauto
from tests.pipeline_helpers import REGISTRY, by_path

needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt",
                                    reason="needs POSIX symlinks")
OUTSIDE_APP = "def important_outside():\n    return 42\n"


def _init(repo: Path, hooks: str = "none") -> None:
    r = run_regauto("init", "--hooks", hooks, cwd=repo)
    assert r.returncode == 0, r.stderr


def _patch(repo: Path, changes: dict[str, object]) -> None:
    base = run_regauto("hash", cwd=repo).stdout.strip()
    patch = {"base_hash": base, "source": "t", "reason": "t", "changes": changes}
    r = run_regauto("patch", "-", cwd=repo, input=json.dumps(patch))
    assert r.returncode == 0, r.stderr


def _one_error_line(r: subprocess.CompletedProcess[str], name: str) -> None:
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and name in r.stderr, r.stderr


@pytest.fixture
def vendored(git_repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    """``src_vendor -> <outside>`` in an initialised repository, and a record claiming the
    outside file in header mode (as a hostile patch or an old registry would have it)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "app.py").write_text(OUTSIDE_APP)
    _init(git_repo)
    (git_repo / "src_vendor").symlink_to(outside)
    rec = {"path": "src_vendor/app.py", "doc_id": "2026010100000001", "id_mode": "header",
           "kind": "python", "tags": ["python", "text"], "role": "source",
           "blob": "0" * 40, "size": 1, "descriptor": {}}
    _patch(git_repo, {"2026010100000001": rec})
    return git_repo, outside


@needs_symlinks
def test_fix_never_writes_or_records_through_a_symlinked_folder(
        vendored: tuple[Path, Path]) -> None:
    repo, outside = vendored
    diff = run_regauto("check", "--diff", cwd=repo)
    assert diff.returncode == 1, diff.stderr
    assert "important_outside" not in diff.stdout + diff.stderr  # no outside content in CI logs
    r = run_regauto("fix", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert (outside / "app.py").read_text() == OUTSIDE_APP
    recs = by_path(repo)
    assert "src_vendor/app.py" not in recs
    assert recs["src_vendor"]["kind"] == "symlink"  # recorded as git records it
    assert run_regauto("check", cwd=repo).returncode == 0


@needs_symlinks
def test_sync_of_a_path_below_a_symlinked_folder_reads_nothing(
        vendored: tuple[Path, Path]) -> None:
    repo, outside = vendored
    r = run_regauto("sync", "src_vendor/app.py", "src_vendor", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert (outside / "app.py").read_text() == OUTSIDE_APP
    recs = by_path(repo)
    assert "src_vendor/app.py" not in recs and recs["src_vendor"]["kind"] == "symlink"
    assert json.dumps(recs).count("important_outside") == 0


@needs_symlinks
def test_symlinked_shard_is_refused_and_its_target_never_committed(
        git_repo: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"api_key": "SECRET-hunter2"}\n')
    _init(git_repo, hooks="git")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "init", "--no-verify")
    shard = git_repo / REGISTRY / "ab.jsonl"
    shard.symlink_to(secret)
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "symlinked shard", "--no-verify")
    (git_repo / "victim.txt").write_text("v\n")
    git(git_repo, "add", "victim.txt")
    commit = git(git_repo, "commit", "-q", "-m", "victim", check=False)
    assert "victim" not in git(git_repo, "log", "-1", "--format=%s"), commit
    assert "SECRET" not in git(git_repo, "grep", "-I", "SECRET", "HEAD", check=False)
    _one_error_line(run_regauto("check", cwd=git_repo), "ab.jsonl")
    assert secret.read_text() == '{"api_key": "SECRET-hunter2"}\n'


@needs_symlinks
def test_commit_hook_says_the_staged_shard_is_a_symlink(git_repo: Path, tmp_path: Path) -> None:
    """A shard committed as a symlink (``--no-verify``) is refused by the next commit with
    one line saying what it is — not "malformed JSON" about its target's path — and the
    refusal changes nothing."""
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"api_key": "SECRET-hunter2"}\n')
    _init(git_repo, hooks="git")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "init", "--no-verify")
    (git_repo / REGISTRY / "ab.jsonl").symlink_to(secret)
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "symlinked shard", "--no-verify")
    victim = "data/leak382.txt"  # recorded in ab.jsonl: the hook reads the staged link
    assert shard_of(victim) == "ab.jsonl"
    make_tree(git_repo, {victim: "v\n"})
    git(git_repo, "add", victim)
    before = (git(git_repo, "ls-files", "-s"), git(git_repo, "status", "--porcelain"))
    r = run_regauto("hook", "pre-commit", cwd=git_repo)
    _one_error_line(r, f"{REGISTRY}/ab.jsonl (staged) is a symbolic link (mode 120000")
    assert "malformed" not in r.stderr, r.stderr
    assert (git(git_repo, "ls-files", "-s"), git(git_repo, "status", "--porcelain")) == before
    p = subprocess.run(["git", "commit", "-q", "-m", "victim"], cwd=git_repo,
                       capture_output=True, text=True, check=False)
    assert p.returncode != 0 and "symbolic link" in p.stderr, p.stderr


@needs_symlinks
def test_symlinked_registry_folder_is_never_written(git_repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _init(git_repo)
    reg = git_repo / REGISTRY
    for f in reg.iterdir():
        f.unlink()
    reg.rmdir()
    reg.symlink_to(elsewhere)
    (git_repo / "a.txt").write_text("a\n")
    _one_error_line(run_regauto("sync", "a.txt", cwd=git_repo), REGISTRY)
    assert list(elsewhere.iterdir()) == []


def test_shard_that_is_a_folder_exits_2_naming_it(git_repo: Path) -> None:
    _init(git_repo)
    (git_repo / "a.txt").write_text("a\n")
    assert run_regauto("sync", "a.txt", cwd=git_repo).returncode == 0
    (git_repo / REGISTRY / "ab.jsonl").mkdir()
    for cmd in ("check", "fix"):
        _one_error_line(run_regauto(cmd, cwd=git_repo), "ab.jsonl")


def test_registry_path_that_is_a_file_exits_2_naming_it(git_repo: Path) -> None:
    _init(git_repo)
    reg = git_repo / REGISTRY
    for f in reg.iterdir():
        f.unlink()
    reg.rmdir()
    reg.write_text("not a folder\n")
    (git_repo / "a.txt").write_text("a\n")
    for args in (("check",), ("sync", "a.txt")):
        _one_error_line(run_regauto(*args, cwd=git_repo), REGISTRY)
    assert reg.read_text() == "not a folder\n"


def test_name_too_long_for_a_prefix_stays_in_registry_mode(git_repo: Path) -> None:
    _init(git_repo)  # the starter config gives docs/**/*.md prefix mode
    name = "a" * 240 + ".md"
    (git_repo / "docs").mkdir()
    (git_repo / "docs" / name).write_text("# long\n")
    r = run_regauto("sync", "--all", cwd=git_repo)
    assert r.returncode == 0, r.stderr
    assert (git_repo / "docs" / name).exists()  # not renamed
    assert by_path(git_repo)[f"docs/{name}"]["id_mode"] == "registry"
    check = run_regauto("check", cwd=git_repo)
    assert check.returncode == 0, check.stdout + check.stderr


def test_binary_file_named_py_gets_no_header(git_repo: Path) -> None:
    _init(git_repo)  # the starter config gives **/*.py header mode
    data = b"x = 1\n\0\0\0\x01binary payload\n"
    (git_repo / "blob.py").write_bytes(data)
    r = run_regauto("sync", "--all", cwd=git_repo)
    assert r.returncode == 0, r.stderr
    assert (git_repo / "blob.py").read_bytes() == data
    assert by_path(git_repo)["blob.py"]["id_mode"] == "registry"
    check = run_regauto("check", cwd=git_repo)
    assert check.returncode == 0, check.stdout + check.stderr


def test_root_of_the_file_system_or_home_is_not_a_repository(tmp_path: Path) -> None:
    existed = os.path.lexists("/.regauto")
    _one_error_line(run_regauto("--root", "/", "check", cwd=tmp_path), "/")
    assert os.path.lexists("/.regauto") == existed
    home = Path(os.environ["HOME"])
    _one_error_line(run_regauto("--root", str(home), "check", cwd=tmp_path), str(home))
    assert not (home / ".regauto").exists()


@needs_symlinks
def test_generator_output_below_a_symlinked_folder_is_refused(
        git_repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _init(git_repo)
    (git_repo / "out").symlink_to(elsewhere)
    with open(git_repo / "regauto.toml", "a") as f:
        f.write('\n[[generators]]\nname = "index"\noutput = "out/INDEX.md"\n'
                'builtin = "markdown-index"\n')
    r = run_regauto("fix", cwd=git_repo)
    assert r.returncode == 2 and "out" in r.stderr, r.stderr
    assert list(elsewhere.iterdir()) == []


@needs_symlinks
def test_symlinked_state_folder_outside_git_is_never_written(tmp_path: Path) -> None:
    folder, elsewhere = tmp_path / "plain", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (folder / "regauto.toml").write_text('registry = "reg"\n')
    (folder / "a.txt").write_text("a\n")
    (folder / ".regauto").symlink_to(elsewhere)  # where the state lives outside git
    _one_error_line(run_regauto("sync", "a.txt", cwd=folder), ".regauto")
    assert list(elsewhere.iterdir()) == []
