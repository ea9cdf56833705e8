"""The composite action (action.yml) and the workflows: parse them, and run the action's
shell steps locally the way a runner would (``bash -e -o pipefail``), with inputs and
``github.action_path`` substituted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO_ROOT, git, make_tree, run_regauto

ACTION: dict[str, Any] = yaml.safe_load((REPO_ROOT / "action.yml").read_text())
WORKFLOWS = REPO_ROOT / ".github" / "workflows"
EXPR = re.compile(r"\$\{\{\s*([\w.-]+)\s*\}\}")


def step(name: str) -> dict[str, Any]:
    return next(s for s in ACTION["runs"]["steps"] if s.get("name") == name)


def defaults(**given: str) -> dict[str, str]:
    inputs = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
    return {**inputs, **given}


def expand(text: str, inputs: dict[str, str], github: dict[str, str] | None = None) -> str:
    def value(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr == "github.action_path":
            return str(REPO_ROOT)
        if expr.startswith("inputs."):
            return inputs[expr.removeprefix("inputs.")]
        if expr.startswith("github."):
            # The event's context: empty where the event has no such value, as on a runner.
            return (github or {}).get(expr, "")
        raise AssertionError(f"unexpected expression {expr}")

    return EXPR.sub(value, text)


def run_step(
    s: dict[str, Any], cwd: Path, inputs: dict[str, str], path: list[Path],
    github: dict[str, str] | None = None, runner_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``github``: the expressions' context (``github.repository``, …); ``runner_env``: the
    variables a runner sets for the event (``GITHUB_BASE_REF``, ``GITHUB_HEAD_REF``)."""
    assert s["shell"] == "bash"
    env = {**os.environ, **(runner_env or {})}
    env.update({k: expand(str(v), inputs, github) for k, v in s.get("env", {}).items()})
    env["PATH"] = os.pathsep.join([*map(str, path), env["PATH"]])
    workdir = cwd / expand(s.get("working-directory", "."), inputs)
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", s["run"]],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )


def stub(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return folder


def test_action_is_composite_with_documented_inputs() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert set(ACTION["inputs"]) >= {"python-version", "regauto-version", "args"}
    for spec in ACTION["inputs"].values():
        assert spec["description"] and "default" in spec
    uses = [s["uses"] for s in ACTION["runs"]["steps"] if "uses" in s]
    assert uses == ["actions/setup-python@v5"]


def test_inputs_never_reach_a_script_as_text() -> None:
    # ${{ }} inside `run:` is spliced into the script before bash sees it: shell injection.
    for s in ACTION["runs"]["steps"]:
        assert "${{" not in s.get("run", ""), s["name"]


@pytest.mark.parametrize("version, expected", [("", str(REPO_ROOT)), ("==0.1.0", "regauto==0.1.0")])
def test_install_step_installs_from_the_action_or_the_index(
    tmp_path: Path, version: str, expected: str
) -> None:
    log = tmp_path / "pip.log"
    bin_dir = stub(tmp_path / "bin", "python", f'echo "$@" > "{log}"')
    p = run_step(
        step("Install regauto"), tmp_path, defaults(**{"regauto-version": version}), [bin_dir]
    )
    assert p.returncode == 0, p.stderr
    assert log.read_text().split()[-1] == expected
    assert log.read_text().startswith("-m pip install")


@pytest.fixture
def regauto_bin(tmp_path: Path) -> Path:
    """``regauto`` on PATH, as the install step leaves it on a runner."""
    return stub(tmp_path / "bin", "regauto", f'exec "{sys.executable}" -m regauto "$@"')


def test_check_step_passes_on_a_clean_repository_and_annotates_drift(
    git_repo: Path, regauto_bin: Path
) -> None:
    if run_regauto("check", "--help", cwd=git_repo).returncode != 0:
        pytest.fail("`regauto check` does not exist yet; this test passes once it lands")
    make_tree(git_repo, {"docs/guide.md": "# Guide\n", "src/app.py": '"""App."""\n'})
    for args in (("init",), ("sync", "--all")):
        p = run_regauto(*args, cwd=git_repo)
        assert p.returncode == 0, p.stderr
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-qm", "registered")

    check = step("regauto check")
    assert "regauto check --format github" in check["run"]
    p = run_step(check, git_repo, defaults(), [regauto_bin])
    assert p.returncode == 0, p.stdout + p.stderr

    make_tree(git_repo, {"notes.txt": "new\n"})
    p = run_step(check, git_repo, defaults(), [regauto_bin])
    assert p.returncode == 1, p.stdout + p.stderr
    errors = [ln for ln in p.stdout.splitlines() if ln.startswith("::error")]
    assert any("notes.txt" in ln for ln in errors), p.stdout

    p = run_step(check, git_repo, defaults(args="--format text"), [regauto_bin])
    assert p.returncode == 1  # args reach regauto (the later --format wins)
    assert not p.stdout.startswith("::")


# -- pull requests: --base and fix: true ------------------------------------------------------


def pull_request(tmp_path: Path) -> tuple[Path, Path]:
    """A bare ``origin`` whose ``main`` is registered and clean, and a branch ``topic``
    (pushed) where two registry-mode ids were swapped by hand and a file was added without
    a record.  Returns (origin, the runner's checkout of ``topic``, shallow like
    actions/checkout's)."""
    origin, dev = tmp_path / "origin.git", tmp_path / "dev"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(dev))
    make_tree(dev, {"notes/a.txt": "alpha\n", "notes/b.txt": "beta\n"})
    assert run_regauto("init", "--hooks", "none", cwd=dev).returncode == 0
    assert run_regauto("sync", "--all", cwd=dev).returncode == 0
    git(dev, "add", "-A")
    git(dev, "commit", "-qm", "registered")
    git(dev, "push", "-q", "origin", "HEAD:refs/heads/main")
    git(dev, "checkout", "-qb", "topic")
    recs = {m.group(1): m.group(2) for shard in (dev / ".regauto/registry").glob("*.jsonl")
            for m in re.finditer(r'"path": "(notes/[ab].txt)", "doc_id": "(\d+)"',
                                 shard.read_text())}
    a, b = recs["notes/a.txt"], recs["notes/b.txt"]
    for shard in (dev / ".regauto/registry").glob("*.jsonl"):
        shard.write_text(shard.read_text().replace(a, "X").replace(b, a).replace("X", b))
    make_tree(dev, {"notes/c.txt": "gamma\n"})
    git(dev, "add", "-A")
    git(dev, "commit", "-qm", "topic: hand edits")
    git(dev, "push", "-q", "origin", "topic")
    runner = tmp_path / "runner"
    git(tmp_path, "clone", "-q", "--depth=1", "--branch", "topic", f"file://{origin}",
        str(runner))
    return origin, runner


def pr_context(runner: Path, head_repo: str) -> tuple[dict[str, str], dict[str, str]]:
    github = {"github.repository": "acme/docs",
              "github.event.pull_request.head.repo.full_name": head_repo,
              "github.event.pull_request.head.sha": git(runner, "rev-parse", "HEAD").strip()}
    return github, {"GITHUB_BASE_REF": "main", "GITHUB_HEAD_REF": "topic"}


def run_pr_steps(runner: Path, inputs: dict[str, str], head_repo: str,
                 bin_dir: Path) -> subprocess.CompletedProcess[str]:
    github, env = pr_context(runner, head_repo)
    for name in ("Fetch the base branch", "regauto fix"):
        p = run_step(step(name), runner, inputs, [bin_dir], github, env)
        assert p.returncode == 0, (name, p.stdout, p.stderr)
    return run_step(step("regauto check"), runner, inputs, [bin_dir], github, env)


def test_pull_request_checks_ids_against_its_base(tmp_path: Path, regauto_bin: Path) -> None:
    origin, runner = pull_request(tmp_path)
    p = run_pr_steps(runner, defaults(), "acme/docs", regauto_bin)  # fix: false
    assert p.returncode == 1
    titles = re.findall(r"title=regauto ([a-z_]+)::", p.stdout)
    assert sorted(titles) == ["id_changed", "id_changed", "untracked"], p.stdout
    assert git(origin, "rev-parse", "topic") == git(runner, "rev-parse", "HEAD")  # no push


def test_fix_true_pushes_the_repair_to_the_pull_request(tmp_path: Path,
                                                        regauto_bin: Path) -> None:
    origin, runner = pull_request(tmp_path)
    before = git(origin, "rev-parse", "topic").strip()
    p = run_pr_steps(runner, defaults(fix="true"), "acme/docs", regauto_bin)
    assert p.returncode == 0, p.stdout + p.stderr  # the check after the repair is clean
    assert git(origin, "rev-parse", "topic~1").strip() == before  # one commit, on top
    clone = tmp_path / "after"
    git(tmp_path, "clone", "-q", "--branch", "topic", str(origin), str(clone))
    for args in (("check",), ("check", "--base", "origin/main")):
        r = run_regauto(*args, cwd=clone)
        assert r.returncode == 0, (args, r.stdout, r.stderr)


def test_fix_true_never_pushes_to_a_fork(tmp_path: Path, regauto_bin: Path) -> None:
    origin, runner = pull_request(tmp_path)
    before = git(origin, "rev-parse", "topic")
    p = run_pr_steps(runner, defaults(fix="true"), "someone/fork", regauto_bin)
    assert p.returncode == 1  # only checked
    assert git(origin, "rev-parse", "topic") == before
    assert git(runner, "status", "--porcelain") == ""


# -- workflows ---------------------------------------------------------------------------------


def load(name: str) -> dict[Any, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def on(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))  # type: ignore[no-any-return]


def test_ci_workflow_runs_the_ci_script_on_every_python() -> None:
    wf = load("ci.yml")
    assert {"push", "pull_request"} <= set(on(wf))
    (job,) = wf["jobs"].values()
    assert job["strategy"]["matrix"]["python-version"] == ["3.10", "3.11", "3.12", "3.13"]
    assert any(s.get("run") == "bash .ci/run" for s in job["steps"])
    assert (REPO_ROOT / ".ci" / "run").is_file()
    assert wf["permissions"] == {"contents": "read"}


def test_drift_check_example() -> None:
    text = (WORKFLOWS / "drift-check.yml").read_text()
    wf = yaml.safe_load(text)
    assert {"push", "pull_request", "schedule"} <= set(on(wf))
    assert "pull_request_target" not in on(wf)
    assert "never run regauto on `pull_request_target`" in text
    check_steps = wf["jobs"]["check"]["steps"]
    assert any(s.get("uses") == "./" for s in check_steps)  # this repository's action.yml
    pr = wf["jobs"]["pull-request"]
    assert "pull_request" in pr["if"] and pr["permissions"] == {"contents": "write"}
    assert pr["steps"][0]["with"]["ref"] == "${{ github.head_ref }}"
    assert [s["with"] for s in pr["steps"] if s.get("uses") == "./"] == [{"fix": True}]
    fix = wf["jobs"]["fix"]
    assert "schedule" in fix["if"]
    assert any("regauto fix" in s.get("run", "") for s in fix["steps"])
    assert any(
        s.get("uses", "").startswith("peter-evans/create-pull-request@") for s in fix["steps"]
    )
    assert wf["permissions"] == {"contents": "read"}
