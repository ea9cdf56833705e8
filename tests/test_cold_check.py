"""A check with no state dir (a fresh clone, as CI runs it) first tries to prove the
repository clean without a plan (``regauto.reconcile.cold``).  Whatever the drift, its
report must be byte for byte what the full plan reports: cold, warm (the caches the first
run left), with the proof's worker forced, and with no proof at all.

Each drift is committed, as it reaches CI: ``git status`` is clean, so the proof itself
must find it."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import git, initialise, make_tree
from pipeline_helpers import REGISTRY, commit_all, records, regauto, sync
from regauto.errors import RegistryFormatError
from regauto.project import Project
from regauto.reconcile import cold, fanout
from regauto.reconcile import report as rep
from regauto.reconcile.reconciler import Reconciler
from registry_helpers import canonical_line, shard_name

BASE: dict[str, str | bytes] = {
    "README.md": "# Project\n",
    "data/table.csv": "a,b\n1,2\n",
    "data/conf.json": '{"a": 1}\n',
    "notes/plan.md": "# Plan\n\nThe plan.\n",
    "notes/other.md": "# Other\n",
    "docs/guide.md": "# Guide\n\nHow to.\n",
    **{f"pkg/m{i}.py": f'"""Module {i}."""\n\nX = {i}\n' for i in range(6)},
}


def _lines(repo: Path, path: str) -> tuple[Path, list[str], int]:
    shard = repo / REGISTRY / shard_name(path)
    lines = shard.read_text().splitlines()
    (i,) = [n for n, ln in enumerate(lines) if json.loads(ln)["path"] == path]
    return shard, lines, i


def _edit_record(repo: Path, path: str, edit: Callable[[dict[str, Any]], str]) -> None:
    shard, lines, i = _lines(repo, path)
    lines[i] = edit(json.loads(lines[i]))
    shard.write_text("".join(ln + "\n" for ln in lines))


def _add_line(repo: Path, text: str, path: str) -> None:
    shard = repo / REGISTRY / shard_name(path)
    lines = [*shard.read_text().splitlines(), text] if shard.exists() else [text]
    lines.sort(key=lambda ln: json.loads(ln)["path"].encode())
    shard.write_text("".join(ln + "\n" for ln in lines))


def _id(repo: Path, path: str) -> str:
    return next(r["doc_id"] for r in records(repo) if r["path"] == path)


def _docs_file(repo: Path) -> str:
    return next(r["path"] for r in records(repo) if r["path"].startswith("docs/"))


def _header_of_another(repo: Path) -> None:
    text = (repo / "pkg/m1.py").read_text().splitlines()
    (repo / "pkg/m1.py").write_text("\n".join([f"# doc_id: {_id(repo, 'pkg/m2.py')}",
                                              *text[1:]]) + "\n")


def _registry_file_claims(repo: Path) -> None:
    """A registry-mode note whose record has its blob, but whose text claims an id."""
    data = f"<!-- doc_id: {_id(repo, 'pkg/m3.py')} -->\n# Plan\n".encode()
    (repo / "notes/plan.md").write_bytes(data)
    blob = git(repo, "hash-object", "notes/plan.md").strip()
    _edit_record(repo, "notes/plan.md",
                 lambda r: canonical_line({**r, "blob": blob, "size": len(data)}))


def _misfile(repo: Path, path: str, beside: str) -> None:
    """Move the record of ``path`` into the shard of ``beside``, as a bad merge might."""
    shard, lines, i = _lines(repo, path)
    line = lines.pop(i)
    if lines:
        shard.write_text("".join(ln + "\n" for ln in lines))
    else:
        shard.unlink()
    _add_line(repo, line, beside)


def _config(text: str) -> Callable[[Path], None]:
    return lambda repo: (repo / "regauto.toml").write_text(text)


DRIFTS: dict[str, Callable[[Path], None]] = {
    "clean": lambda repo: None,
    "untracked": lambda repo: make_tree(repo, {"notes/new.md": "# New\n"}),
    "missing": lambda repo: (repo / "data/table.csv").unlink(),
    "moved": lambda repo: (repo / "data/table.csv").rename(repo / "data/moved.csv"),
    "modified": lambda repo: (repo / "data/conf.json").write_text('{"a": 2}\n'),
    "executable bit": lambda repo: os.chmod(repo / "data/table.csv", 0o755),
    "misnamed": lambda repo: (repo / _docs_file(repo)).rename(repo / "docs/guide.md"),
    "header missing": lambda repo: (repo / "pkg/m0.py").write_text('"""Module 0."""\n'),
    "header of another id": _header_of_another,
    "a registry-mode file claims an id": _registry_file_claims,
    "record id edited": lambda repo: _edit_record(
        repo, "pkg/m4.py", lambda r: canonical_line({**r, "doc_id": "2020010100000001"})),
    "duplicate id": lambda repo: shutil.copy(repo / "pkg/m5.py", repo / "pkg/copy.py"),
    "record role edited": lambda repo: _edit_record(
        repo, "notes/other.md", lambda r: canonical_line({**r, "role": "test"})),
    "record id_mode edited": lambda repo: _edit_record(
        repo, "data/table.csv", lambda r: canonical_line({**r, "id_mode": "header"})),
    "one id on two records": lambda repo: _edit_record(
        repo, "data/conf.json", lambda r: canonical_line({**r, "doc_id": _id(repo, "README.md")})),
    "duplicate path": lambda repo: _add_line(repo, canonical_line(
        {**next(r for r in records(repo) if r["path"] == "pkg/m2.py"),
         "doc_id": "2020010100000002"}), "pkg/m2.py"),
    "invalid record": lambda repo: _edit_record(
        repo, "notes/other.md", lambda r: canonical_line({**r, "role": "bogus"})),
    "blob with a newline": lambda repo: _edit_record(
        repo, "notes/other.md", lambda r: canonical_line({**r, "blob": r["blob"] + "\n"})),
    "excluded": _config('exclude = ["data/**"]\n'),
    "role rule": _config('[[rules]]\nmatch = "notes/**"\nrole = "data"\n'),
    "key order": lambda repo: _edit_record(
        repo, "pkg/m3.py", lambda r: json.dumps(dict(sorted(r.items())), ensure_ascii=False)),
    "escaped text": lambda repo: _edit_record(
        repo, "README.md", lambda r: canonical_line(r).replace("README", "\\u0052EADME")),
    "a float": lambda repo: _edit_record(
        repo, "README.md", lambda r: canonical_line(
            {**r, "descriptor": {**r["descriptor"], "lines": 1.0}})),
    "two records on one line": lambda repo: _edit_record(
        repo, "pkg/m1.py", lambda r: canonical_line(r) + " " + canonical_line(r)),
    "unsorted lines": lambda repo: _add_line(repo, canonical_line(
        {**next(r for r in records(repo) if r["path"] == "README.md"),
         "path": "zz.md", "doc_id": "2020010100000003"}), "README.md"),
    "misfiled": lambda repo: _misfile(repo, "README.md", "pkg/m0.py"),
    "meta": lambda repo: (repo / REGISTRY / "meta.json").write_text(
        '{"regauto":"registry","schema":1,"shards":256}\n'),
    "uncommitted edit": lambda repo: None,  # made after the commit, below
}


# Not drift, though the proof leaves them to the plan: a float in a descriptor is valid
# and canonical; a registry-mode file's header claim is not acted on by the pipeline.
ALSO_CLEAN = {"a float", "a registry-mode file claims an id"}


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("registered")
    git(repo, "init", "-q", "-b", "main")
    make_tree(repo, BASE)
    initialise(repo)
    sync(repo, "--all")
    commit_all(repo)
    return repo


def _library(repo: Path) -> str:
    """The JSON report (or the error) of a check with no state dir, through the library."""
    project = Project.open(repo, None)
    shutil.rmtree(project.state_dir, ignore_errors=True)
    try:
        text = rep.to_json(Reconciler(project).check().drifts) + "\n"
    except RegistryFormatError as e:
        text = f"regauto: error: {e}\n"
    return _same_minute(repo, text)


def _cli(repo: Path) -> tuple[int, str]:
    """Exit code and output of ``regauto check --format json``, as CI runs it."""
    proc = regauto(repo, "check", "--format", "json")
    assert proc.returncode in (0, 1, 2), proc.stderr
    return proc.returncode, _same_minute(repo, proc.stdout if proc.returncode != 2
                                         else proc.stderr)


def _same_minute(repo: Path, text: str) -> str:
    """``text`` with the ids a fix would allocate spelled alike: they come from the
    clock's minute (SPEC §4.1), so two checks a minute apart name different ones."""
    known = {i for f in (repo / REGISTRY).glob("*") for i in re.findall(
        r"[0-9]{16}", f.read_text(errors="replace"))}
    return re.sub(r"\b[0-9]{16}\b",
                  lambda m: m.group() if m.group() in known else "<a new id>", text)


@pytest.mark.parametrize("name", list(DRIFTS))
def test_cold_warm_worker_and_full_plan_report_the_same(
        registered: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(registered, repo, symlinks=True)
    shutil.rmtree(Project.open(repo, None).state_dir, ignore_errors=True)
    DRIFTS[name](repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "--allow-empty", "-m", name)
    if name == "uncommitted edit":
        (repo / "notes/other.md").write_text("# Other, edited\n")
    assert not (Project.open(repo, None).state_dir / "reconcile").exists()

    cold_rc, cold_out = _cli(repo)  # a fresh clone: no state dir at all
    assert _cli(repo) == (cold_rc, cold_out)  # warm: what the first run left behind
    assert (cold_rc == 0) == (cold_out == "[]\n")
    if name not in ALSO_CLEAN:
        assert (cold_out == "[]\n") == (name == "clean"), cold_out

    proofs: list[bool] = []
    prove = cold.prove
    monkeypatch.setattr(cold, "prove", lambda *a: _log(proofs, prove(*a)))
    assert _library(repo) == cold_out
    if name == "clean":
        assert proofs == [True], "a clean repository was not proved clean"
    assert proofs in ([], [False]) or cold_out == "[]\n", "the proof hid drift"
    if fanout.cores() >= 2 and hasattr(os, "fork"):
        answers: list[bool] = []
        answer = fanout.Helper.answer
        monkeypatch.setattr(fanout.Helper, "answer", lambda self: _log(answers, answer(self)))
        monkeypatch.setattr(cold, "FANOUT_BYTES", 0)
        assert _library(repo) == cold_out
        if name == "clean":
            assert answers == [True], "the worker did not answer: the test proves nothing"
    monkeypatch.setattr(cold, "prove", lambda *a: None)  # the full plan alone
    assert _library(repo) == cold_out


def _log(log: list[bool], value: Any) -> Any:
    log.append(value is not None)
    return value
