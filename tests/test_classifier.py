from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from identify import identify

from conftest import make_tree
from regauto.automation.classifier import (
    ROLES,
    Classification,
    classify,
    classify_content,
    kind_from_tags,
)
from regauto.errors import BadInputError


def _classify(root: Path, rel: str) -> Classification:
    return classify(root / rel, rel)


@pytest.mark.parametrize(
    ("rel", "content", "kind", "role"),
    [
        ("src/pkg/mod.py", "x = 1\n", "python", "source"),
        ("tests/test_mod.py", "", "python", "test"),
        ("src/pkg/tests/helpers.py", "", "python", "test"),
        ("src/pkg/mod_test.py", "", "python", "test"),
        ("conftest.py", "", "python", "test"),
        ("web/app.test.ts", "", "ts", "test"),
        ("docs/design.md", "# D\n", "markdown", "doc"),
        ("notes/idea.md", "# I\n", "markdown", "doc"),
        ("docs/conf.py", "", "python", "doc"),
        ("guide.rst", "G\n=\n", "rst", "doc"),
        ("NOTES.txt", "hello\n", "text", "doc"),
        ("LICENSE", "MIT\n", "text", "doc"),
        ("requirements.txt", "typer\n", "text", "config"),
        ("pyproject.toml", "[project]\n", "toml", "config"),
        ("conf/app.yaml", "a: 1\n", "yaml", "config"),
        ("setup.cfg", "[metadata]\n", "ini", "config"),
        ("package.json", "{}\n", "json", "config"),
        ("data/points.json", "[]\n", "json", "data"),
        ("data/table.csv", "a,b\n", "csv", "data"),
        ("src/pkg/data/__init__.py", "", "python", "source"),
        ("scripts/release.py", "", "python", "script"),
        ("tools/deploy.sh", "echo hi\n", "shell", "script"),
        ("include/api.h", "int f(void);\n", "c", "source"),
        ("assets/logo.png", b"\x89PNG\r\n\x1a\n\x00\x00", "png", "other"),
        ("blob", b"\x00\x01\x02", "binary", "other"),
        ("plain", "just words\n", "text", "other"),
    ],
)
def test_kind_and_role_by_convention(
    tmp_path: Path, rel: str, content: str | bytes, kind: str, role: str
) -> None:
    make_tree(tmp_path, {rel: content})
    c = _classify(tmp_path, rel)
    assert (c.kind, c.role) == (kind, role)
    assert c.role in ROLES


def test_tags_are_identify_tags_sorted(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a/b.py": "x = 1\n", "c.md": "# c\n", "d.bin": b"\x00\xff"})
    for rel in ("a/b.py", "c.md", "d.bin"):
        c = _classify(tmp_path, rel)
        assert c.tags == tuple(sorted(identify.tags_from_path(str(tmp_path / rel))))


def test_executable_with_shebang_is_a_python_script(tmp_path: Path) -> None:
    make_tree(tmp_path, {"tool": "#!/usr/bin/env python3\nprint(1)\n"})
    os.chmod(tmp_path / "tool", 0o755)
    c = _classify(tmp_path, "tool")
    assert c.kind == "python"  # python over its qualifier python3
    assert "executable" in c.tags and "python3" in c.tags
    assert c.role == "script"


def test_executable_bit_comes_from_the_mode_not_the_user(tmp_path: Path) -> None:
    # os.access(X_OK) is true for root on any x bit and false for others on group-only bits;
    # the registry must not depend on who runs regauto.
    make_tree(tmp_path, {"run.py": "print(1)\n"})
    os.chmod(tmp_path / "run.py", 0o654)
    assert "executable" in _classify(tmp_path, "run.py").tags


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_symlink_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("x = 1\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "link.py").symlink_to(outside)
    (repo / "dangling.md").symlink_to(repo / "nowhere")
    for rel in ("link.py", "dangling.md"):
        c = _classify(repo, rel)
        assert (c.kind, c.tags, c.role) == ("symlink", ("symlink",), "other")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
def test_fifo_and_directory_are_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "dir").mkdir()
    for rel in ("pipe", "dir"):
        with pytest.raises(BadInputError, match="not a regular file"):
            _classify(tmp_path, rel)


def test_vanished_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _classify(tmp_path, "gone.py")


def test_staged_content_classifies_like_the_file(tmp_path: Path) -> None:
    make_tree(tmp_path, {"bin/x": "#!/bin/bash\necho\n"})
    os.chmod(tmp_path / "bin/x", 0o755)
    data = (tmp_path / "bin/x").read_bytes()
    assert classify_content("bin/x", data, executable=True) == _classify(tmp_path, "bin/x")
    link = classify_content("docs/l.md", b"target", symlink=True)
    assert (link.kind, link.tags, link.role) == ("symlink", ("symlink",), "doc")


def test_header_file_picks_c_not_cplusplus() -> None:
    assert kind_from_tags({"c", "c++", "header", "text", "file"}) == "c"
    assert kind_from_tags({"json", "jupyter", "text"}) == "json"
    assert kind_from_tags({"binary", "image", "png"}) == "png"
    assert kind_from_tags({"text", "plain-text"}) == "text"


_TAG_POOL = sorted(identify.ALL_TAGS)


@given(st.sets(st.sampled_from(_TAG_POOL), max_size=6))
def test_kind_is_deterministic_and_one_of_the_tags(tags: set[str]) -> None:
    kind = kind_from_tags(tags)
    assert kind == kind_from_tags(set(sorted(tags, reverse=True)))
    assert kind in tags or kind in ("other",)


@given(st.text(alphabet="abcdefgh_./", min_size=1, max_size=30).filter(
    lambda p: "//" not in p and not p.startswith("/") and not p.endswith("/")
))
def test_role_is_always_a_known_role(rel: str) -> None:
    assert classify_content(rel, b"x\n").role in ROLES
