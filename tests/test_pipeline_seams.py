"""The pipeline acts on user files only through its effects object (issue 11, "Seams"): the
dry one records what a run would do and changes nothing, and the dry runs of the commands
plan through it — so a plan says what the command then does, refusals included."""

from __future__ import annotations

from pathlib import Path

from conftest import make_tree
from pipeline_helpers import by_path, regauto, registry_bytes, snapshot, sync
from regauto.automation.effects import DryEffects
from regauto.automation.id_allocator import Planned
from regauto.automation.pipeline import Pipeline, all_paths
from regauto.project import Project
from regauto.reconcile.repair import DryWriter
from regauto.registry import open_writer

RULES = ('[[rules]]\nmatch = "adr/**"\nid_mode = "prefix"\n'
         '[[rules]]\nmatch = "**/*.py"\nid_mode = "header"\n')


def test_dry_effects_record_the_renames_and_headers_and_touch_nothing(git_repo: Path) -> None:
    make_tree(git_repo, {"regauto.toml": RULES, "adr/use-x.md": "# Use X\n",
                         "src/mod.py": "x = 1\n", "notes.txt": "plain\n"})
    project = Project.open(git_repo)
    before = snapshot(git_repo)
    effects = DryEffects(git_repo)
    result = Pipeline(project, effects=effects, allocator=Planned(),
                      writer=DryWriter(open_writer(project))).run(all_paths(project))
    assert snapshot(git_repo) == before
    ids = result.new_ids
    assert effects.renamed == [("adr/use-x.md", f"adr/{ids['adr/use-x.md']}_use-x.md")]
    assert effects.headed == [("src/mod.py", ids["src/mod.py"])]
    assert sorted((a.kind, a.path, a.done) for a in result.actions) == [
        ("header", "src/mod.py", False), ("rename", "adr/use-x.md", False)]
    assert not result.changed_registry


def test_sync_dry_run_names_the_rename_sync_refuses(git_repo: Path) -> None:
    make_tree(git_repo, {"regauto.toml": '[[rules]]\nmatch = "adr/**"\nid_mode = "registry"\n',
                         "adr/use-x.md": "# Use X\n"})
    sync(git_repo, "--all")
    doc = by_path(git_repo)["adr/use-x.md"]["doc_id"]
    (git_repo / "regauto.toml").write_text(RULES)
    (git_repo / f"adr/{doc}_use-x.md").mkdir()  # the name the file would take
    registry = registry_bytes(git_repo)
    planned = regauto(git_repo, "sync", "--all", "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert registry_bytes(git_repo) == registry
    refusal = (f"not renamed: cannot rename 'adr/use-x.md' to 'adr/{doc}_use-x.md': the "
               "destination exists; nothing was changed")
    assert f"would skip adr/use-x.md: {refusal}" in planned.stdout
    assert "should be renamed" not in planned.stdout
    assert f"skipped adr/use-x.md: {refusal}" in sync(git_repo, "--all").stderr
