"""``project.rels_ok`` (a cold check's path rule for a whole shard at once) accepts a
list of paths exactly when ``check_rel`` accepts each of them."""

from __future__ import annotations

import pytest

from regauto.errors import BadInputError
from regauto.project import check_rel, rels_ok

PATHS = [
    "a.md", "docs/a b.md", "x/y/z.py", "a..b/c", ".hidden/x", "x/.git/y", ".gitignore",
    ".github/w.yml", "a/...", "…/é.md", "a:b", "ab:c", "a/b:", "x\\y", "a\\", "-", "a\nb",
    "", ".", "..", "/", "/a", "a/", "a//b", "./a", "a/./b", "a/.", "../a", "a/../b", "a/..",
    ".git", ".git/config", "C:/x", "c:x", "\\x", "a\0b", "\0", "a\udcff.md", "\udcff",
]


@pytest.mark.parametrize("path", PATHS, ids=[repr(p) for p in PATHS])
def test_rels_ok_accepts_what_check_rel_accepts(path: str) -> None:
    try:
        check_rel(path)
        accepted = True
    except BadInputError:
        accepted = False
    assert rels_ok(["docs/a.md", path, "z/last.py"]) is accepted
    assert rels_ok([path]) is accepted


def test_rels_ok_of_many_good_paths() -> None:
    assert rels_ok([f"src/p{i}/m{i}.py" for i in range(1000)])
    assert rels_ok([])
