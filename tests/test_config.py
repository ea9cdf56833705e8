"""Configuration (SPEC §5): defaults without a file; unknown keys and bad values are errors
that name the file and the key (exit 2 through the CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_regauto
from regauto import config
from regauto.errors import ConfigError
from registry_helpers import EMPTY_HASH, manifest_hash, record, write_shards


def test_defaults_without_a_file(tmp_path: Path) -> None:
    cfg = config.load(tmp_path)
    assert cfg == config.Config()
    assert cfg.source == "defaults"
    assert cfg.registry == ".regauto/registry"
    assert cfg.auto_stage == "managed"
    assert cfg.rule_for("pkg/mod.py").id_mode == "header"
    assert cfg.rule_for("docs/guide/intro.md").id_mode == "prefix"
    assert cfg.rule_for("data/table.csv").id_mode is None  # falls back to registry
    assert cfg.watch.min_age_ms == 500 and cfg.queue.max_attempts == 3
    assert not cfg.is_included(".git/config")
    assert not cfg.is_included(".regauto/registry/00.jsonl")
    assert cfg.is_included("src/a.py")


def test_pyproject_without_section_means_defaults(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert config.load(tmp_path) == config.Config()


def test_full_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "regauto.toml").write_text(
        'registry = "meta/registry/"\n'
        'include = ["src/**", "docs/**"]\n'
        'exclude = ["build/**"]\n'
        'auto_stage = "none"\n'
        "lock_timeout_s = 5\n"
        "[[rules]]\n"
        'match = "docs/**/*.md"\n'
        'id_mode = "prefix"\n'
        'role = "doc"\n'
        "[[rules]]\n"
        'match = "scripts/*"\n'
        "rename = false\n"
        "[[generators]]\n"
        'name = "index"\n'
        'output = "docs/INDEX.md"\n'
        'builtin = "markdown-index"\n'
        "[watch]\n"
        "min_age_ms = 250\n"
        "mutate = true\n"
        "[queue]\n"
        "lease_s = 1.5\n"
    )
    cfg = config.load(tmp_path)
    assert cfg.source == "regauto.toml"
    assert cfg.registry == "meta/registry"
    assert cfg.include == ("src/**", "docs/**") and cfg.exclude == ("build/**",)
    assert cfg.auto_stage == "none" and cfg.lock_timeout_s == 5.0
    assert cfg.rule_for("docs/a/b.md").role == "doc"
    assert cfg.rule_for("scripts/run").rename is False
    assert cfg.generators[0].output == "docs/INDEX.md"
    assert not cfg.is_included("docs/INDEX.md")
    assert not cfg.is_included("build/x.py")
    assert cfg.watch.min_age_ms == 250 and cfg.watch.mutate is True
    assert cfg.queue.lease_s == 1.5


def test_regauto_toml_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / "regauto.toml").write_text('auto_stage = "all"\n')
    (tmp_path / "pyproject.toml").write_text('[tool.regauto]\nauto_stage = "none"\n')
    assert config.load(tmp_path).auto_stage == "all"


BAD: list[tuple[str, str]] = [
    ('colour = "blue"\n', "colour"),
    ('registry = 3\n', "registry"),
    ('registry = "../outside"\n', "registry"),
    ('registry = "/abs/registry"\n', "registry"),
    ('registry = ".git/registry"\n', "registry"),
    ('include = "src/**"\n', "include"),
    ('include = ["ok", 3]\n', "include"),
    ('auto_stage = "sometimes"\n', "auto_stage"),
    ("backups = 0\n", "backups"),
    ("backups = true\n", "backups"),
    ("lock_timeout_s = -1\n", "lock_timeout_s"),
    ('lock_timeout_s = "soon"\n', "lock_timeout_s"),
    ("max_file_bytes = 1.5\n", "max_file_bytes"),
    ('[[rules]]\nid_mode = "prefix"\n', "rules[0].match"),
    ('[[rules]]\nmatch = "*"\nid_mode = "suffix"\n', "rules[0].id_mode"),
    ('[[rules]]\nmatch = "*"\nrole = "boss"\n', "rules[0].role"),
    ('[[rules]]\nmatch = "*"\nrename = "no"\n', "rules[0].rename"),
    ('[[rules]]\nmatch = "*"\nflavour = 1\n', "rules[0].flavour"),
    ('rules = [1]\n', "rules[0]"),
    ('[[generators]]\nname = "i"\noutput = "x.md"\n', "generators[0]"),
    ('[[generators]]\nname = "i"\noutput = "x.md"\nbuiltin = "nope"\n', "generators[0].builtin"),
    ('[[generators]]\nname = "i"\noutput = "../x.md"\nbuiltin = "json-index"\n',
     "generators[0].output"),
    ('[[generators]]\nname = "i"\noutput = "x.md"\npython = "nocolon"\n',
     "generators[0].python"),
    ('[[generators]]\nname = "i"\noutput = "a"\nbuiltin = "json-index"\n'
     '[[generators]]\nname = "i"\noutput = "b"\nbuiltin = "json-index"\n', "generators"),
    ("[watch]\nmin_age_ms = -5\n", "watch.min_age_ms"),
    ('[watch]\nmin_age_ms = "fast"\n', "watch.min_age_ms"),
    ("[watch]\nmin_age_ms = 1.5\n", "watch.min_age_ms"),
    ("[watch]\nturbo = true\n", "watch.turbo"),
    ('[watch]\nmutate = "yes"\n', "watch.mutate"),
    ("[queue]\nmax_attempts = true\n", "queue.max_attempts"),
    ("[queue]\nretries = 3\n", "queue.retries"),
    ("watch = 3\n", "watch"),
]


@pytest.mark.parametrize(("text", "key"), BAD)
def test_bad_regauto_toml(tmp_path: Path, text: str, key: str) -> None:
    (tmp_path / "regauto.toml").write_text(text)
    with pytest.raises(ConfigError) as e:
        config.load(tmp_path)
    msg = str(e.value)
    assert msg.startswith("regauto.toml: ")
    assert f"'{key}'" in msg
    assert "\n" not in msg


@pytest.mark.parametrize(("text", "key"), BAD[:6] + BAD[-6:])
def test_bad_pyproject_section(tmp_path: Path, text: str, key: str) -> None:
    # The same keys under [tool.regauto]: tables become [tool.regauto.<name>].
    body = text.replace("[watch]", "[tool.regauto.watch]").replace(
        "[queue]", "[tool.regauto.queue]")
    if not body.startswith("[tool.regauto."):
        body = "[tool.regauto]\n" + body
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n' + body)
    with pytest.raises(ConfigError) as e:
        config.load(tmp_path)
    assert str(e.value).startswith("pyproject.toml [tool.regauto]: ")
    assert f"'{key}'" in str(e.value)


@pytest.mark.parametrize(
    "text", ["[tool]\nregauto = 1\n", 'tool = "x"\n', "[tool]\nregauto = [1, 2]\n"]
)
def test_pyproject_tool_regauto_not_a_table(tmp_path: Path, text: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(ConfigError, match=r"pyproject\.toml"):
        config.load(tmp_path)
    with pytest.raises(ConfigError, match=r"pyproject\.toml"):
        config.load(tmp_path, tmp_path / "pyproject.toml")


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "regauto.toml").write_text("registry = \n")
    with pytest.raises(ConfigError, match=r"^regauto\.toml: invalid TOML"):
        config.load(tmp_path)


def test_explicit_config_path(tmp_path: Path) -> None:
    f = tmp_path / "custom.toml"
    f.write_text('auto_stage = "all"\n')
    assert config.load(tmp_path, f).auto_stage == "all"
    with pytest.raises(ConfigError, match="not found"):
        config.load(tmp_path, tmp_path / "missing.toml")
    f.write_text("bogus = 1\n")
    with pytest.raises(ConfigError, match=r"custom\.toml.*'bogus'"):
        config.load(tmp_path, f)


# -- through the CLI ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "text", "key"),
    [
        ("regauto.toml", 'auto_stage = "sometimes"\n', "auto_stage"),
        ("regauto.toml", "[watch]\nspeed = 1\n", "watch.speed"),
        ("pyproject.toml", "[tool.regauto]\ncolour = 1\n", "colour"),
        ("pyproject.toml", "[tool]\nregauto = 1\n", None),
        ("regauto.toml", "this is not toml\n", None),
    ],
)
def test_cli_config_error_exits_2_with_one_line(
    git_repo: Path, name: str, text: str, key: str | None
) -> None:
    (git_repo / name).write_text(text)
    proc = run_regauto("hash", cwd=git_repo)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert name in lines[0]
    if key is not None:
        assert f"'{key}'" in lines[0]
    assert proc.stdout == ""


def test_cli_uses_the_configured_registry(git_repo: Path) -> None:
    (git_repo / "regauto.toml").write_text('registry = "meta/reg"\n')
    proc = run_regauto("hash", cwd=git_repo)
    assert proc.returncode == 0 and proc.stdout.strip() == EMPTY_HASH
    write_shards(git_repo / "meta" / "reg", [record(1), record(2)])
    proc = run_regauto("hash", cwd=git_repo)
    assert proc.stdout.strip() == manifest_hash(git_repo / "meta" / "reg") != EMPTY_HASH
    custom = git_repo / "other.toml"
    custom.write_text('registry = "elsewhere"\n')
    proc = run_regauto("--config", "other.toml", "hash", cwd=git_repo)
    assert proc.returncode == 0 and proc.stdout.strip() == EMPTY_HASH
