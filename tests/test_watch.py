"""``regauto watch``: a real watcher (watchfiles, a subprocess) on a real git repository."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from watchfiles import Change

from conftest import run_regauto
from regauto import docid
from regauto.git import blob_id
from regauto.project import Project
from regauto.registry import open_writer
from regauto.registry.promotion_patch import PromotionPatch
from regauto.registry.reader import open_reader
from regauto.watch.filters import ProjectFilter, TempFileFilter
from watch_helpers import WatchProcess, records, wait_for, writes

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def watch(git_repo: Path, tmp_path: Path) -> Iterator[WatchProcess]:
    (git_repo / "docs").mkdir()
    w = WatchProcess(git_repo, tmp_path / "watch.log")
    yield w
    w.close()


def settle_writes(repo: Path, quiet_s: float = 2.0) -> int:
    """Wait until the registry write count stays put for ``quiet_s``; return it."""
    deadline = time.monotonic() + 15
    last = writes(repo)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = writes(repo)
        if now == last:
            return now
        last = now
    raise AssertionError(f"the registry never stopped being written ({last} writes)")


def drop_record(repo: Path, doc_id: str) -> None:
    """Remove a record behind the watcher's back: the registry folder is not watched."""
    project = Project.open(repo)
    base = open_reader(project).current_hash()
    open_writer(project).apply(PromotionPatch(base, "test", "drop", changes={doc_id: None}))


# -- the lifecycle of a document --------------------------------------------------------


def test_create_modify_delete_without_renaming_or_looping(watch: WatchProcess) -> None:
    repo = watch.repo
    doc = repo / "docs" / "design-notes.md"
    doc.write_text("# Design\n")
    rec = wait_for("the new doc's record", lambda: records(repo).get("docs/design-notes.md"))
    assert docid.is_valid(rec["doc_id"])
    assert rec["blob"] == blob_id(b"# Design\n")
    # mutate = false by default: registered under its current name, the file untouched.
    assert sorted(p.name for p in (repo / "docs").iterdir()) == ["design-notes.md"]
    assert doc.read_text() == "# Design\n"

    doc.write_text("# Design\n\nMore.\n")
    wait_for("the blob to follow the edit", lambda: records(repo)["docs/design-notes.md"]
             ["blob"] == blob_id(b"# Design\n\nMore.\n"))
    assert records(repo)["docs/design-notes.md"]["doc_id"] == rec["doc_id"]

    doc.unlink()
    wait_for("the record to go", lambda: "docs/design-notes.md" not in records(repo))
    # Its own registry writes never come back as events: the write count settles.
    settled = settle_writes(repo, quiet_s=1.0)
    time.sleep(1.0)
    assert writes(repo) == settled
    assert watch.terminate() == 0


def test_mutate_renames_once_and_does_not_loop(git_repo: Path, tmp_path: Path) -> None:
    (git_repo / "regauto.toml").write_text("[watch]\nmutate = true\n")
    (git_repo / "docs").mkdir()
    w = WatchProcess(git_repo, tmp_path / "watch.log")
    try:
        (git_repo / "docs" / "plan.md").write_text("# Plan\n")
        names = wait_for("the rename", lambda: [
            p.name for p in (git_repo / "docs").iterdir() if p.name.endswith("_plan.md")])
        doc_id = names[0].split("_")[0]
        path = f"docs/{names[0]}"
        wait_for("the record under the new name", lambda: path in records(git_repo))
        settle_writes(git_repo)
        recs = {p: r for p, r in records(git_repo).items() if p.startswith("docs/")}
        assert list(recs) == [path] and recs[path]["doc_id"] == doc_id
        assert "plan.md" not in {p.name for p in (git_repo / "docs").iterdir()}
        # The suppressed rename events did not become jobs of their own.
        jobs = json.loads(run_regauto("queue", "list", "--format", "json", cwd=git_repo).stdout)
        assert {j["path"] for j in jobs} <= {"docs/plan.md", path, "regauto.toml"}
        assert all(j["status"] == "completed" for j in jobs)
        assert w.terminate() == 0
    finally:
        w.close()


def test_a_file_still_being_written_waits_until_it_settles(git_repo: Path, tmp_path: Path
                                                           ) -> None:
    # min_age 1 s: ten times the gap between appends, so a loaded machine cannot fake a pause.
    (git_repo / "regauto.toml").write_text("[watch]\nmin_age_ms = 1000\n")
    (git_repo / "docs").mkdir()
    watch = WatchProcess(git_repo, tmp_path / "watch.log")
    repo = git_repo
    path = repo / "docs" / "growing.md"
    seen: list[tuple[float, str]] = []  # (time, blob) of every record observed
    errors: list[BaseException] = []
    done = threading.Event()

    def observe() -> None:
        try:
            while not done.is_set():
                rec = records(repo).get("docs/growing.md")
                if rec is not None:
                    seen.append((time.monotonic(), rec["blob"]))
                time.sleep(0.03)
        except BaseException as e:  # reported by the test, not lost with the thread
            errors.append(e)

    def settled() -> bool:
        if errors:
            raise errors[0]
        return bool(seen) and seen[-1][1] == blob_id(content)

    observer = threading.Thread(target=observe)
    observer.start()
    try:
        content = b"# Growing\n"
        path.write_bytes(content)
        for i in range(20):  # an append every 100 ms for 2 s
            time.sleep(0.1)
            content += f"line {i}\n".encode()
            with path.open("ab") as f:
                f.write(f"line {i}\n".encode())
        last_write = time.monotonic()
        wait_for("the settled file's record", settled, timeout=20)
    finally:
        done.set()
        observer.join()
        watch.close()
    assert {b for _, b in seen} == {blob_id(content)}, "an intermediate version was registered"
    assert seen[0][0] > last_write


def test_editor_temp_files_are_ignored(watch: WatchProcess) -> None:
    repo = watch.repo
    temps = ["docs/.notes.md.swp", "docs/notes.md~", "docs/4913", "docs/scratch.tmp",
             "docs/.#notes.md", "docs/#notes.md#", "docs/.notes.md.regauto-header"]
    for t in temps:
        (repo / t).write_text("temp\n")
    (repo / "docs" / "notes.md").write_text("# Notes\n")  # a barrier: processed after them
    wait_for("the real file's record", lambda: "docs/notes.md" in records(repo))
    time.sleep(1.0)
    assert set(records(repo)) == {"docs/notes.md"}
    jobs = json.loads(run_regauto("queue", "list", "--format", "json", cwd=repo).stdout)
    assert [j["path"] for j in jobs] == ["docs/notes.md"]


def test_waits_while_git_is_busy(watch: WatchProcess) -> None:
    repo = watch.repo
    lock = repo / ".git" / "index.lock"
    lock.write_text("")
    (repo / "docs" / "during-commit.md").write_text("# Wait\n")
    time.sleep(2.0)
    assert "docs/during-commit.md" not in records(repo)
    lock.unlink()
    wait_for("the record once git is done", lambda: "docs/during-commit.md" in records(repo))
    assert "git is busy (index.lock)" in watch.log()


def test_folders_moved_in_and_out(watch: WatchProcess, tmp_path: Path) -> None:
    repo = watch.repo
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "a.md").write_text("# A\n")
    (outside / "deep" / "b.md").write_text("# B\n")
    shutil.move(str(outside), repo / "docs" / "moved")  # one event, for the folder
    wait_for("records of the moved-in files", lambda: {"docs/moved/a.md", "docs/moved/deep/b.md"}
             <= set(records(repo)))
    ids = {p: r["doc_id"] for p, r in records(repo).items()}

    shutil.move(str(repo / "docs" / "moved"), repo / "docs" / "renamed")  # a move in the tree
    wait_for("records under the new folder", lambda: set(records(repo)) ==
             {"docs/renamed/a.md", "docs/renamed/deep/b.md"})
    recs = records(repo)
    assert recs["docs/renamed/a.md"]["doc_id"] == ids["docs/moved/a.md"]  # a move keeps ids
    assert recs["docs/renamed/deep/b.md"]["doc_id"] == ids["docs/moved/deep/b.md"]

    shutil.move(str(repo / "docs" / "renamed"), tmp_path / "gone")
    wait_for("the records to go", lambda: not records(repo))


def test_start_rescans_what_changed_while_not_watching(git_repo: Path, tmp_path: Path) -> None:
    (git_repo / "docs").mkdir()
    (git_repo / "docs" / "kept.md").write_text("# Kept\n")
    (git_repo / "docs" / "deleted.md").write_text("# Deleted\n")
    assert run_regauto("sync", "--all", cwd=git_repo).returncode == 0
    before = records(git_repo)
    kept = next(p for p in before if p.endswith("kept.md"))
    gone = next(p for p in before if p.endswith("deleted.md"))
    (git_repo / gone).unlink()
    (git_repo / kept).write_text("# Kept\n\nedited while nobody watched\n")
    (git_repo / "docs" / "new.md").write_text("# New\n")
    w = WatchProcess(git_repo, tmp_path / "watch.log")
    try:
        wait_for("the rescan's repairs", lambda: (r := records(git_repo)) and gone not in r
                 and "docs/new.md" in r
                 and r[kept]["blob"] == blob_id(b"# Kept\n\nedited while nobody watched\n"))
        assert w.terminate() == 0
    finally:
        w.close()


def test_reconcile_schedule_repairs_what_no_event_shows(git_repo: Path, tmp_path: Path) -> None:
    (git_repo / "regauto.toml").write_text("[watch]\nreconcile_every_s = 1\n")
    (git_repo / "docs").mkdir()
    w = WatchProcess(git_repo, tmp_path / "watch.log")
    try:
        (git_repo / "docs" / "x.md").write_text("# X\n")
        rec = wait_for("the record", lambda: records(git_repo).get("docs/x.md"))
        drop_record(git_repo, rec["doc_id"])
        assert "docs/x.md" not in records(git_repo)
        wait_for("the scheduled repair", lambda: "docs/x.md" in records(git_repo), timeout=15)
        assert w.terminate() == 0
    finally:
        w.close()


def test_reconcile_schedule_runs_the_reconciler_when_mutating(git_repo: Path, tmp_path: Path
                                                              ) -> None:
    (git_repo / "regauto.toml").write_text("[watch]\nmutate = true\nreconcile_every_s = 1\n")
    (git_repo / "docs").mkdir()
    w = WatchProcess(git_repo, tmp_path / "watch.log")
    try:
        (git_repo / "docs" / "y.md").write_text("# Y\n")
        rec = wait_for("the renamed doc's record", lambda: next(
            (r for p, r in records(git_repo).items() if p.endswith("_y.md")), None))
        drop_record(git_repo, rec["doc_id"])
        again = wait_for("the reconciler's repair", lambda: records(git_repo).get(rec["path"]),
                         timeout=15)
        assert again["doc_id"] == rec["doc_id"]  # the file claims its id by its name
        wait_for("the reconciler's report in the log", lambda: "reconcile: " in w.log())
        assert w.terminate() == 0
    finally:
        w.close()


def test_sigterm_ends_promptly_with_exit_0(watch: WatchProcess) -> None:
    started = time.monotonic()
    assert watch.terminate(timeout=5) == 0
    assert time.monotonic() - started < 3
    assert "stopped" in watch.log()


def test_a_second_watcher_is_refused(watch: WatchProcess) -> None:
    r = run_regauto("watch", cwd=watch.repo)
    assert r.returncode == 2
    assert "already running" in r.stderr


# -- the filters (no watcher needed) -----------------------------------------------------


@pytest.mark.parametrize("name", [
    ".notes.md.swp", ".notes.md.swo", "notes.md~", "4913", ".#notes.md", "#notes.md#",
    "x.tmp", "a.md.___jb_tmp___", ".~lock.report.odt#", ".goutputstream-ABC123",
    ".notes.md.regauto-header", ".DS_Store",
])
def test_temp_file_filter_drops(name: str) -> None:
    assert not TempFileFilter()(Change.added, f"/r/docs/{name}")


@pytest.mark.parametrize("name", ["notes.md", "swap.md", "tmp.md", "49130", "a~b.md", "x.py"])
def test_temp_file_filter_keeps(name: str) -> None:
    assert TempFileFilter()(Change.modified, f"/r/docs/{name}")


def test_project_filter(git_repo: Path) -> None:
    (git_repo / "regauto.toml").write_text(
        'exclude = ["build/**"]\n[[generators]]\nname = "index"\noutput = "docs/INDEX.md"\n'
        'builtin = "markdown-index"\n'
    )
    project = Project.open(git_repo)
    f = ProjectFilter(project)
    root = str(project.root)
    keep = ["docs/a.md", "src/x.py", "buildings.md", "docs"]
    drop = [".git/index", ".git", "sub/.git/HEAD", ".regauto/registry/00.jsonl",
            "docs/INDEX.md", "build/out.txt", "build", "build/deep/x"]
    for p in keep:
        assert f(Change.added, f"{root}/{p}"), p
    for p in drop:
        assert not f(Change.added, f"{root}/{p}"), p
    assert not f(Change.added, str(project.state_dir / "state.db"))
    assert not f(Change.added, "/elsewhere/a.md")
