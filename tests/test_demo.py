"""``regauto demo``: README's first command must walk the whole flow without a surprise."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_regauto


def test_demo_walks_the_whole_flow(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    r = run_regauto("demo", str(target), cwd=tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "demo finished: the repository is in" in out
    assert "unexpected results" not in out
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


def test_demo_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    r = run_regauto("demo", str(tmp_path / "taken"), cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "not empty" in r.stderr
