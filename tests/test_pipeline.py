"""The pipeline end to end (SPEC §4, §6, §11): real git repositories, the real CLI.

Each test builds a tree, runs ``regauto sync`` in a subprocess as a user would, and checks
what the user sees: the files on disk and the registry's own files, read without regauto.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import git, initialise, make_tree
from pipeline_helpers import (
    by_path,
    commit_all,
    documents_on_disk,
    git_blobs,
    ids_by_path,
    records,
    regauto,
    registry_bytes,
    snapshot,
    sync,
)

ID_RE = re.compile(r"^[0-9]{16}$")
HEADER_RE = re.compile(r"^# doc_id: ([0-9]{16})$")
KEPT = "2025010112000001"
KEPT_HEADER = "2025010112000002"

MIXED: dict[str, str | bytes] = {
    "README.md": "# Project\n\nThe readme.\n",
    "docs/design.md": "---\ntitle: Design\nstatus: draft\n---\n# Design notes\n\n## Goals\n",
    "docs/-dash.md": "# Dash\n",
    "docs/café-ünïcode.md": "# Café\n",
    "docs/guide/intro.txt": "An introduction.\n",
    "pkg/__init__.py": '"""The package."""\n__all__ = ["run"]\n',
    "pkg/core.py": (
        '"""Core logic.\n\nMore text."""\nimport os\nfrom json import dumps\n\n\n'
        "class Engine:\n    def start(self):\n        return os.getcwd()\n\n\n"
        "def run():\n    return dumps(Engine().start())\n"
    ),
    "pkg/broken.py": "def broken(:\n    pass\n",
    "scripts/tool.py": "#!/usr/bin/env python3\nprint('tool')\n",
    "tests/test_core.py": "from pkg.core import run\n\n\ndef test_run():\n    assert run()\n",
    "config/settings.json": '{"name": "x", "n": 1}\n',
    "data/blob.bin": bytes(range(256)) * 4,
    "notes/日本語.txt": "非ASCIIの名前\n",
}


def build_mixed(tmp_path: Path, repo: Path) -> None:
    """MIXED plus an executable, a symlink out of the repository and a FIFO."""
    make_tree(repo, MIXED)
    os.chmod(repo / "scripts/tool.py", 0o755)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP SECRET outside the repository\n")
    os.symlink("../outside/secret.txt", repo / "escape")
    os.mkfifo(repo / "pipe.fifo")


def prefixed(repo: Path, folder: str, name: str) -> str:
    """The one path in ``folder`` named ``<id>_<name>``."""
    found = [p.name for p in (repo / folder).iterdir() if p.name[17:] == name]
    assert len(found) == 1, f"{folder}/{name}: {found}"
    return f"{folder}/{found[0]}"


@pytest.fixture
def mixed(tmp_path: Path, git_repo: Path) -> Path:
    build_mixed(tmp_path, git_repo)
    sync(git_repo, "--all")
    return git_repo


def test_mixed_tree_registers_every_included_file_once(tmp_path: Path, mixed: Path) -> None:
    repo = mixed
    recs = records(repo)
    paths = [r["path"] for r in recs]
    assert len(paths) == len(set(paths)) == len(MIXED) + 1  # + the symlink
    assert set(paths) == documents_on_disk(repo)
    ids = [r["doc_id"] for r in recs]
    assert len(set(ids)) == len(ids) and all(ID_RE.match(i) for i in ids)
    reg = by_path(repo)

    # Docs carry their id as a prefix; the name after it is the original, bytes intact.
    for name in ("design.md", "-dash.md", "café-ünïcode.md"):
        path = prefixed(repo, "docs", name)
        assert reg[path]["id_mode"] == "prefix" and path == f"docs/{reg[path]['doc_id']}_{name}"
        assert (repo / path).read_text(encoding="utf-8") == MIXED[f"docs/{name}"]
        assert not (repo / "docs" / name).exists()
    intro = prefixed(repo, "docs/guide", "intro.txt")
    assert reg[intro]["role"] == "doc"
    design = reg[prefixed(repo, "docs", "design.md")]
    assert design["kind"] == "markdown" and "Goals" in design["descriptor"]["headings"]

    # Python files carry a header; a shebang stays first; nothing Python is renamed.
    for path in ("pkg/__init__.py", "pkg/core.py", "pkg/broken.py", "tests/test_core.py"):
        lines = (repo / path).read_text(encoding="utf-8").splitlines()
        assert HEADER_RE.match(lines[0]), path
        assert HEADER_RE.match(lines[0]).group(1) == reg[path]["doc_id"]  # type: ignore[union-attr]
        assert reg[path]["id_mode"] == "header"
    tool = (repo / "scripts/tool.py").read_text(encoding="utf-8").splitlines()
    assert tool[0] == "#!/usr/bin/env python3"
    assert tool[1] == f"# doc_id: {reg['scripts/tool.py']['doc_id']}"
    assert tool[2:] == ["print('tool')"]
    assert os.stat(repo / "scripts/tool.py").st_mode & 0o111, "executable bit lost"
    assert reg["scripts/tool.py"]["role"] == "script"
    assert reg["tests/test_core.py"]["role"] == "test"
    core = reg["pkg/core.py"]["descriptor"]
    assert core["summary"] == "Core logic."
    assert set(core["imports"]) >= {"os", "json"}
    assert "error" not in core
    assert "error" in reg["pkg/broken.py"]["descriptor"]

    # Never renamed; README in registry mode, untouched.
    assert reg["README.md"]["id_mode"] == "registry"
    assert (repo / "README.md").read_text() == MIXED["README.md"]
    assert reg["notes/日本語.txt"]["id_mode"] == "registry"
    assert reg["data/blob.bin"]["kind"] == "binary"
    assert reg["data/blob.bin"]["descriptor"] == {}

    # The symlink: recorded as git records it, never followed.
    link = reg["escape"]
    assert link["kind"] == "symlink" and link["id_mode"] == "registry"
    assert link["size"] == len("../outside/secret.txt") and link["descriptor"] == {}
    assert os.readlink(repo / "escape") == "../outside/secret.txt"
    assert "TOP SECRET" not in "".join(b.decode() for b in registry_bytes(repo).values())
    assert (tmp_path / "outside/secret.txt").read_text().startswith("TOP SECRET")

    # The FIFO: skipped, not recorded, still a FIFO.
    assert "pipe.fifo" not in reg
    assert (repo / "pipe.fifo").is_fifo()

    # Every blob and size is what git stores for the file (a symlink: its link text).
    stored = git_blobs(repo)
    for path, rec in reg.items():
        _mode, blob = stored[path]
        assert rec["blob"] == blob, path
        assert rec["size"] == (repo / path).lstat().st_size, path
    assert stored["escape"][0] == "120000"


def test_naming_a_fifo_or_a_dash_file_explicitly(tmp_path: Path, git_repo: Path) -> None:
    build_mixed(tmp_path, git_repo)
    proc = sync(git_repo, "pipe.fifo", "--", "docs/-dash.md")
    assert "skipped pipe.fifo" in proc.stderr
    assert [r["path"] for r in records(git_repo)] == [prefixed(git_repo, "docs", "-dash.md")]
    dash = prefixed(git_repo, "docs", "-dash.md")
    (git_repo / dash).unlink()
    (git_repo / "-top.md").write_text("# top\n")  # cwd-relative, looks like an option
    sync(git_repo, "--", "-top.md", "pipe.fifo", dash)
    assert sorted(by_path(git_repo)) == ["-top.md"]


def test_claimed_ids_are_kept(git_repo: Path) -> None:
    make_tree(git_repo, {
        f"docs/{KEPT}_kept.md": "# Kept\n",
        "pkg/claimed.py": f"# doc_id: {KEPT_HEADER}\nX = 1\n",
        "docs/new.md": "# New\n",
    })
    before = snapshot(git_repo)
    sync(git_repo, "--all")
    ids = ids_by_path(git_repo)
    assert ids[f"docs/{KEPT}_kept.md"] == KEPT
    assert ids["pkg/claimed.py"] == KEPT_HEADER
    after = snapshot(git_repo)
    for path in (f"docs/{KEPT}_kept.md", "pkg/claimed.py"):
        assert after[path] == before[path], f"{path} was touched"
    new = prefixed(git_repo, "docs", "new.md")
    assert ids[new] not in (KEPT, KEPT_HEADER)


def test_second_sync_changes_nothing(mixed: Path) -> None:
    before = snapshot(mixed)
    hash_before = regauto(mixed, "hash").stdout
    proc = sync(mixed, "--all")
    assert "up to date" in proc.stderr
    assert regauto(mixed, "hash").stdout == hash_before
    assert snapshot(mixed) == before


def test_fresh_clones_produce_byte_identical_registries(tmp_path: Path, mixed: Path) -> None:
    commit_all(mixed)
    original = registry_bytes(mixed)
    clones = []
    for name in ("clone-a", "a-clone-with-a-longer-path/clone-b"):
        clone = tmp_path / name
        clone.parent.mkdir(parents=True, exist_ok=True)
        git(tmp_path, "clone", "-q", str(mixed), str(clone))
        before = snapshot(clone)
        proc = sync(clone, "--all")
        assert "up to date" in proc.stderr
        assert snapshot(clone) == before, "sync --all in a fresh clone touched a file"
        assert git(clone, "status", "--porcelain") == ""
        clones.append(clone)
    assert registry_bytes(clones[0]) == registry_bytes(clones[1]) == original

    # Rebuilt from nothing, the ids that files carry come back, and every other field
    # is a function of the tree alone.
    shutil.rmtree(clones[1] / ".regauto")
    initialise(clones[1])  # an empty registry, as `regauto init` leaves it
    sync(clones[1], "--all")
    rebuilt, first = by_path(clones[1]), by_path(clones[0])
    assert set(rebuilt) == set(first)
    for path, rec in first.items():
        if rec["id_mode"] == "registry":
            rec = {**rec, "doc_id": rebuilt[path]["doc_id"]}
        assert rebuilt[path] == rec, path
    assert git(clones[1], "status", "--porcelain", "--", ":!.regauto") == ""


@pytest.fixture
def committed(git_repo: Path) -> Path:
    make_tree(git_repo, {
        "docs/a.md": "# A\n",
        "docs/b.md": "# B\n",
        "docs/c.md": "# C\n",
        "pkg/mod.py": '"""Module."""\n',
        "pkg/other.py": "def f():\n    pass\n",
        "data/blob.bin": b"\x00\x01binary\xff" * 10,
        "notes/n.txt": "a note\n",
        "README.md": "# readme\n",
    })
    sync(git_repo, "--all")
    commit_all(git_repo, "registered")
    return git_repo


@pytest.mark.parametrize("how", ["all", "paths"])
def test_edit_delete_move_keep_ids(committed: Path, how: str) -> None:
    repo = committed
    a, b, c = (prefixed(repo, "docs", n) for n in ("a.md", "b.md", "c.md"))
    before = ids_by_path(repo)
    (repo / a).write_text("# A, edited\n\nmore\n")
    (repo / "pkg/other.py").write_text((repo / "pkg/other.py").read_text() + "\ndef g():\n"
                                       "    pass\n")
    (repo / c).unlink()
    (repo / "docs/archive").mkdir()
    moved_b = f"docs/archive/{b.split('/')[-1]}"
    os.rename(repo / b, repo / moved_b)                       # plain mv, prefix mode
    git(repo, "mv", "pkg/mod.py", "pkg/renamed.py")            # git mv, header mode
    os.rename(repo / "data/blob.bin", repo / "data/moved.bin")  # plain mv, registry mode
    (repo / "archive").mkdir()
    git(repo, "mv", "notes/n.txt", "archive/n.txt")            # git mv, registry mode
    files_before = snapshot(repo)

    if how == "all":
        sync(repo, "--all")
    else:
        sync(repo, a, "pkg/other.py", c, b, moved_b, "pkg/mod.py", "pkg/renamed.py",
             "data/blob.bin", "data/moved.bin", "notes/n.txt", "archive/n.txt")

    after = by_path(repo)
    assert after[a]["doc_id"] == before[a]
    assert after["pkg/other.py"]["doc_id"] == before["pkg/other.py"]
    assert after[moved_b]["doc_id"] == before[b]
    assert after["pkg/renamed.py"]["doc_id"] == before["pkg/mod.py"]
    assert after["data/moved.bin"]["doc_id"] == before["data/blob.bin"]
    assert after["archive/n.txt"]["doc_id"] == before["notes/n.txt"]
    for gone in (b, c, "pkg/mod.py", "data/blob.bin", "notes/n.txt"):
        assert gone not in after
    assert before[c] not in {r["doc_id"] for r in after.values()}
    assert len(after) == len(before) - 1
    assert set(after) == documents_on_disk(repo)
    assert after[a]["descriptor"]["title"] == "A, edited"
    assert after[a]["descriptor"]["lines"] == 3
    assert after["pkg/other.py"]["descriptor"]["functions"] == ["f()", "g()"]
    stored = git_blobs(repo)
    assert all(rec["blob"] == stored[p][1] for p, rec in after.items())
    # Ids were kept, so no file was renamed or rewritten.
    assert {p: v for p, v in snapshot(repo).items() if not p.startswith(".regauto/")} == {
        p: v for p, v in files_before.items() if not p.startswith(".regauto/")}
    hash_now = regauto(repo, "hash").stdout
    sync(repo, "--all")
    assert regauto(repo, "hash").stdout == hash_now


@pytest.mark.parametrize(("cwd", "arg"), [(".", "docs"), ("docs", "."), ("pkg", "../docs/")])
def test_sync_of_a_folder_notices_deletions_and_moves_inside_it(
    committed: Path, cwd: str, arg: str
) -> None:
    repo = committed
    before = ids_by_path(repo)
    c = prefixed(repo, "docs", "c.md")
    b = prefixed(repo, "docs", "b.md")
    (repo / c).unlink()
    (repo / "docs/sub").mkdir()
    moved = f"docs/sub/{b.split('/')[-1]}"
    os.rename(repo / b, repo / moved)
    (repo / "pkg/mod.py").unlink()  # outside the folder: left for another sync
    proc = regauto(repo / cwd, "sync", arg)
    assert proc.returncode == 0, proc.stderr
    after = ids_by_path(repo)
    assert c not in after and b not in after
    assert after[moved] == before[b]
    assert after["pkg/mod.py"] == before["pkg/mod.py"]
    # A folder that is gone stands for the records under it.
    shutil.rmtree(repo / "docs/sub")
    sync(repo, "docs/sub")
    assert moved not in ids_by_path(repo)
    sync(repo, "pkg")
    assert set(ids_by_path(repo)) == documents_on_disk(repo)


@pytest.mark.parametrize("how", ["all", "copy-only"])
def test_a_copy_gets_a_new_id(committed: Path, how: str) -> None:
    repo = committed
    a = prefixed(repo, "docs", "a.md")
    original = a.split("/")[-1]  # "<id>_a.md"
    old = ids_by_path(repo)
    # Copies whose names sort before and after the original's, and a copied header.
    early, late = f"docs/{original[:17]}0-early.md", f"docs/{original[:17]}z-late.md"
    shutil.copy(repo / a, repo / early)
    shutil.copy(repo / a, repo / late)
    shutil.copy(repo / "pkg/mod.py", repo / "pkg/mod_copy.py")
    if how == "all":
        sync(repo, "--all")
    else:
        sync(repo, early, late, "pkg/mod_copy.py")
    reg = by_path(repo)
    assert reg[a]["doc_id"] == old[a]
    assert reg["pkg/mod.py"]["doc_id"] == old["pkg/mod.py"]
    assert not (repo / early).exists() and not (repo / late).exists()
    new_early = prefixed(repo, "docs", "0-early.md")
    new_late = prefixed(repo, "docs", "z-late.md")
    new_ids = {reg[new_early]["doc_id"], reg[new_late]["doc_id"], reg["pkg/mod_copy.py"]["doc_id"]}
    assert len(new_ids) == 3 and not new_ids & set(old.values())
    header = (repo / "pkg/mod_copy.py").read_text().splitlines()[0]
    assert header == f"# doc_id: {reg['pkg/mod_copy.py']['doc_id']}"
    assert (repo / "pkg/mod.py").read_text().splitlines()[0] == f"# doc_id: {old['pkg/mod.py']}"
    assert set(reg) == documents_on_disk(repo)
    assert len({r["doc_id"] for r in reg.values()}) == len(reg)


@pytest.mark.parametrize(
    ("cwd", "args"),
    [
        (".", ["../outside"]),
        (".", ["../outside/file.md"]),
        (".", [".git/config"]),
        (".", [".git"]),
        ("docs", ["../.git/HEAD"]),
        (".", ["ABSOLUTE_OUTSIDE"]),
        (".", ["--all", "docs"]),
        (".", []),
        (".", ["nonexistent.md"]),
        (".", ["nonexistent.md", "docs/typo.md"]),  # every path unknown: a mistake
    ],
)
def test_bad_input_exits_2_and_changes_nothing(
    tmp_path: Path, committed: Path, cwd: str, args: list[str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file.md").write_text("# outside\n")
    (committed / "docs/new.md").write_text("# would be registered and renamed\n")
    args = [str(outside / "file.md") if a == "ABSOLUTE_OUTSIDE" else a for a in args]
    before = snapshot(committed)
    outside_before = snapshot(outside)
    proc = regauto(committed / cwd, "sync", *args)
    assert proc.returncode == 2, proc
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("regauto: error: "), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert snapshot(committed) == before
    assert snapshot(outside) == outside_before


def test_a_path_neither_on_disk_nor_recorded_is_refused_but_a_deletion_is_not(
    committed: Path,
) -> None:
    repo = committed
    (repo / "docs/new.md").write_text("# would be registered and renamed\n")
    hash_before = regauto(repo, "hash").stdout
    proc = regauto(repo, "sync", "nonexistent.md", "docs/typo.md")
    assert proc.returncode == 2, proc
    assert proc.stderr == ("regauto: error: nonexistent.md, docs/typo.md: no such file, and "
                           "no record in the registry\n")
    assert regauto(repo, "hash").stdout == hash_before

    # Beside a valid path, an unknown one may be a deletion another regauto process has
    # registered already (concurrent syncs, the hook): the valid ones are processed and the
    # unknown ones named in one warning line.
    proc = sync(repo, "docs/new.md", "nonexistent.md", "docs/typo.md")
    assert ("regauto: warning: nonexistent.md, docs/typo.md: no such file, and no record in "
            "the registry (a typo, or already handled): nothing to do") in proc.stderr
    assert not (repo / "docs/new.md").exists()
    assert prefixed(repo, "docs", "new.md") in ids_by_path(repo)

    # Renamed away by regauto (here by the sync above; as well by a concurrent one, or the
    # hook): the name the user gave was right, nothing to refuse and nothing to do.
    hash_before = regauto(repo, "hash").stdout
    again = sync(repo, "docs/new.md")
    assert again.returncode == 0 and regauto(repo, "hash").stdout == hash_before

    # Gone but recorded: a deletion, registered as ever.
    c = prefixed(repo, "docs", "c.md")
    (repo / c).unlink()
    sync(repo, c)
    assert c not in ids_by_path(repo)

    # Excluded: not regauto's business, there or not (as an existing excluded file).
    (repo / "regauto.toml").write_text('exclude = ["build/**"]\n')
    hash_before = regauto(repo, "hash").stdout
    proc = sync(repo, "build/nothere.js")
    assert "registry up to date" in proc.stderr
    assert regauto(repo, "hash").stdout == hash_before


def test_init_then_sync_and_a_clone_that_inits_again(tmp_path: Path, git_repo: Path) -> None:
    make_tree(git_repo, {"docs/a.md": "# A\n", "pkg/m.py": "X = 1\n", "README.md": "# r\n"})
    assert regauto(git_repo, "init").returncode == 0
    sync(git_repo, "--all")
    again = regauto(git_repo, "init")
    assert again.returncode == 0 and "nothing to do" in again.stderr
    reg = by_path(git_repo)
    assert {"regauto.toml", ".gitattributes", "pkg/m.py", "README.md"} <= set(reg)
    commit_all(git_repo)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(git_repo), str(clone))
    before = snapshot(clone)
    assert regauto(clone, "init").returncode == 0  # the merge driver's git config only
    assert "up to date" in sync(clone, "--all").stderr
    assert snapshot(clone) == before
    assert git(clone, "status", "--porcelain") == ""
    assert registry_bytes(clone) == registry_bytes(git_repo)


def test_files_changing_during_a_sync_are_recorded_as_they_end_up(git_repo: Path) -> None:
    """Between the scan and the disk jobs a file is edited, one vanishes and one becomes a
    FIFO: records describe what is on disk, and the odd ones are skipped without a hang."""
    from regauto.automation.pipeline import Pipeline
    from regauto.project import Project

    make_tree(git_repo, {
        "notes/edited.txt": "one\n", "notes/gone.txt": "bye\n", "notes/fifo.txt": "x\n",
        "pkg/edited.py": "X = 1\n",
    })

    class Racy(Pipeline):
        def _allocate(self, n: int) -> list[str]:
            ids = super()._allocate(n)
            (git_repo / "notes/edited.txt").write_text("one\ntwo\nthree\n")
            (git_repo / "pkg/edited.py").write_text('"""Now documented."""\nX = 2\n')
            (git_repo / "notes/gone.txt").unlink()
            (git_repo / "notes/fifo.txt").unlink()
            os.mkfifo(git_repo / "notes/fifo.txt")
            return ids

    paths = ["notes/edited.txt", "notes/gone.txt", "notes/fifo.txt", "pkg/edited.py"]
    result = Racy(Project.open(git_repo)).run(paths)
    assert set(result.skipped) == {"notes/gone.txt", "notes/fifo.txt"}
    reg = by_path(git_repo)
    assert set(reg) == {"notes/edited.txt", "pkg/edited.py"}
    stored = git_blobs(git_repo)
    for path in reg:
        assert reg[path]["blob"] == stored[path][1]
        assert reg[path]["size"] == (git_repo / path).stat().st_size
    assert reg["notes/edited.txt"]["descriptor"] == {"lines": 3}
    py = (git_repo / "pkg/edited.py").read_text().splitlines()
    assert py[0] == f"# doc_id: {reg['pkg/edited.py']['doc_id']}" and py[-1] == "X = 2"
    assert reg["pkg/edited.py"]["descriptor"]["summary"] == "Now documented."


def test_a_batch_large_enough_for_worker_processes(git_repo: Path) -> None:
    from regauto.automation import disk_jobs

    n = disk_jobs.PARALLEL_MIN // 3 + 1
    files: dict[str, str | bytes] = {}
    for i in range(n):
        files[f"pkg/m{i}.py"] = f'"""Module {i}."""\n\ndef f{i}():\n    pass\n'
        files[f"docs/d{i}.md"] = f"# Doc {i}\n"
        files[f"data/x{i}.json"] = f'{{"i": {i}}}\n'
    make_tree(git_repo, files)
    sync(git_repo, "--all")
    reg = by_path(git_repo)
    assert len(reg) == len(files) and set(reg) == documents_on_disk(git_repo)
    assert len({r["doc_id"] for r in reg.values()}) == len(reg)
    stored = git_blobs(git_repo)
    for path, rec in reg.items():
        assert rec["blob"] == stored[path][1], path
    for i in range(n):
        py = reg[f"pkg/m{i}.py"]
        assert (git_repo / f"pkg/m{i}.py").read_text().startswith(f"# doc_id: {py['doc_id']}\n")
        assert py["descriptor"]["functions"] == [f"f{i}()"]
        doc = prefixed(git_repo, "docs", f"d{i}.md")
        assert reg[doc]["descriptor"]["title"] == f"Doc {i}"
    before = snapshot(git_repo)
    assert "up to date" in sync(git_repo, "--all").stderr
    assert snapshot(git_repo) == before


def test_sync_all_notices_a_deletion_recorded_in_a_hand_edited_line(committed: Path) -> None:
    """``sync --all`` reads recorded paths from the lines' canonical prefixes; a line of
    another shape (keys reordered by hand) is still read."""
    import json

    repo = committed
    shard = next(p for p in sorted((repo / ".regauto/registry").glob("*.jsonl"))
                 if '"notes/n.txt"' in p.read_text())
    lines = shard.read_text().splitlines()
    i = next(k for k, ln in enumerate(lines) if '"notes/n.txt"' in ln)
    rec = json.loads(lines[i])
    lines[i] = json.dumps(dict(reversed(list(rec.items()))), ensure_ascii=False)
    shard.write_text("\n".join(lines) + "\n")
    (repo / "notes/n.txt").unlink()
    sync(repo, "--all")
    assert "notes/n.txt" not in by_path(repo)
    assert set(by_path(repo)) == documents_on_disk(repo)
