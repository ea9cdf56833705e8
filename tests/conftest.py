"""Shared fixtures: real git repositories in temp dirs, never the developer's own machine.

Every test runs with a fixed git identity, a private HOME and no inherited ``GIT_*``
variables (a test started from inside a git hook would otherwise write to the outer repo).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        GIT_AUTHOR_NAME="Test Author",
        GIT_AUTHOR_EMAIL="author@example.invalid",
        GIT_COMMITTER_NAME="Test Committer",
        GIT_COMMITTER_EMAIL="committer@example.invalid",
        GIT_CONFIG_NOSYSTEM="1",
        NO_COLOR="1",
        COLUMNS="200",
    )
    env.pop("PRE_COMMIT", None)
    return env


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n"
        "[protocol \"file\"]\n\tallow = always\n"
    )
    for k in list(os.environ):
        if k.startswith("GIT_"):
            monkeypatch.delenv(k)
    for k, v in _clean_env(home).items():
        monkeypatch.setenv(k, v)


def git(repo: Path, *args: str, check: bool = True) -> str:
    """Run git in ``repo`` and return stdout (text)."""
    proc = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


def make_tree(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Create files under ``root`` from ``{relative path: content}``."""
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")


def initialise(root: Path) -> None:
    """Set ``root`` up for regauto as ``regauto init`` would, minus the starter config (so the
    defaults apply): an empty registry.  Without one, commands refuse (issue 13)."""
    from regauto.registry.records import META_NAME, META_TEXT

    reg = root / ".regauto" / "registry"
    reg.mkdir(parents=True, exist_ok=True)
    (reg / META_NAME).write_text(META_TEXT, encoding="utf-8")


@pytest.fixture
def git_repo(tmp_path: Path) -> Iterator[Path]:
    """An empty git repository with one initial commit, set up for regauto (an empty,
    uncommitted registry: the defaults apply)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "commit", "-q", "--allow-empty", "-m", "initial")
    initialise(repo)
    yield repo


def run_regauto(
    *args: str, cwd: Path, input: str | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real ``regauto`` CLI in a subprocess (as a user or a hook would)."""
    return subprocess.run(
        [sys.executable, "-m", "regauto", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=input,
        env={**os.environ, **(env or {})},
        check=False,
    )


def wait_for_file(path: Path, timeout: float = 20.0) -> None:
    """Wait until another process has created ``path`` (a readiness signal in real-process
    tests); fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout}s")
        time.sleep(0.01)
