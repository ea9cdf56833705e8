from __future__ import annotations

import ctypes
import errno
import os
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import make_tree
from regauto.automation import file_renamer
from regauto.automation.file_renamer import (
    RenameError,
    claimed_prefix_id,
    never_renamed,
    prefixed_name,
    rename,
)
from regauto.errors import BadInputError

ID = "2026112621050001"
OTHER = "2026112621050002"

needs_symlinks = pytest.mark.skipif(sys.platform == "win32", reason="symlinks")


@pytest.mark.parametrize(
    "rel",
    [
        "README.md", "docs/readme.rst", "LICENSE", "License.txt", "CHANGELOG.md",
        "CONTRIBUTING", "pkg/__init__.py", "pkg/__main__.py", "tests/conftest.py", "setup.py",
        "pyproject.toml", ".env", "README_old.md", "Readme",
        "docs/.hidden.md", ".github/workflows/ci.yml",
        "docs/.drafts/x.md",
    ],
)
def test_never_renamed(rel: str) -> None:
    assert never_renamed(rel)


@pytest.mark.parametrize("rel", ["docs/design.md", "setup_helpers.py", "src/readme_parser.py"])
def test_ordinary_names_may_be_renamed(rel: str) -> None:
    assert not never_renamed(rel)


def test_prefixed_name() -> None:
    assert prefixed_name("docs/a.md", ID) == f"docs/{ID}_a.md"
    assert prefixed_name("a.md", ID) == f"{ID}_a.md"
    assert prefixed_name(f"docs/{OTHER}_a.md", ID) == f"docs/{ID}_a.md"
    assert prefixed_name(f"docs/{ID}_a.md", ID) == f"docs/{ID}_a.md"
    # 16 digits that are no valid id are part of the name, not a claim
    assert prefixed_name("docs/0000000000000000_a.md", ID) == f"docs/{ID}_0000000000000000_a.md"
    with pytest.raises(ValueError, match="not a valid doc_id"):
        prefixed_name("a.md", "1234")


def test_claimed_prefix_id() -> None:
    assert claimed_prefix_id(f"docs/{ID}_a.md") == ID
    assert claimed_prefix_id(f"{ID}_a.md") == ID
    assert claimed_prefix_id(f"{ID}/a.md") is None  # a folder name claims nothing
    assert claimed_prefix_id("docs/2026139999990001_a.md") is None  # month 13


@given(
    name=st.text(alphabet="abc._-0123456789", min_size=1, max_size=20),
    first=st.integers(1, 9999),
    second=st.integers(1, 9999),
)
def test_prefix_round_trip(name: str, first: int, second: int) -> None:
    a, b = f"202601232247{first:04d}", f"202601232247{second:04d}"
    once = prefixed_name(f"docs/{name}", a)
    assert claimed_prefix_id(once) == a
    assert prefixed_name(once, a) == once
    assert prefixed_name(once, b) == prefixed_name(f"docs/{name}", b)


def test_rename_moves_the_file_and_reports_it(tmp_path: Path) -> None:
    make_tree(tmp_path, {"docs/a.md": "hello\n"})
    events: list[tuple[str, str]] = []
    dst = prefixed_name("docs/a.md", ID)
    rename(tmp_path, "docs/a.md", dst, on_rename=lambda s, d: events.append((s, d)))
    assert not (tmp_path / "docs/a.md").exists()
    assert (tmp_path / dst).read_text() == "hello\n"
    assert events == [("docs/a.md", dst)]


def test_rename_refuses_to_overwrite(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a.md": "mine\n", "b.md": "theirs\n"})
    events: list[tuple[str, str]] = []
    with pytest.raises(RenameError, match=r"'a\.md' to 'b\.md'.*destination exists"):
        rename(tmp_path, "a.md", "b.md", on_rename=lambda s, d: events.append((s, d)))
    assert (tmp_path / "a.md").read_text() == "mine\n"
    assert (tmp_path / "b.md").read_text() == "theirs\n"
    assert events == []
    assert issubclass(RenameError, BadInputError)


@needs_symlinks
def test_dangling_symlink_at_destination_is_not_overwritten(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a.md": "mine\n"})
    (tmp_path / "b.md").symlink_to("nowhere")
    with pytest.raises(RenameError, match="destination exists"):
        rename(tmp_path, "a.md", "b.md")
    assert os.readlink(tmp_path / "b.md") == "nowhere"


@needs_symlinks
def test_symlink_is_moved_as_a_link(tmp_path: Path) -> None:
    target = tmp_path / "target.md"
    target.write_text("t\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "l.md").symlink_to(target)
    rename(repo, "l.md", f"{ID}_l.md")
    moved = repo / f"{ID}_l.md"
    assert moved.is_symlink() and os.readlink(moved) == str(target)
    assert target.read_text() == "t\n"


@pytest.mark.parametrize(
    ("src", "dst", "why"),
    [
        ("a.md", "../a.md", "leaves the repository"),
        ("a.md", "/tmp/a.md", "absolute"),
        (".git/config", "a.md", "inside .git"),
        ("a.md", "sub/.git/x", "inside .git"),
        ("a.md", "docs//a.md", "not normalised"),
        ("a.md", "", "empty"),
    ],
)
def test_unsafe_paths_are_refused(tmp_path: Path, src: str, dst: str, why: str) -> None:
    make_tree(tmp_path, {"a.md": "x\n"})
    with pytest.raises(RenameError, match=why):
        rename(tmp_path, src, dst)
    assert (tmp_path / "a.md").exists()


@needs_symlinks
def test_symlinked_folder_leading_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = tmp_path / "repo"
    make_tree(repo, {"a.md": "x\n"})
    (repo / "escape").symlink_to(outside)
    with pytest.raises(RenameError, match="outside the repository"):
        rename(repo, "a.md", "escape/a.md")
    assert list(outside.iterdir()) == []


def test_missing_source_folder_or_non_regular_file(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a.md": "x\n"})
    (tmp_path / "dir").mkdir()
    with pytest.raises(RenameError, match="source does not exist"):
        rename(tmp_path, "gone.md", "b.md")
    with pytest.raises(RenameError, match=r"folder .* does not exist"):
        rename(tmp_path, "a.md", "new/a.md")
    with pytest.raises(RenameError, match="not a regular file"):
        rename(tmp_path, "dir", "dir2")


def test_rename_to_itself_does_nothing(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a.md": "x\n"})
    events: list[tuple[str, str]] = []
    rename(tmp_path, "a.md", "a.md", on_rename=lambda s, d: events.append((s, d)))
    assert (tmp_path / "a.md").exists() and events == []


@pytest.fixture
def without_renameat2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_renamer, "_renameat2", None)


@pytest.mark.usefixtures("without_renameat2")
@needs_symlinks
def test_fallback_without_renameat2(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a.md": "mine\n", "taken.md": "theirs\n"})
    (tmp_path / "l.md").symlink_to("a.md")
    rename(tmp_path, "a.md", "b.md")
    rename(tmp_path, "l.md", "m.md")
    assert (tmp_path / "b.md").read_text() == "mine\n" and not (tmp_path / "a.md").exists()
    assert os.readlink(tmp_path / "m.md") == "a.md" and not (tmp_path / "l.md").is_symlink()
    with pytest.raises(RenameError, match="destination exists"):
        rename(tmp_path, "b.md", "taken.md")
    assert (tmp_path / "taken.md").read_text() == "theirs\n"
    assert (tmp_path / "b.md").read_text() == "mine\n"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux only")
def test_renameat2_is_used_on_linux() -> None:
    assert file_renamer._get_renameat2() is not None


def test_file_system_without_noreplace_support_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(*args: object) -> int:
        ctypes.set_errno(errno.EINVAL)  # what renameat2 says when the file system can't
        return -1

    monkeypatch.setattr(file_renamer, "_renameat2", unsupported)
    make_tree(tmp_path, {"a.md": "mine\n", "taken.md": "theirs\n"})
    rename(tmp_path, "a.md", "b.md")
    assert (tmp_path / "b.md").read_text() == "mine\n"
    with pytest.raises(RenameError, match="destination exists"):
        rename(tmp_path, "b.md", "taken.md")
