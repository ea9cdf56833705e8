"""``regauto demo``: README's first command must walk the whole flow without a surprise, and
what it shows must be what a reader can type to get the same repository."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_regauto

IDS = re.compile(r"\d{16}")


def _shown_commands(out: str) -> list[str]:
    return [line[2:] for line in out.splitlines() if line.startswith("$ ")]


def _replay(commands: list[str], where: Path, tmp_path: Path) -> list[tuple[str, int]]:
    """Type the demo's commands into a shell in ``where``, as a reader would."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "regauto"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m regauto "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
               GIT_AUTHOR_NAME="reader", GIT_AUTHOR_EMAIL="reader@example.invalid",
               GIT_COMMITTER_NAME="reader", GIT_COMMITTER_EMAIL="reader@example.invalid")
    where.mkdir()
    codes = []
    for line in commands:
        p = subprocess.run(["sh", "-c", line], cwd=where, env=env, capture_output=True,
                           text=True, check=False)
        codes.append((line, p.returncode))
    return codes


def _tree(root: Path) -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True,
                         check=True).stdout
    # Shards are named by id, so which ones exist differs between runs; the documents do not.
    return sorted(IDS.sub("<id>", line) for line in out.splitlines()
                  if not line.startswith(".regauto/registry/"))


def test_demo_in_a_folder_keeps_it_and_its_commands_replay(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    r = run_regauto("demo", str(target), cwd=tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "unexpected results" not in out
    assert f"demo finished: the repository is kept in {target}" in out
    assert "removed" not in out.split("demo finished", 1)[1]
    assert 'Next, a real repository: README.md, section "Using it in a repository".' in out
    # The steps a newcomer is shown, each with its real effect in the repository.
    assert "renamed docs/decisions/0001-design-notes.md -> docs/decisions/" in out
    assert "rewrote the reference README.md:5: docs/decisions/0001-design-notes.md -> " in out
    assert "added header doc_id:" in out
    assert "regauto check: clean" in out
    assert "repaired 3 drift(s)" in out
    assert "rewrote the reference README.md:6: docs/decisions/0002-release-plan.md -> " in out
    assert any(p.name.endswith("_0002-release-plan.md")
               for p in (target / "docs/decisions").iterdir())
    assert (target / ".regauto" / "registry" / "meta.json").is_file()
    # How files were made and broken is shown too, as commands that can be typed.
    commands = _shown_commands(out)
    assert (r"printf '# Release plan\n\n## Dates\n' > docs/decisions/0002-release-plan.md"
            in commands)
    assert "rm docs/decisions/*_0001-design-notes.md" in commands
    # A reader typing exactly those lines gets the same repository (ids aside), and the
    # same two expected failures: the commit the hook stops once, and check finding drift.
    replay = _replay(commands, tmp_path / "replay", tmp_path)
    failed = [(line, rc) for line, rc in replay if rc != 0]
    assert failed == [("git commit -q -m 'Add release plan'", 1), ("regauto check", 1)], failed
    assert _tree(tmp_path / "replay") == _tree(target)
    assert run_regauto("check", cwd=tmp_path / "replay").returncode == 0


def test_demo_without_a_folder_says_it_removed_the_repository(tmp_path: Path) -> None:
    r = run_regauto("demo", cwd=tmp_path, env={"TMPDIR": str(tmp_path)})
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "the repository is kept" not in out and "the repository is in" not in out
    assert "demo finished: the throwaway repository was removed" in out
    assert "README.md, section \"Using it in a repository\"" in out
    assert not list(tmp_path.glob("regauto-demo-*"))


def test_demo_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    r = run_regauto("demo", str(tmp_path / "taken"), cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "not empty" in r.stderr
