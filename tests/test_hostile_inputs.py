"""Hostile inputs, generated (issue 10's acceptance): patches, configurations, shard lines
and file names that a hostile branch or a broken tool could produce — deep nesting, lone
surrogates, NUL and non-UTF-8 bytes, ids with a newline or far in the future, long names,
symlinks — given to the real CLI in a copy of a small registered repository.

Whatever the input, regauto ends with exit 0, 1 or 2 (never 4: an internal error; exit 3
only for a patch whose ``base_hash`` is not the registry's), and when it refuses the input
(exit 2) it says so in one line and the registry and the work tree are byte-for-byte (and
inode-for-inode) as they were.

Bounded for the default run (``EXAMPLES`` per property, derandomised so a run is
repeatable); ``-m slow`` runs each property with ``SLOW_EXAMPLES``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import git, make_tree
from pipeline_helpers import REGISTRY, snapshot

EXAMPLES = 25
SLOW_EXAMPLES = 250
SIZES = [pytest.param(EXAMPLES, id="default"),
         pytest.param(SLOW_EXAMPLES, id="slow", marks=pytest.mark.slow)]
FILES = {"a.txt": "a\n", "docs/guide.md": "# Guide\n", "pkg/mod.py": '"""Mod."""\n'}
FAR = "9999123123599999"


def run(repo: Path, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "regauto", *args], cwd=repo, input=data,
                          capture_output=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registered, committed repository; every example works on a copy of it."""
    repo = tmp_path_factory.mktemp("template") / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    make_tree(repo, FILES)
    for args in (("init", "--hooks", "none"), ("sync", "--all")):
        assert run(repo, *args).returncode == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "registered")
    return repo


def trial(template: Path, prepare: Callable[[Path], None], *args: str,
          data: bytes | None = None) -> None:
    """Copy the template, ``prepare`` the copy, run regauto, judge the outcome."""
    work = Path(tempfile.mkdtemp(dir=template.parent.parent))
    try:
        repo = work / "repo"
        shutil.copytree(template, repo, symlinks=True)
        prepare(repo)
        before = snapshot(repo)
        proc = run(repo, *args, data=data)
        err = proc.stderr.decode("utf-8", "replace")
        assert proc.returncode in (0, 1, 2, 3), (args, proc.returncode, err[-3000:])
        assert "Traceback" not in err, err[-3000:]
        if proc.returncode == 3:  # only a patch computed against another registry
            assert "registry changed since the patch was computed" in err, err
        if proc.returncode in (2, 3):
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("regauto: error: "), err
            assert snapshot(repo) == before, f"exit 2 but something changed: {err}"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _settings(examples: int) -> Callable[[Any], Any]:
    # No shrinking: each example runs regauto as a subprocess, and the first failing input
    # (printed whole) is enough to reproduce it.
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    phases=[Phase.explicit, Phase.generate], report_multiple_bugs=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- building blocks ---------------------------------------------------------------------------

HOSTILE_TEXT = st.sampled_from([
    "", " ", "\n", "\x00", "a\x00b", "\ud800", "x\udcff", "ä" * 130, "n" * 300, "../x",
    "/etc/passwd", ".git/config", "a//b", "./a", "sub/.git/x", "\u202e", "1e400",
])
TEXT = st.one_of(st.text(max_size=12), HOSTILE_TEXT)
IDS = st.one_of(st.sampled_from([
    "2026010100000001", FAR, "2026010100000001\n", "2026023012000001", "0000000000000000",
    "2026010100000000", "٢٠٢٦٠١٠١٠٠٠٠٠٠٠١", " 2026010100000001", "202601010000001",
]), TEXT)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    TEXT)
JSON = st.recursive(SCALARS, lambda c: st.lists(c, max_size=3)
                    | st.dictionaries(TEXT, c, max_size=3), max_leaves=8)
RECORD = st.fixed_dictionaries({}, optional={
    "path": st.one_of(st.just("new.txt"), st.just("a.txt"), TEXT),
    "doc_id": IDS,
    "id_mode": st.one_of(st.sampled_from(["registry", "header", "prefix"]), JSON),
    "kind": st.one_of(st.just("text"), JSON),
    "tags": st.one_of(st.just(["text"]), JSON),
    "role": st.one_of(st.just("other"), JSON),
    "blob": st.one_of(st.just("a" * 40), st.just("a" * 40 + "\n"), JSON),
    "size": st.one_of(st.integers(), JSON),
    "descriptor": JSON,
})


def mutate(text: str, how: str, at: int) -> bytes:
    """One hostile edit of a JSON text, as bytes (lone surrogates the generated strings
    hold are written as the invalid UTF-8 ``surrogatepass`` makes of them)."""
    cut = at % (len(text) + 1)
    if how == "deep":
        text = text[:cut] + '{"d": ' * 5000 + text[cut:]
    elif how == "deep_ok":  # deep, but well formed where a value goes
        text = text.replace("null", '{"d": ' * 150 + "0" + "}" * 150, 1)
    elif how == "surrogate":
        text = text.replace('"', '"\\udc80', 2)
    elif how == "nan":
        text = text.replace("0", "NaN", 1)
    elif how == "huge":
        text = text.replace("1", "1" + "9" * 5000, 1)
    elif how == "truncate":
        text = text[:cut]
    elif how == "bytes":
        return _raw(text[:cut]) + b"\xff\x00\xc3" + _raw(text[cut:])
    return _raw(text)


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


MUTATIONS = st.sampled_from(["none", "deep", "deep_ok", "surrogate", "nan", "huge",
                             "truncate", "bytes"])


# -- the properties ------------------------------------------------------------------------------

@pytest.mark.parametrize("examples", SIZES)
def test_hostile_patches(template: Path, examples: int) -> None:
    base = run(template, "hash").stdout.decode().strip()

    @_settings(examples)
    @given(st.dictionaries(IDS, st.one_of(st.none(), RECORD), max_size=3), MUTATIONS,
           st.integers(0, 10_000), st.booleans(), st.booleans())
    def prop(changes: dict[str, Any], how: str, at: int, real_base: bool, ascii_: bool) -> None:
        body = {"base_hash": base if real_base else "sha256:" + "0" * 64, "source": "t",
                "reason": "t", "changes": changes}
        text = json.dumps(body, ensure_ascii=ascii_)
        trial(template, lambda repo: None, "patch", "-", data=mutate(text, how, at))

    prop()


TOML_LINES = st.sampled_from([
    'registry = "./reg"', 'registry = "."', 'registry = "a//b"', 'registry = "sub/.git/reg"',
    'registry = "../out"', 'registry = ""', 'registry = "a.txt"', 'include = ["**/*"]',
    'exclude = ["**/*"]', "exclude = []", 'auto_stage = "all"', 'auto_stage = "x"',
    "max_file_bytes = 0", "max_file_bytes = 99999999999999999999", "max_patch_bytes = 1",
    "backups = -1", "backups = 1", "cas_retries = 1", "lock_timeout_s = nan",
    "lock_timeout_s = inf", "lock_timeout_s = -1", "lock_timeout_s = 1e400",
    "lock_timeout_s = 0.001", "unknown = 1", "registry = 1", "[queue]\nlease_s = nan",
    "[queue]\nmax_attempts = 0", "[watch]\nmin_age_ms = -5",
    '[[rules]]\nmatch = "**/*"\nid_mode = "prefix"',
    '[[rules]]\nmatch = "**/*.txt"\nid_mode = "header"',
    '[[rules]]\nmatch = "\\u0000"', '[[rules]]\nmatch = "[a-"',
    '[[generators]]\nname = "i"\noutput = "docs/INDEX.md"\nbuiltin = "markdown-index"',
    '[[generators]]\nname = "i"\noutput = "./docs/INDEX.md"\nbuiltin = "markdown-index"',
    '[[generators]]\nname = "j"\noutput = ".regauto/registry/00.jsonl"\nbuiltin = "json-index"',
    '[[generators]]\nname = "k"\noutput = "../outside.md"\nbuiltin = "markdown-index"',
    'registry = "\\u0000"', 'registry = "\\ud800"', "x = [" * 200,
])


@pytest.mark.parametrize("examples", SIZES)
def test_hostile_configs(template: Path, examples: int) -> None:

    @_settings(examples)
    @given(st.lists(TOML_LINES, min_size=1, max_size=3), st.sampled_from(["none", "nul", "ff"]),
           st.sampled_from(["check", "fix", "sync"]))
    def prop(lines: list[str], how: str, command: str) -> None:
        # Tables last: a key after a [table] header would belong to the table.
        lines = sorted(lines, key=lambda s: s.startswith("["))
        text = "\n".join(lines).encode() + b"\n"
        if how == "nul":
            text = text.replace(b"\n", b"\x00\n", 1)
        elif how == "ff":
            text = b"\xff" + text

        def prepare(repo: Path) -> None:
            (repo / "regauto.toml").write_bytes(text)

        args = ("sync", "--all") if command == "sync" else (command,)
        trial(template, prepare, *args)

    prop()


@pytest.mark.parametrize("examples", SIZES)
def test_hostile_shard_lines(template: Path, examples: int) -> None:
    shard = next(p.name for p in (template / REGISTRY).glob("*.jsonl"))

    @_settings(examples)
    @given(st.one_of(RECORD, JSON), MUTATIONS, st.integers(0, 10_000),
           st.sampled_from(["append", "replace", "meta"]), st.sampled_from(["check", "fix"]))
    def prop(value: Any, how: str, at: int, where: str, command: str) -> None:
        line = mutate(json.dumps(value, ensure_ascii=False), how, at)

        def prepare(repo: Path) -> None:
            target = repo / REGISTRY / ("meta.json" if where == "meta" else shard)
            old = target.read_bytes()
            target.write_bytes(old + line + b"\n" if where == "append" else line + b"\n")

        trial(template, prepare, command)

    prop()


NAME_PARTS = st.sampled_from([
    "n" * 250, "ä" * 120, "line\nbreak.txt", " lead.txt", "-dash.txt", "tab\t.md",
    "2026010100000001_claim.md", f"{FAR}_far.md", "2026010100000001\n_x.md",
    "caf\udce9.txt", "\u202eevil.txt", "x.py", "CON", "a" * 200 + ".py",
])
LINKS = st.sampled_from(["/etc/hostname", "../outside.txt", "missing", ".git/config",
                         "loop", "a.txt", ".regauto/registry/meta.json"])


@pytest.mark.parametrize("examples", SIZES)
def test_hostile_file_names(template: Path, examples: int) -> None:

    @_settings(examples)
    @given(st.lists(st.tuples(st.sampled_from(["", "docs/", "deep/er/"]), NAME_PARTS),
                    max_size=3),
           st.lists(LINKS, max_size=2), st.sampled_from(["check", "fix", "sync"]))
    def prop(names: list[tuple[str, str]], links: list[str], command: str) -> None:

        def prepare(repo: Path) -> None:
            for folder, name in names:
                path = os.fsencode(repo / folder) + os.fsencode(name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                try:
                    with open(path, "wb") as f:
                        f.write(b"# x\n")
                except OSError:  # a name the file system refuses: nothing to test
                    pass
            for i, target in enumerate(links):
                link = repo / f"link{i}.txt"
                os.symlink(str(link) if target == "loop" else target, link)

        args = ("sync", "--all") if command == "sync" else (command,)
        trial(template, prepare, *args)

    prop()
