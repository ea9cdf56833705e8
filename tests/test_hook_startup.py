"""What every commit pays before the hook's work: argument parsing and reading the
configuration.  The plain ``hook NAME [ARGS]`` form skips argparse and must mean exactly
what the parser makes of it; the parsed configuration is cached by content, so an edited
``regauto.toml`` is always what the next command reads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git, make_tree
from pipeline_helpers import regauto
from regauto.cli import git_entry

HOOK_CALLS = [
    ["hook", "pre-commit"], ["hook", "pre-merge-commit"], ["hook", "post-commit"],
    ["hook", "post-checkout"], ["hook", "post-checkout", "a" * 40, "b" * 40, "1"],
    ["hook", "post-merge"], ["hook", "post-merge", "0"],
    ["hook", "post-rewrite"], ["hook", "post-rewrite", "amend"],
]


@pytest.mark.parametrize("argv", HOOK_CALLS, ids=" ".join)
def test_the_plain_hook_form_means_what_the_parser_makes_of_it(argv: list[str]) -> None:
    fast = git_entry.plain_hook_args(argv)
    assert fast is not None
    assert vars(fast) == vars(git_entry.parser().parse_args(argv))


@pytest.mark.parametrize("argv", [
    ["hook"], ["hook", "nope"], ["hook", "pre-commit", "extra"], ["hook", "pre-commit", "-v"],
    ["-q", "hook", "pre-commit"], ["hook", "post-merge", "0", "1"],
    ["merge-driver", "a", "b", "c", "d"],
], ids=" ".join)
def test_anything_else_goes_to_the_parser(argv: list[str]) -> None:
    assert git_entry.plain_hook_args(argv) is None


CODE = """\
import sys
from regauto.__main__ import main
rc = main(["hook", "pre-commit"])
print(rc, sorted(m for m in ("argparse", "tomllib") if m in sys.modules))
"""


def test_a_commit_hook_parses_neither_its_arguments_nor_an_unchanged_config_again(
        git_repo: Path) -> None:
    (git_repo / "regauto.toml").write_text('[[rules]]\nmatch = "**/*"\nid_mode = "registry"\n')
    make_tree(git_repo, {"notes/a.txt": "A.\n"})
    git(git_repo, "add", "-A")
    for _ in range(2):  # the first run makes the state dir, the second caches the config
        first = regauto(git_repo, "hook", "pre-commit")
        assert first.returncode == 0, first.stderr
    make_tree(git_repo, {"notes/b.txt": "B.\n"})
    git(git_repo, "add", "-A")
    p = subprocess.run([sys.executable, "-c", CODE], cwd=git_repo, capture_output=True,
                       text=True, check=False)
    assert p.stdout.strip() == "0 []", p.stdout + p.stderr
    assert "notes/b.txt" in git(git_repo, "show", ":.regauto/registry/" + _shard(git_repo,
                                                                                  "notes/b.txt"))


def _shard(repo: Path, path: str) -> str:
    from regauto.registry import records

    return records.shard_of(path)


def test_an_edited_config_is_read_again_even_with_its_old_size_and_time(
        git_repo: Path) -> None:
    config = git_repo / "regauto.toml"
    config.write_text('[[rules]]\nmatch = "**/*"\nid_mode = "registry"\n')
    make_tree(git_repo, {"notes/a.txt": "A.\n"})
    for _ in range(2):  # the first run makes the state dir, the second caches the config
        assert regauto(git_repo, "sync", "--all").returncode == 0
    assert (git_repo / ".git" / "regauto" / "toml-cache.json").is_file()
    st = config.stat()
    config.write_text('[[rules]]\nmatch = "**/*"\nid_mode = "regisrty"\n')  # same size
    os.utime(config, ns=(st.st_atime_ns, st.st_mtime_ns))
    p = regauto(git_repo, "check")
    assert p.returncode == 2, p.stdout + p.stderr
    assert "regauto.toml" in p.stderr and "id_mode" in p.stderr
