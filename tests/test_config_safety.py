"""Hostile or careless configurations (issue 10): paths in one spelling only, numbers finite
and in range, undecodable files, and generator outputs that would overwrite something.

Each is refused with exit 2 and one line naming the file and the key, before anything is
written; the scenarios of ``r4``, ``r5``, ``r12``, ``r13`` and ``r16`` run end to end.
"""

from __future__ import annotations

import math
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import git, make_tree, run_regauto
from regauto import config
from regauto.errors import BadInputError, ConfigError
from regauto.project import check_rel

GEN = '[[generators]]\nname = "i"\noutput = "{out}"\nbuiltin = "markdown-index"\n'


def refused(tmp_path: Path, text: str | bytes, key: str | None, name: str = "regauto.toml"
            ) -> str:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        config.load(tmp_path)
    msg = str(e.value)
    assert msg.startswith(f"{name}: ") or msg.startswith(f"{name} [tool.regauto]: "), msg
    if key is not None:
        assert f"key '{key}'" in msg, msg
    assert "\n" not in msg
    return msg


def tree_state(repo: Path) -> dict[str, bytes]:
    """Every file under ``repo`` but git's own, with its content."""
    return {p.relative_to(repo).as_posix(): p.read_bytes() for p in sorted(repo.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(repo).parts}


# -- paths ------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [
    ".regauto", ".regauto/state", ".regauto/state/reg",
    "./reg", ".", "a//b", "sub/.git/reg", "sub/.GIT/reg", "reg/../x", "reg/.", " reg", "reg ",
    "/abs", "a\\\\b", "a\\u0000b", "a\\tb", "",
])
def test_registry_path_in_another_spelling_is_refused(tmp_path: Path, value: str) -> None:
    refused(tmp_path, f'registry = "{value}"\n', "registry")


@pytest.mark.parametrize("value", [
    "./docs/INDEX.md", "docs//INDEX.md", "docs/INDEX.md/", "docs/./INDEX.md", ".git/x.md",
    "a/.git/x.md", "../x.md",
])
def test_output_path_in_another_spelling_is_refused(tmp_path: Path, value: str) -> None:
    refused(tmp_path, GEN.format(out=value), "generators[0].output")


def test_a_folder_may_end_with_one_slash(tmp_path: Path) -> None:
    (tmp_path / "regauto.toml").write_text('registry = "meta/reg/"\n')
    assert config.load(tmp_path).registry == "meta/reg"


def test_registry_spelled_with_dot_is_exit_2_and_the_plain_spelling_converges(
    git_repo: Path,
) -> None:
    """r4: ``registry = "./reg"`` registered the registry itself; check never converged."""
    make_tree(git_repo, {"a.txt": "a\n", "regauto.toml": 'registry = "./reg"\n'})
    before = tree_state(git_repo)
    for cmd in (("sync", "--all"), ("fix",), ("check",)):
        r = run_regauto(*cmd, cwd=git_repo)
        assert r.returncode == 2, (cmd, r.stderr)
        assert r.stderr.strip().splitlines() == [
            "regauto: error: regauto.toml: key 'registry': './reg' must be written without "
            "'.', '..' or empty segments (e.g. 'a/b', not './a//b')"]
    assert tree_state(git_repo) == before
    (git_repo / "regauto.toml").write_text('registry = "reg"\n')
    for _ in range(2):
        assert run_regauto("sync", "--all", cwd=git_repo).returncode == 0
    assert run_regauto("fix", cwd=git_repo).returncode == 0
    r = run_regauto("check", cwd=git_repo)
    assert r.returncode == 0, r.stdout


def test_output_spelled_with_dot_is_exit_2_and_the_plain_spelling_converges(
    git_repo: Path,
) -> None:
    """r5: ``output = "./docs/INDEX.md"`` made every sync register another document."""
    make_tree(git_repo, {"docs/a.md": "# a\n", "regauto.toml": GEN.format(out="./docs/INDEX.md")})
    r = run_regauto("sync", "--all", cwd=git_repo)
    assert r.returncode == 2
    assert "key 'generators[0].output': './docs/INDEX.md'" in r.stderr
    assert sorted(os.listdir(git_repo / "docs")) == ["a.md"]
    (git_repo / "regauto.toml").write_text(GEN.format(out="docs/INDEX.md"))
    for _ in range(4):
        assert run_regauto("sync", "--all", cwd=git_repo).returncode == 0
    assert run_regauto("fix", cwd=git_repo).returncode == 0
    names = sorted(os.listdir(git_repo / "docs"))  # a.md got its doc_id prefix
    assert len(names) == 2 and names[0].endswith("_a.md") and names[1] == "INDEX.md", names
    r = run_regauto("check", cwd=git_repo)
    assert r.returncode == 0, r.stdout


# -- numbers ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "key"), [
    ("lock_timeout_s = nan\n", "lock_timeout_s"),
    ("lock_timeout_s = inf\n", "lock_timeout_s"),
    ("lock_timeout_s = -inf\n", "lock_timeout_s"),
    ("lock_timeout_s = 0\n", "lock_timeout_s"),
    ("lock_timeout_s = 1e300\n", "lock_timeout_s"),
    ("max_file_bytes = 9223372036854775807\n", "max_file_bytes"),
    ("backups = -3\n", "backups"),
    ("cas_retries = 100000000\n", "cas_retries"),
    ("[queue]\nlease_s = nan\n", "queue.lease_s"),
    ("[queue]\nlease_s = inf\n", "queue.lease_s"),
    ("[queue]\nlease_s = 0\n", "queue.lease_s"),
    ("[queue]\nlease_s = 1e18\n", "queue.lease_s"),
    ("[queue]\nmax_attempts = 0\n", "queue.max_attempts"),
    ("[watch]\nsamples = 0\n", "watch.samples"),
    ("[watch]\nmin_age_ms = -1\n", "watch.min_age_ms"),
    ("[watch]\nreconcile_every_s = 9223372036854775807\n", "watch.reconcile_every_s"),
])
def test_numbers_must_be_finite_and_in_range(tmp_path: Path, text: str, key: str) -> None:
    refused(tmp_path, text, key)


def test_numbers_in_range_are_kept(tmp_path: Path) -> None:
    (tmp_path / "regauto.toml").write_text(
        "lock_timeout_s = 0.5\n[queue]\nlease_s = 3600\nmax_attempts = 1\n"
        "[watch]\nreconcile_every_s = 0\n")
    cfg = config.load(tmp_path)
    assert (cfg.lock_timeout_s, cfg.queue.lease_s, cfg.queue.max_attempts,
            cfg.watch.reconcile_every_s) == (0.5, 3600.0, 1, 0)
    assert isinstance(cfg.queue.lease_s, float)


def test_nan_lock_timeout_is_exit_2_not_an_endless_wait(git_repo: Path) -> None:
    """r12: ``lock_timeout_s = nan`` was accepted and every lock wait never ended."""
    make_tree(git_repo, {"a.txt": "a\n", "regauto.toml": "lock_timeout_s = nan\n"})
    for cmd in (("hash",), ("check",)):
        r = subprocess.run(["python3", "-m", "regauto", *cmd], cwd=git_repo,
                           capture_output=True, text=True, timeout=60, check=False)
        assert r.returncode == 2
        assert r.stderr.strip() == ("regauto: error: regauto.toml: key 'lock_timeout_s': "
                                    "must be a finite number, not nan")


# -- undecodable files --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["regauto.toml", "pyproject.toml"])
@pytest.mark.parametrize(("data", "says"), [
    (b"\xff\xfe", "not UTF-8 (byte 1)"),
    (b'registry = "caf\xe9"\n', "not UTF-8 (byte 16)"),
    (b'registry = "a\x00b"\n', "invalid TOML"),
    (b"x = " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "invalid TOML"),
], ids=["bom16", "latin1", "nul", "deep"])
def test_undecodable_config_is_one_line_exit_2(
    git_repo: Path, name: str, data: bytes, says: str
) -> None:
    """r13: a NUL or non-UTF-8 bytes in the configuration ended in exit 4."""
    (git_repo / name).write_bytes(data)
    r = run_regauto("check", cwd=git_repo)
    assert r.returncode == 2, r.stderr
    [line] = r.stderr.strip().splitlines()
    assert line.startswith(f"regauto: error: {name}: ") and says in line, line


def test_a_key_with_a_newline_is_named_on_one_line(tmp_path: Path) -> None:
    msg = refused(tmp_path, '"a\\nb" = 1\n[watch]\n"c\\td" = 2\n', None)
    assert msg == "regauto.toml: key 'a\\nb': unknown key"


def test_nul_inside_a_path_value_is_refused(git_repo: Path) -> None:
    (git_repo / "regauto.toml").write_text('registry = "a\\u0000b"\n')
    r = run_regauto("check", cwd=git_repo)
    assert r.returncode == 2
    assert r.stderr.strip() == ("regauto: error: regauto.toml: key 'registry': 'a\\x00b' "
                                "contains a NUL or control character")


# -- generator outputs ------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "why"), [
    (GEN.format(out="regauto.toml"), "'regauto.toml' is a configuration file"),
    (GEN.format(out="pyproject.toml"), "'pyproject.toml' is a configuration file"),
    (GEN.format(out=".regauto/registry"), "overlaps the registry folder"),
    (GEN.format(out=".regauto/registry/0000.jsonl"), "overlaps the registry folder"),
    ('registry = "meta/reg"\n' + GEN.format(out="meta"), "overlaps the registry folder"),
    (GEN.format(out=".regauto/state/x.md"), "inside regauto's state folder"),
    (GEN.format(out="out") + GEN.replace('"i"', '"j"').format(out="out/x.md"),
     "collides with generators[0].output ('out')"),
])
def test_output_may_not_name_config_registry_state_or_another_output(
    tmp_path: Path, text: str, why: str
) -> None:
    assert why in refused(tmp_path, text, None)


def test_output_naming_an_existing_document_never_overwrites_it(git_repo: Path) -> None:
    """r16: ``output = "src/app.py"`` made ``fix`` replace the source with the index."""
    make_tree(git_repo, {"src/app.py": "def keep():\n    return 1\n", "regauto.toml": ""})
    assert run_regauto("sync", "--all", cwd=git_repo).returncode == 0
    with open(git_repo / "regauto.toml", "a") as f:
        f.write(GEN.format(out="src/app.py"))
    before = tree_state(git_repo)
    for cmd in (("fix",), ("generate",), ("sync", "--all"), ("check",)):
        r = run_regauto(*cmd, cwd=git_repo)
        assert r.returncode == 2, (cmd, r.stderr)
        assert r.stderr.strip().splitlines() == [
            "regauto: error: regauto.toml: key 'generators[0].output': 'src/app.py' names an "
            "existing file that regauto did not generate (a document?); choose another "
            "output, or move that file away first"]
    assert tree_state(git_repo) == before
    assert "def keep()" in (git_repo / "src/app.py").read_text()


def test_output_that_is_a_symlink_or_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.md").write_text("<!-- regauto-generated: -->\n")
    (tmp_path / "docs").mkdir()
    os.symlink(tmp_path / "outside.md", tmp_path / "docs/INDEX.md")
    assert "is a symbolic link" in refused(tmp_path, GEN.format(out="docs/INDEX.md"), None)
    assert "existing folder" in refused(tmp_path, GEN.format(out="docs"), None)


def test_a_generated_output_is_accepted_and_regenerated(git_repo: Path) -> None:
    make_tree(git_repo, {"docs/a.md": "# a\n", "regauto.toml": GEN.format(out="docs/INDEX.md")})
    assert run_regauto("sync", "--all", cwd=git_repo).returncode == 0
    assert run_regauto("generate", cwd=git_repo).returncode == 0
    (git_repo / "docs/b.md").write_text("# b\n")
    assert run_regauto("sync", "--all", cwd=git_repo).returncode == 0
    assert "_b.md | doc | b |" in (git_repo / "docs/INDEX.md").read_text()
    git(git_repo, "add", "-A")
    assert run_regauto("check", cwd=git_repo).returncode == 0


# -- a hostile battery ------------------------------------------------------------------------
PATHS = st.one_of(
    st.text(max_size=30),
    st.lists(st.sampled_from(["a", ".", "..", "", ".git", ".GIT", "docs", " x", "\x00", "\\"]),
             min_size=1, max_size=5).map("/".join),
)
NUMBERS = st.one_of(st.floats(), st.integers(min_value=-(2**63), max_value=2**63 - 1))


@settings(max_examples=300, deadline=None)
@given(registry=PATHS, output=PATHS, num=NUMBERS)
def test_hostile_values_are_refused_in_one_line_or_safe(
    registry: str, output: str, num: float
) -> None:
    data: dict[str, Any] = {
        "registry": registry, "lock_timeout_s": num, "queue": {"lease_s": num},
        "generators": [{"name": "i", "output": output, "builtin": "json-index"}],
    }
    try:
        cfg = config.parse(data, "regauto.toml")
    except ConfigError as e:
        assert str(e).startswith("regauto.toml: key '") and "\n" not in str(e)
        return
    for p in (cfg.registry, cfg.generators[0].output):
        try:
            assert check_rel(p) == p
        except BadInputError as e:  # pragma: no cover - the failure this test looks for
            raise AssertionError(f"accepted {p!r}: {e}") from None
    assert math.isfinite(cfg.lock_timeout_s) and 0 < cfg.lock_timeout_s <= 86_400
    assert math.isfinite(cfg.queue.lease_s) and cfg.queue.lease_s > 0
    assert not cfg.generators[0].output.startswith(cfg.registry + "/")


@settings(max_examples=150, deadline=None)
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_any_bytes_as_config_are_a_config_or_one_config_error(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "regauto.toml").write_bytes(raw)
        try:
            config.load(Path(d))
        except ConfigError as e:
            assert str(e).startswith("regauto.toml") and "\n" not in str(e), str(e)


@settings(max_examples=150, deadline=None)
@given(key=st.text(max_size=12), section=st.sampled_from([None, "watch", "queue"]))
def test_any_key_is_a_config_or_one_config_error(key: str, section: str | None) -> None:
    data: dict[str, Any] = {key: 1} if section is None else {section: {key: 1}}
    try:
        config.parse(data, "regauto.toml")
    except ConfigError as e:
        assert str(e).startswith("regauto.toml: key '") and str(e).isprintable(), str(e)
