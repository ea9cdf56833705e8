"""The registry commands through the real CLI (``python -m regauto``): ``hash``, ``patch``,
``show``, ``ls``, ``stats``, the exit codes of SPEC §8.1 and the bad input of §11."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import run_regauto
from regauto.durable import FAULT_ENV
from registry_helpers import (
    EMPTY_HASH,
    canonical_line,
    doc_id,
    manifest_hash,
    record,
    shard_name,
    snapshot,
    write_shards,
)


def _reg(repo: Path) -> Path:
    return repo / ".regauto" / "registry"


def _patch(base: str, **body: Any) -> str:
    return json.dumps({"base_hash": base, "source": "test", "reason": "test", **body})


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("regauto: error: ")
    return lines[0]


@pytest.fixture
def repo(git_repo: Path) -> Path:
    """A repository whose registry holds records 0..9 (written directly, canonical)."""
    write_shards(_reg(git_repo), [record(i) for i in range(10)])
    return git_repo


@pytest.fixture(scope="module")
def shared_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One repository for the many patches that must change nothing (saves a setup each)."""
    root = tmp_path_factory.mktemp("shared")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=str(root), GIT_CONFIG_NOSYSTEM="1")
    subprocess.run(["git", "init", "-q", str(root / "repo")], env=env, check=True)
    write_shards(_reg(root / "repo"), [record(i) for i in range(10)])
    (root / "repo" / ".git" / "regauto" / "backups").mkdir(parents=True)
    return root / "repo"


def _hash(repo: Path) -> str:
    proc = run_regauto("hash", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout.strip()


# -- hash ----------------------------------------------------------------------------------

def test_hash_of_a_missing_registry(git_repo: Path) -> None:
    # Configured (a regauto.toml) but no registry yet: the empty hash, and nothing created.
    shutil.rmtree(_reg(git_repo))
    (git_repo / "regauto.toml").write_text("")
    proc = run_regauto("hash", cwd=git_repo)
    assert proc.returncode == 0
    assert proc.stdout == EMPTY_HASH + "\n"
    assert not _reg(git_repo).exists()


def test_hash_is_the_manifest_hash(repo: Path) -> None:
    h = _hash(repo)
    assert h == manifest_hash(_reg(repo))
    assert h != EMPTY_HASH
    # The same answer from a subdirectory, and with --root from elsewhere.
    sub = repo / "sub"
    sub.mkdir()
    assert _hash(sub) == h
    proc = run_regauto("--root", str(repo), "hash", cwd=repo.parent)
    assert proc.stdout.strip() == h


def test_hash_outside_git_uses_the_folder(tmp_path: Path) -> None:
    (tmp_path / "regauto.toml").write_text("")
    proc = run_regauto("hash", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == EMPTY_HASH


# -- patch ---------------------------------------------------------------------------------

def test_patch_applies_and_prints_the_new_hash(repo: Path) -> None:
    base = _hash(repo)
    proc = run_regauto("patch", "-", cwd=repo, input=_patch(
        base, changes={doc_id(1): {"role": "doc"}, doc_id(2): None,
                       doc_id(50): record(50, "docs/new.md")}))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == _hash(repo) == manifest_hash(_reg(repo)) != base
    assert "3 record(s) changed" in proc.stderr
    shown = run_regauto("show", doc_id(1), "--format", "json", cwd=repo)
    assert json.loads(shown.stdout)["role"] == "doc"
    by_path = run_regauto("show", "docs/new.md", "--format", "json", cwd=repo)
    assert json.loads(by_path.stdout)["doc_id"] == doc_id(50)
    gone = run_regauto("show", doc_id(2), cwd=repo)
    assert gone.returncode == 2
    _one_error_line(gone.stderr)


def test_patch_from_a_file_and_operations(repo: Path, tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_text(_patch(_hash(repo), operations=[
        {"op": "test", "path": f"/documents/{doc_id(3)}/role", "value": "source"},
        {"op": "replace", "path": f"/documents/{doc_id(3)}/role", "value": "test"},
    ]))
    proc = run_regauto("patch", str(f), cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == manifest_hash(_reg(repo))


def test_noop_patch_keeps_hash(repo: Path) -> None:
    base = _hash(repo)
    before = snapshot(_reg(repo))
    proc = run_regauto("patch", "-", cwd=repo,
                       input=_patch(base, changes={doc_id(4): {"size": 104}}))
    assert proc.returncode == 0
    assert proc.stdout.strip() == base
    assert "no change" in proc.stderr
    assert snapshot(_reg(repo)) == before


def test_stale_base_hash_exits_3(repo: Path) -> None:
    stale = _hash(repo)
    run_regauto("patch", "-", cwd=repo, input=_patch(stale, changes={doc_id(1): {"size": 1}}))
    before = snapshot(_reg(repo))
    proc = run_regauto("patch", "-", cwd=repo,
                       input=_patch(stale, changes={doc_id(2): {"size": 2}}))
    assert proc.returncode == 3
    assert "registry changed" in _one_error_line(proc.stderr)
    assert proc.stdout == ""
    assert snapshot(_reg(repo)) == before
    stats = run_regauto("stats", "--format", "json", cwd=repo)
    data = json.loads(stats.stdout)
    assert data["writer"]["conflicts"] == 1
    assert data["registry"]["hash"] == manifest_hash(_reg(repo))


_BASE = "@BASE@"  # replaced by the current hash in the test

BAD_PATCHES: dict[str, str] = {
    "malformed_json": '{"base_hash": ',
    "empty_input": "",
    "not_an_object": "[]",
    "missing_base_hash": json.dumps({"source": "t", "reason": "t", "changes": {}}),
    "missing_reason": json.dumps({"base_hash": _BASE, "source": "t", "changes": {}}),
    "bad_base_hash": _patch("sha1:abc", changes={}),
    "both_modes": _patch(_BASE, changes={}, operations=[]),
    "neither_mode": _patch(_BASE),
    "unknown_field": _patch(_BASE, changes={}, extra=1),
    "changes_not_object": _patch(_BASE, changes=[1]),
    "change_not_object": _patch(_BASE, changes={doc_id(1): 5}),
    "bad_id": _patch(_BASE, changes={"12345": record(1, doc_id="12345")}),
    "bad_id_date": _patch(_BASE, changes={"2026023012000001": record(
        1, doc_id="2026023012000001")}),
    "missing_fields": _patch(_BASE, changes={doc_id(77): {"path": "a.py"}}),
    "bad_field_value": _patch(_BASE, changes={doc_id(1): {"role": "king"}}),
    "duplicate_path_existing": _patch(_BASE, changes={doc_id(77): record(77, record(1)["path"])}),
    "duplicate_path_within": _patch(_BASE, changes={doc_id(77): record(77, "same.py"),
                                                    doc_id(78): record(78, "same.py")}),
    "duplicate_ids": (
        '{"base_hash": "@BASE@", "source": "t", "reason": "t", "changes": {'
        f'"{doc_id(77)}": {json.dumps(record(77, "a.py"))}, '
        f'"{doc_id(77)}": {json.dumps(record(77, "b.py"))}}}}}'
    ),
    "dotdot": _patch(_BASE, changes={doc_id(77): record(77, "../escape.py")}),
    "dotdot_inside": _patch(_BASE, changes={doc_id(77): record(77, "src/../../escape.py")}),
    "absolute": _patch(_BASE, changes={doc_id(77): record(77, "/etc/passwd")}),
    "dot_git": _patch(_BASE, changes={doc_id(77): record(77, ".git/hooks/post-merge")}),
    "dot_git_move": _patch(_BASE, changes={doc_id(1): {"path": ".git/config"}}),
    "nan": _patch(_BASE, changes={doc_id(1): {"descriptor": {"x": 1}}}).replace(
        '"x": 1', '"x": NaN'),
    "deep_nesting": _patch(_BASE, changes={}).replace('"changes": {}',
                                                      '"changes": ' + "[" * 100000),
    "deep_descriptor": _patch(_BASE, changes={doc_id(1): {"descriptor": {"d": 0}}}).replace(
        '"d": 0', '"d": ' + '{"a": ' * 600 + "0" + "}" * 600),
    "bad_operation": _patch(_BASE, operations=[{"op": "explode", "path": "/documents"}]),
    "failing_test_op": _patch(_BASE, operations=[
        {"op": "remove", "path": f"/documents/{doc_id(1)}"},
        {"op": "test", "path": f"/documents/{doc_id(2)}/size", "value": 0}]),
    "operation_outside_documents": _patch(_BASE, operations=[
        {"op": "add", "path": "/elsewhere", "value": 1}]),
}


@pytest.mark.parametrize("name", sorted(BAD_PATCHES))
def test_bad_patch_exits_2_with_one_line_and_changes_nothing(shared_repo: Path, name: str) -> None:
    repo = shared_repo
    base = manifest_hash(_reg(repo))
    before = snapshot(_reg(repo))
    state_before = sorted(p.name for p in (repo / ".git" / "regauto" / "backups").iterdir())
    proc = run_regauto("patch", "-", cwd=repo, input=BAD_PATCHES[name].replace(_BASE, base))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    _one_error_line(proc.stderr)
    assert proc.stdout == ""
    assert snapshot(_reg(repo)) == before
    assert sorted(p.name for p in (repo / ".git" / "regauto" / "backups").iterdir()) == (
        state_before
    )


def test_patch_file_errors(repo: Path, tmp_path: Path) -> None:
    before = snapshot(_reg(repo))
    missing = run_regauto("patch", str(tmp_path / "nope.json"), cwd=repo)
    assert missing.returncode == 2
    assert "nope.json" in _one_error_line(missing.stderr)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b'{"base_hash": "\xff\xfe"}')
    proc = run_regauto("patch", str(binary), cwd=repo)
    assert proc.returncode == 2
    assert "bin.json" in _one_error_line(proc.stderr)
    assert snapshot(_reg(repo)) == before


def test_non_utf8_stdin_exits_2(repo: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "regauto", "patch", "-"], cwd=repo,
                          input=b'{"base_hash": "\xff"}', capture_output=True, check=False)
    assert proc.returncode == 2, proc.stderr
    _one_error_line(proc.stderr.decode())


def test_malformed_json_error_names_the_position(repo: Path) -> None:
    proc = run_regauto("patch", "-", cwd=repo, input='{\n  "base_hash": x\n}')
    assert "<stdin>:2:" in _one_error_line(proc.stderr)


# -- ls / show on a broken registry --------------------------------------------------------

def test_ls_names_the_malformed_shard_line(repo: Path) -> None:
    shard = _reg(repo) / shard_name(record(3)["path"])
    shard.write_text(shard.read_text() + '{"path": "broken\n')
    lines = shard.read_text().count("\n")
    proc = run_regauto("ls", cwd=repo)
    assert proc.returncode == 2
    assert f"{shard.name}:{lines}:" in _one_error_line(proc.stderr)
    # The writer refuses too, and writes nothing.
    before = snapshot(_reg(repo))
    proc = run_regauto("patch", "-", cwd=repo, input=_patch(
        manifest_hash(_reg(repo)), changes={doc_id(3): {"size": 1}}))
    assert proc.returncode == 2
    assert f"{shard.name}:{lines}" in _one_error_line(proc.stderr)
    assert snapshot(_reg(repo)) == before


def test_ls_lists_records(repo: Path) -> None:
    proc = run_regauto("ls", "--format", "json", cwd=repo)
    assert proc.returncode == 0
    recs = json.loads(proc.stdout)
    assert sorted(r["doc_id"] for r in recs) == sorted(doc_id(i) for i in range(10))
    text = run_regauto("ls", cwd=repo)
    assert "10 document(s)" in text.stdout and doc_id(0) in text.stdout
    assert canonical_line(record(0)) in (_reg(repo) / shard_name(record(0)["path"])).read_text()


# -- the error boundary ----------------------------------------------------------------------

def test_disk_full_exits_4_with_crash_log_and_changes_nothing(repo: Path) -> None:
    """A real ENOSPC (injected under the writer's file steps) is an unexpected failure:
    exit 4, one line naming the error and the crash log, the traceback in the log; the
    write never committed, so the registry is as it was."""
    base = _hash(repo)
    before = snapshot(_reg(repo))
    proc = run_regauto("patch", "-", cwd=repo, env={FAULT_ENV: "fsync:0:ENOSPC"},
                       input=_patch(base, changes={doc_id(1): {"size": 9}}))
    assert proc.returncode == 4
    line = _one_error_line(proc.stderr)
    assert "internal error" in line and "No space left on device" in line
    log = repo / ".git" / "regauto" / "log" / "crash.log"
    assert str(log) in line
    text = log.read_text()
    assert "Traceback" in text and "OSError" in text
    assert snapshot(_reg(repo)) == before
    assert _hash(repo) == base


@pytest.mark.parametrize("next_command", [("hash",), ("check",), ("ls",)])
def test_io_error_after_the_commit_point_is_rolled_forward_by_the_next_command(
    repo: Path, next_command: tuple[str, ...]
) -> None:
    """EIO on the second shard rename: the journal was in place, so the write stands;
    ``patch`` exits 4 with one line, and whatever command runs next finishes it."""
    changes = {doc_id(i): {"size": 9} for i in (1, 2, 3)}
    proc = run_regauto("patch", "-", cwd=repo, env={FAULT_ENV: "replace:2"},
                       input=_patch(_hash(repo), changes=changes))
    assert proc.returncode == 4
    assert "Input/output error" in _one_error_line(proc.stderr)
    assert list((repo / ".git" / "regauto").glob("journal*")), "committed, not finished"
    expected = repo.parent / "expected"
    write_shards(expected, [{**record(i), **changes.get(doc_id(i), {})} for i in range(10)])
    done = run_regauto(*next_command, cwd=repo)
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
    assert manifest_hash(_reg(repo)) == manifest_hash(expected)
    assert not [p for p in _reg(repo).iterdir() if ".regauto-tmp" in p.name]
    assert not list((repo / ".git" / "regauto").glob("journal*"))
    assert _hash(repo) == manifest_hash(expected)


def test_usage_error_exits_2(repo: Path) -> None:
    proc = run_regauto("patch", cwd=repo)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    proc = run_regauto("frobnicate", cwd=repo)
    assert proc.returncode == 2
