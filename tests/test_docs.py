"""Docs and code can't drift: every command has help text and appears in the README."""

from __future__ import annotations

import dataclasses
import re
import sys
import typing

import typer

from regauto import config
from regauto.cli.app import app
from tests.conftest import REPO_ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


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


# -- the configuration reference ---------------------------------------------------------------


def _code_keys() -> dict[str, object]:
    """Every configuration key the code knows, with its default (``MISSING`` for keys of
    array-of-tables entries), read from the configuration's own record types."""
    keys: dict[str, object] = {}
    hints = typing.get_type_hints(config.Config)
    for name, default in config.Config._field_defaults.items():
        if name in ("source", "never_rename"):  # where it came from; what toolchains name
            continue
        if _is_record(default):  # a [table]: its own keys
            for sub in default._fields:
                keys[f"{name}.{sub}"] = getattr(default, sub)
            continue
        keys[name] = default
        item = typing.get_args(hints[name])[0] if typing.get_args(hints[name]) else None
        if _is_record(item):  # an [[array of tables]]: its entries' keys
            for sub in item._fields:
                keys[f"{name}[].{sub}"] = dataclasses.MISSING
    return keys


def _is_record(obj: object) -> bool:
    """A configuration record (a NamedTuple class or instance), not a plain tuple."""
    return hasattr(obj, "_fields")


def _documented_keys() -> dict[str, str]:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| `")]
    return {row[0].strip("| `"): row[1].strip() for row in rows}


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def test_the_configuration_reference_lists_exactly_the_keys_of_the_code() -> None:
    code, documented = _code_keys(), _documented_keys()
    assert sorted(set(code) - set(documented)) == [], "keys missing from README Configuration"
    assert sorted(set(documented) - set(code)) == [], "README documents keys the code lacks"


def test_the_documented_defaults_are_the_code_defaults_and_parse_back() -> None:
    documented = _documented_keys()
    checked = 0
    for key, default in _code_keys().items():
        if default is dataclasses.MISSING or key == "rules":
            continue
        if isinstance(default, tuple) and default and not isinstance(default[0], str):
            continue
        assert documented[key] == f"`{_toml(default)}`", key
        # The documented value, written in a configuration, is accepted and means the default.
        table, _, leaf = key.rpartition(".")
        value = tomllib.loads(f"v = {_toml(default)}")["v"]
        parsed = config.parse({table: {leaf: value}} if table else {leaf: value}, "README")
        assert (getattr(getattr(parsed, table), leaf) if table else getattr(parsed, leaf)) == (
            default), key
        checked += 1
    assert checked >= 15
