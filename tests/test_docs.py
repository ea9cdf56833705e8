"""Docs and code can't drift: every command has help text and appears in the README."""

from __future__ import annotations

import re

import typer

from regauto.cli.app import app
from tests.conftest import REPO_ROOT


def _commands() -> dict[str, str]:
    group = typer.main.get_command(app)
    out: dict[str, str] = {}
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        out[name] = (cmd.help or "").strip()
        for sub, subcmd in getattr(cmd, "commands", {}).items():
            out[f"{name} {sub}"] = (subcmd.help or "").strip()
    return out


def test_every_command_has_help_text() -> None:
    missing = [name for name, text in _commands().items() if not text]
    assert not missing, f"commands without help text: {missing}"


def test_every_command_is_in_the_readme() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|"))
    for name in _commands():
        top = name.split()[0]
        assert re.search(rf"`regauto {re.escape(top)}\b", table), f"{name} not in README"


def test_fast_path_commands_are_documented() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    for name in ("regauto hook pre-commit", "regauto merge-driver"):
        assert name in readme
