"""The reconciler end to end (SPEC §8.2): one real repository per drift kind.

Each test makes the drift the way it happens to a user (an edit, a move, a merge that left
two records, a hand edit of a shard, a watcher that registered a file without renaming it),
then: ``check --format json`` reports exactly it (kind, path, doc_id); ``fix`` repairs it;
a second ``fix`` changes nothing (no output, no byte of the tree or the registry); ``check``
exits 0.  Registries are read straight from their files, never through regauto.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import git, initialise, make_tree
from pipeline_helpers import REGISTRY, by_path, commit_all, records, regauto, snapshot, sync
from regauto.automation import pipeline
from regauto.project import Project
from registry_helpers import canonical_line, shard_name

BASE: dict[str, str | bytes] = {
    "README.md": "# Project\n",
    "data/table.csv": "a,b\n1,2\n",
    "notes/plan.txt": "The plan.\n",
    "docs/guide.md": "# Guide\n\nHow to.\n",
    "pkg/core.py": '"""Core."""\n\n\ndef run():\n    return 1\n',
}


def setup_repo(repo: Path, files: dict[str, str | bytes] | None = None,
               config: str | None = None, commit: bool = True) -> dict[str, str]:
    """Build, register and commit a tree; the ids by path."""
    make_tree(repo, files if files is not None else BASE)
    if config is not None:
        (repo / "regauto.toml").write_text(config)
    sync(repo, "--all")
    if commit:
        commit_all(repo)
    return ids(repo)


def ids(repo: Path) -> dict[str, str]:
    return {r["path"]: r["doc_id"] for r in records(repo)}


def path_of(repo: Path, start: str) -> str:
    """The registered path that ``start`` became (prefix mode renames)."""
    (hit,) = [p for p in ids(repo) if p.startswith(start.rsplit("/", 1)[0] + "/")
              and p.endswith("_" + start.rsplit("/", 1)[1])]
    return hit


def check_json(repo: Path) -> list[dict[str, Any]]:
    proc = regauto(repo, "check", "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    data = json.loads(proc.stdout)
    assert (proc.returncode == 1) == bool(data)
    return data


def reports_exactly(repo: Path, *expected: tuple[str, str, str | None]) -> list[dict[str, Any]]:
    found = check_json(repo)
    assert [(d["kind"], d["path"], d["doc_id"]) for d in found] == list(expected), found
    assert all(d["detail"] for d in found)
    return found


def state(repo: Path) -> dict[str, Any]:
    """Every file of the tree and the registry (not git's or regauto's state dir)."""
    snap = snapshot(repo)
    return {p: v for p, v in snap.items() if not p.startswith((".git/", ".regauto/state/"))}


def fixes(repo: Path) -> str:
    """``fix`` repairs; a second ``fix`` says and changes nothing; ``check`` is clean."""
    first = regauto(repo, "fix")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip(), "fix said nothing about what it did"
    before = state(repo)
    second = regauto(repo, "fix")
    assert second.returncode == 0, second.stderr
    assert second.stdout == "", second.stdout
    assert state(repo) == before, "a second fix changed something"
    final = regauto(repo, "check", "--format", "json")
    assert final.returncode == 0, final.stdout + final.stderr
    assert json.loads(final.stdout) == []
    return first.stdout


def add_line(repo: Path, rec: dict[str, Any], shard: str | None = None) -> None:
    """Put a canonical record line into a shard in path order, as a textual merge would."""
    name = shard or shard_name(rec["path"])
    f = repo / REGISTRY / name
    lines = f.read_text().splitlines() if f.exists() else []
    lines.append(canonical_line(rec))
    lines.sort(key=lambda ln: json.loads(ln)["path"].encode())
    f.write_text("".join(ln + "\n" for ln in lines))


def record_of(repo: Path, path: str) -> dict[str, Any]:
    return by_path(repo)[path]


# -- the tree side ----------------------------------------------------------------------------
def test_clean_repository_checks_clean_and_fix_does_nothing(git_repo: Path) -> None:
    setup_repo(git_repo)
    assert check_json(git_repo) == []
    before = state(git_repo)
    proc = regauto(git_repo, "fix")
    assert proc.returncode == 0 and proc.stdout == ""
    assert state(git_repo) == before


def test_untracked(git_repo: Path) -> None:
    setup_repo(git_repo)
    make_tree(git_repo, {"notes/new.txt": "New.\n"})
    reports_exactly(git_repo, ("untracked", "notes/new.txt", None))
    out = fixes(git_repo)
    assert "notes/new.txt" in out
    assert "notes/new.txt" in ids(git_repo)


def test_untracked_prefix_file_is_registered_and_renamed(git_repo: Path) -> None:
    setup_repo(git_repo)
    make_tree(git_repo, {"docs/new.md": "# New\n"})
    reports_exactly(git_repo, ("untracked", "docs/new.md", None))
    fixes(git_repo)
    new = path_of(git_repo, "docs/new.md")
    assert (git_repo / new).is_file() and not (git_repo / "docs/new.md").exists()


def test_untracked_name_that_cannot_be_processed_fix_says_so_and_exits_1(
        git_repo: Path) -> None:
    """The registry is UTF-8 JSON: a name that is not UTF-8 cannot be recorded.  ``check``
    reports it; ``fix`` repairs the rest, names it with why, exits 1 — and says the same
    again, changing nothing, until the file is renamed."""
    setup_repo(git_repo)
    bad = os.fsdecode(b"docs/caf\xe9.md")
    make_tree(git_repo, {bad: "# Caf\xe9\n", "notes/new.txt": "New.\n"})
    # One spelling of the name throughout: the file system's byte as \xNN.
    line = ("regauto: could not repair docs/caf\\xe9.md: path: file name 'docs/caf\\xe9.md' "
            "is not valid UTF-8; rename it to register it")

    proc = regauto(git_repo, "check", "--format", "json", errors="surrogateescape")
    assert proc.returncode == 1, proc.stderr
    found = [(d["kind"], d["path"]) for d in json.loads(proc.stdout)]
    assert found == [("untracked", bad), ("untracked", "notes/new.txt")]

    dry = regauto(git_repo, "fix", "--dry-run")
    assert dry.returncode == 1, dry.stderr
    assert dry.stdout.startswith("would fix untracked notes/new.txt: ")
    assert dry.stderr.splitlines() == [line.replace("could not", "cannot")]

    first = regauto(git_repo, "fix")
    assert first.returncode == 1, first.stderr
    assert "registered notes/new.txt as " in first.stdout
    assert "notes/new.txt" in ids(git_repo) and not any("caf" in p for p in ids(git_repo))
    assert first.stderr.splitlines() == [line, "repaired 1 drift(s)"]

    hash_before, before = regauto(git_repo, "hash").stdout, state(git_repo)
    second = regauto(git_repo, "fix")
    assert (second.returncode, second.stdout, second.stderr) == (1, "", line + "\n")
    assert regauto(git_repo, "hash").stdout == hash_before
    assert state(git_repo) == before

    proc = regauto(git_repo, "check", "--format", "json", errors="surrogateescape")
    assert proc.returncode == 1, proc.stderr
    assert [(d["kind"], d["path"]) for d in json.loads(proc.stdout)] == [("untracked", bad)]


def test_missing(git_repo: Path) -> None:
    before = setup_repo(git_repo)
    (git_repo / "notes/plan.txt").unlink()
    reports_exactly(git_repo, ("missing", "notes/plan.txt", before["notes/plan.txt"]))
    fixes(git_repo)
    assert "notes/plan.txt" not in ids(git_repo)


@pytest.mark.parametrize("how", ["mv", "git mv", "edited header file"])
def test_moved_keeps_the_doc_id(git_repo: Path, how: str) -> None:
    before = setup_repo(git_repo)
    if how == "edited header file":
        old, new = "pkg/core.py", "pkg/engine.py"
        (git_repo / old).rename(git_repo / new)
        with open(git_repo / new, "a") as f:
            f.write("\n\ndef more():\n    return 2\n")
    else:
        old, new = "notes/plan.txt", "notes/later/plan.txt"
        (git_repo / "notes/later").mkdir()
        if how == "git mv":
            git(git_repo, "mv", old, new)
        else:
            (git_repo / old).rename(git_repo / new)
    found = reports_exactly(git_repo, ("moved", new, before[old]))
    assert old in found[0]["detail"]
    fixes(git_repo)
    after = ids(git_repo)
    assert after[new] == before[old] and old not in after


def test_modified(git_repo: Path) -> None:
    before = setup_repo(git_repo)
    (git_repo / "data/table.csv").write_text("a,b\n1,2\n3,4\n")
    reports_exactly(git_repo, ("modified", "data/table.csv", before["data/table.csv"]))
    fixes(git_repo)
    rec = record_of(git_repo, "data/table.csv")
    assert rec["doc_id"] == before["data/table.csv"] and rec["size"] == 12


def _register_without_mutating(repo: Path, *paths: str) -> None:
    """What the watcher does by default (SPEC §8.5): register, leave renames and headers."""
    pipeline.sync(Project.open(repo), list(paths), mutate=False)


def test_misnamed(git_repo: Path) -> None:
    setup_repo(git_repo)
    make_tree(git_repo, {"docs/watched.md": "# Watched\n"})
    _register_without_mutating(git_repo, "docs/watched.md")
    doc = ids(git_repo)["docs/watched.md"]
    reports_exactly(git_repo, ("misnamed", "docs/watched.md", doc))
    fixes(git_repo)
    assert ids(git_repo).get(f"docs/{doc}_watched.md") == doc
    assert not (git_repo / "docs/watched.md").exists()


def test_misnamed_whose_new_name_is_taken_fix_says_so_and_exits_1(git_repo: Path) -> None:
    """A rename the renamer must refuse (its destination exists) is drift fix cannot
    repair: the same line and exit 1 on every run; once the way is clear, fix repairs it."""
    setup_repo(git_repo)
    make_tree(git_repo, {"docs/watched.md": "# Watched\n"})
    _register_without_mutating(git_repo, "docs/watched.md")
    doc = ids(git_repo)["docs/watched.md"]
    (git_repo / f"docs/{doc}_watched.md").mkdir()  # an empty folder: no document
    reports_exactly(git_repo, ("misnamed", "docs/watched.md", doc))
    line = (f"regauto: could not repair docs/watched.md: not renamed: cannot rename "
            f"'docs/watched.md' to 'docs/{doc}_watched.md': the destination exists; nothing "
            "was changed\n")
    before = state(git_repo)
    for _ in range(2):
        proc = regauto(git_repo, "fix")
        assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", line)
        assert state(git_repo) == before
    (git_repo / f"docs/{doc}_watched.md").rmdir()
    fixes(git_repo)
    assert ids(git_repo).get(f"docs/{doc}_watched.md") == doc


def test_header_missing(git_repo: Path) -> None:
    setup_repo(git_repo)
    make_tree(git_repo, {"pkg/watched.py": "X = 1\n"})
    _register_without_mutating(git_repo, "pkg/watched.py")
    doc = ids(git_repo)["pkg/watched.py"]
    reports_exactly(git_repo, ("header_missing", "pkg/watched.py", doc))
    fixes(git_repo)
    assert (git_repo / "pkg/watched.py").read_text() == f"# doc_id: {doc}\nX = 1\n"
    assert ids(git_repo)["pkg/watched.py"] == doc


def test_header_mismatch_on_a_copy_registered_by_the_watcher(git_repo: Path) -> None:
    before = setup_repo(git_repo)
    shutil.copy(git_repo / "pkg/core.py", git_repo / "pkg/copy.py")
    _register_without_mutating(git_repo, "pkg/copy.py")
    doc = ids(git_repo)["pkg/copy.py"]
    assert doc != before["pkg/core.py"]
    found = reports_exactly(git_repo, ("header_mismatch", "pkg/copy.py", doc))
    assert before["pkg/core.py"] in found[0]["detail"]
    fixes(git_repo)
    assert f"# doc_id: {doc}\n" in (git_repo / "pkg/copy.py").read_text()
    assert ids(git_repo)["pkg/core.py"] == before["pkg/core.py"]


def test_header_edited_to_another_id_takes_that_id(git_repo: Path) -> None:
    """SPEC §4.3: the id a file claims comes first — an unused id written into the header
    moves the record to it."""
    before = setup_repo(git_repo)
    claimed = "2025010112000007"
    text = (git_repo / "pkg/core.py").read_text().replace(before["pkg/core.py"], claimed)
    (git_repo / "pkg/core.py").write_text(text)
    reports_exactly(git_repo, ("header_mismatch", "pkg/core.py", before["pkg/core.py"]))
    fixes(git_repo)
    assert ids(git_repo)["pkg/core.py"] == claimed


# -- identity contests ---------------------------------------------------------------------
def test_duplicate_id_after_a_merge_the_first_recorded_path_keeps_it(git_repo: Path) -> None:
    before = setup_repo(git_repo)
    guide = path_of(git_repo, "docs/guide.md")
    doc = before[guide]
    twin = f"docs/{doc}_other.md"
    make_tree(git_repo, {twin: "# Other\n"})
    rec = dict(record_of(git_repo, guide), path=twin, blob=_blob(b"# Other\n"), size=8,
               descriptor={"headings": ["Other"], "lines": 1, "title": "Other"})
    add_line(git_repo, rec)  # both branches' records survived the merge, in two shards
    reports_exactly(git_repo, ("duplicate_id", twin, doc))
    fixes(git_repo)
    after = ids(git_repo)
    assert after[guide] == doc
    (renamed,) = [p for p in after if p.endswith("_other.md")]
    assert after[renamed] != doc and renamed == f"docs/{after[renamed]}_other.md"


def test_duplicate_id_copy_the_registry_holder_keeps_it(git_repo: Path) -> None:
    before = setup_repo(git_repo)
    guide = path_of(git_repo, "docs/guide.md")
    doc = before[guide]
    copy = f"docs/{doc}_a-copy.md"  # sorts before the original, but is not recorded
    shutil.copy(git_repo / guide, git_repo / copy)
    reports_exactly(git_repo, ("duplicate_id", copy, doc))
    fixes(git_repo)
    after = ids(git_repo)
    assert after[guide] == doc and copy not in after
    assert len([p for p in after if p.endswith("_a-copy.md")]) == 1


def test_duplicate_id_without_a_record_the_first_path_keeps_it(git_repo: Path) -> None:
    setup_repo(git_repo)
    doc = "2025010112000009"
    make_tree(git_repo, {f"docs/{doc}_b.md": "# B\n", f"docs/{doc}_a.md": "# A\n"})
    reports_exactly(git_repo, ("duplicate_id", f"docs/{doc}_b.md", doc),
                    ("untracked", f"docs/{doc}_a.md", doc))
    fixes(git_repo)
    after = ids(git_repo)
    assert after[f"docs/{doc}_a.md"] == doc
    assert f"docs/{doc}_b.md" not in after


def test_duplicate_path(git_repo: Path) -> None:
    before = setup_repo(git_repo)
    # An id later than every allocated one, but within the day ids may run ahead.
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=12)).strftime(
        "%Y%m%d%H%M") + "0001"
    rec = dict(record_of(git_repo, "notes/plan.txt"), doc_id=later)
    add_line(git_repo, rec)
    reports_exactly(git_repo, ("duplicate_path", "notes/plan.txt", later))
    fixes(git_repo)
    assert ids(git_repo)["notes/plan.txt"] == before["notes/plan.txt"]
    assert len(records(git_repo)) == len(before)


# -- the registry side ------------------------------------------------------------------------
def _rewrite_line(repo: Path, path: str, change: Any) -> None:
    f = repo / REGISTRY / shard_name(path)
    lines = f.read_text().splitlines()
    out = []
    for ln in lines:
        rec = json.loads(ln)
        out.append(change(rec) if rec["path"] == path else ln)
    f.write_text("".join(ln + "\n" for ln in out))


@pytest.mark.parametrize("field,value", [("blob", "not-a-blob"), ("role", "bogus"),
                                         ("extra", "stray key")])
def test_invalid_record_is_repaired_from_its_file(git_repo: Path, field: str,
                                                  value: str) -> None:
    before = setup_repo(git_repo)
    good = record_of(git_repo, "notes/plan.txt")

    def corrupt(rec: dict[str, Any]) -> str:
        rec[field] = value
        return json.dumps(rec, ensure_ascii=False, separators=(", ", ": "))

    _rewrite_line(git_repo, "notes/plan.txt", corrupt)
    reports_exactly(git_repo, ("invalid_record", "notes/plan.txt", before["notes/plan.txt"]))
    fixes(git_repo)
    assert record_of(git_repo, "notes/plan.txt") == good


def test_invalid_record_of_a_gone_file_is_dropped(git_repo: Path) -> None:
    before = setup_repo(git_repo)
    (git_repo / "notes/plan.txt").unlink()
    _rewrite_line(git_repo, "notes/plan.txt", lambda r: json.dumps({**r, "size": -1}))
    reports_exactly(git_repo, ("invalid_record", "notes/plan.txt", before["notes/plan.txt"]))
    fixes(git_repo)
    assert "notes/plan.txt" not in ids(git_repo)


def test_excluded(git_repo: Path) -> None:
    before = setup_repo(git_repo)
    (git_repo / "regauto.toml").write_text('exclude = ["data/**"]\n')
    sync(git_repo, "regauto.toml")
    reports_exactly(git_repo, ("excluded", "data/table.csv", before["data/table.csv"]))
    fixes(git_repo)
    assert "data/table.csv" not in ids(git_repo)
    assert (git_repo / "data/table.csv").exists()


def test_noncanonical_key_order(git_repo: Path) -> None:
    before = setup_repo(git_repo)
    _rewrite_line(git_repo, "notes/plan.txt",
                  lambda r: json.dumps(dict(sorted(r.items())), ensure_ascii=False))
    shard = f"{REGISTRY}/{shard_name('notes/plan.txt')}"
    reports_exactly(git_repo, ("noncanonical", shard, None))
    fixes(git_repo)
    assert ids(git_repo) == before


def test_noncanonical_unsorted_lines(git_repo: Path) -> None:
    files = {f"n/f{i}.txt": f"{i}\n" for i in range(40)}
    before = setup_repo(git_repo, files)
    f = max((git_repo / REGISTRY).glob("*.jsonl"), key=lambda p: len(p.read_text()))
    lines = f.read_text().splitlines()
    assert len(lines) > 1
    f.write_text("".join(ln + "\n" for ln in reversed(lines)))
    reports_exactly(git_repo, ("noncanonical", f"{REGISTRY}/{f.name}", None))
    fixes(git_repo)
    assert ids(git_repo) == before
    assert f.read_text().splitlines() == lines


def test_noncanonical_record_in_the_wrong_shard(git_repo: Path) -> None:
    before = setup_repo(git_repo)
    rec = record_of(git_repo, "notes/plan.txt")
    right = shard_name("notes/plan.txt")
    wrong = "00.jsonl" if right != "00.jsonl" else "01.jsonl"
    _rewrite_line(git_repo, "notes/plan.txt", lambda r: "")
    f = git_repo / REGISTRY / right
    f.write_text("".join(ln + "\n" for ln in f.read_text().splitlines() if ln))
    if not f.read_text():
        f.unlink()
    add_line(git_repo, rec, wrong)
    reports_exactly(git_repo, ("noncanonical", f"{REGISTRY}/{wrong}", None))
    fixes(git_repo)
    assert ids(git_repo) == before
    assert canonical_line(rec) in (git_repo / REGISTRY / right).read_text()
    assert not (git_repo / REGISTRY / wrong).exists()


def test_noncanonical_meta(git_repo: Path) -> None:
    before = setup_repo(git_repo)
    meta = git_repo / REGISTRY / "meta.json"
    meta.write_text(json.dumps(json.loads(meta.read_text()), indent=2))
    reports_exactly(git_repo, ("noncanonical", f"{REGISTRY}/meta.json", None))
    fixes(git_repo)
    assert meta.read_text() == '{"regauto": "registry", "schema": 1, "shards": 256}\n'
    assert ids(git_repo) == before


# -- generated outputs -----------------------------------------------------------------------
GEN = '[[generators]]\nname = "index"\noutput = "docs/INDEX.md"\nbuiltin = "markdown-index"\n'


def test_stale_output(git_repo: Path) -> None:
    setup_repo(git_repo, config=GEN)
    regauto(git_repo, "generate")
    (git_repo / "docs/INDEX.md").unlink()
    reports_exactly(git_repo, ("stale_output", "docs/INDEX.md", None))
    fixes(git_repo)
    assert (git_repo / "docs/INDEX.md").is_file()


def test_edited_output(git_repo: Path) -> None:
    setup_repo(git_repo, config=GEN)
    regauto(git_repo, "generate")
    with open(git_repo / "docs/INDEX.md", "a") as f:
        f.write("hand edit\n")
    reports_exactly(git_repo, ("edited_output", "docs/INDEX.md", None))
    fixes(git_repo)
    assert "hand edit" not in (git_repo / "docs/INDEX.md").read_text()


# -- formats, dry run, diff --------------------------------------------------------------------
def test_formats_dry_run_and_diff(git_repo: Path) -> None:
    setup_repo(git_repo)
    make_tree(git_repo, {"notes/new.txt": "New, with: commas.\n"})
    before = state(git_repo)
    text = regauto(git_repo, "check")
    assert text.returncode == 1 and "untracked" in text.stdout
    assert text.stdout.strip().splitlines()[-1].startswith("1 drift(s) found; run `regauto fix`")
    gh = regauto(git_repo, "check", "--format", "github")
    assert gh.returncode == 1
    assert gh.stdout.startswith("::error file=notes/new.txt,title=regauto untracked::")
    diff = regauto(git_repo, "check", "--diff")
    assert diff.returncode == 1
    assert "+{\"path\": \"notes/new.txt\", \"doc_id\": " in diff.stdout
    dry = regauto(git_repo, "fix", "--dry-run")
    assert dry.returncode == 1 and "notes/new.txt" in dry.stdout
    assert state(git_repo) == before, "check / --diff / --dry-run wrote something"
    fixes(git_repo)
    assert regauto(git_repo, "fix", "--dry-run").returncode == 0


def test_check_outside_git(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    make_tree(root, {"a.txt": "A\n", "docs/b.md": "# B\n"})
    initialise(root)
    sync(root, "--all")
    assert check_json(root) == []
    (root / "a.txt").write_text("changed\n")
    doc = ids(root)["a.txt"]
    reports_exactly(root, ("modified", "a.txt", doc))
    fixes(root)


# -- a registry that does not parse ---------------------------------------------------------
def _break_line(repo: Path, path: str, how: str) -> Path:
    f = repo / REGISTRY / shard_name(path)
    lines = f.read_text().splitlines()
    i = next(n for n, ln in enumerate(lines) if json.loads(ln)["path"] == path)
    lines[i] = lines[i][:-40] if how == "truncated" else "<<<<<<< HEAD"
    f.write_text("".join(ln + "\n" for ln in lines))
    return f


def test_malformed_check_names_file_and_line_and_fix_restores_from_backup(
    git_repo: Path,
) -> None:
    setup_repo(git_repo)
    make_tree(git_repo, {"notes/plan.txt": "The plan, revised.\n"})
    sync(git_repo, "notes/plan.txt")  # a second write to the shard: its first state is backed up
    before = ids(git_repo)
    f = _break_line(git_repo, "notes/plan.txt", "garbage")
    damaged = f.read_bytes()
    proc = regauto(git_repo, "check")
    assert proc.returncode == 2
    assert f"{f.name}:" in proc.stderr and "regauto fix" in proc.stderr
    assert proc.stderr.count("\n") == 1
    out = fixes(git_repo)
    assert f"restored {REGISTRY}/{f.name} from backup " in out
    assert ids(git_repo) == before
    quarantined = list((git_repo / ".git/regauto/quarantine").rglob(f.name))
    assert quarantined and quarantined[0].read_bytes() == damaged


def test_malformed_is_restored_from_git_when_no_backup_has_it(git_repo: Path) -> None:
    before = setup_repo(git_repo)
    shutil.rmtree(git_repo / ".git/regauto/backups")
    f = _break_line(git_repo, "notes/plan.txt", "garbage")
    out = fixes(git_repo)
    assert f"restored {REGISTRY}/{f.name} from the git index" in out
    assert ids(git_repo) == before


def test_malformed_without_backups_is_rebuilt_from_the_tree(git_repo: Path) -> None:
    before = setup_repo(git_repo, commit=False)
    shutil.rmtree(git_repo / ".git/regauto/backups")
    broken = {p for p in before if p.startswith(("pkg/", "notes/"))}
    for p in broken:
        _break_line(git_repo, p, "truncated")  # the start of the line is still legible
    out = fixes(git_repo)
    assert "rebuilt" in out and "no backup" in out
    assert ids(git_repo) == before  # header ids from the file, registry ids from the line


def test_malformed_garbage_without_backups_keeps_header_ids(git_repo: Path) -> None:
    before = setup_repo(git_repo, commit=False)
    shutil.rmtree(git_repo / ".git/regauto/backups")
    _break_line(git_repo, "pkg/core.py", "garbage")
    fixes(git_repo)
    assert ids(git_repo)["pkg/core.py"] == before["pkg/core.py"]


def _blob(data: bytes) -> str:
    import hashlib

    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_rename_into_a_name_another_rename_vacates(git_repo: Path) -> None:
    """The dry run simulates renames in order, as the real run makes them: ``docs/<X>_a.md``
    (a copy claiming X) moves away to its new id first, then ``docs/a.md`` takes the name."""
    setup_repo(git_repo)
    make_tree(git_repo, {"docs/a.md": "# A\n"})
    _register_without_mutating(git_repo, "docs/a.md")
    doc = ids(git_repo)["docs/a.md"]
    make_tree(git_repo, {f"docs/{doc}_a.md": "# A, copied\n"})
    reports_exactly(git_repo, ("duplicate_id", f"docs/{doc}_a.md", doc),
                    ("misnamed", "docs/a.md", doc))
    fixes(git_repo)
    after = ids(git_repo)
    assert after[f"docs/{doc}_a.md"] == doc
    assert (git_repo / f"docs/{doc}_a.md").read_text() == "# A\n"
    assert len(after) == len(BASE) + 1 + 1


def test_caches_never_hide_drift(git_repo: Path) -> None:
    """A clean check fills every cache (verdict, verified records, shard summaries, header
    claims); each later change is still seen, by the same library call ``check`` uses."""
    import os

    from regauto.reconcile.reconciler import Reconciler

    before = setup_repo(git_repo)

    def kinds() -> list[tuple[str, str]]:
        report = Reconciler(Project.open(git_repo)).check()
        return [(d.kind, d.path) for d in report.drifts]

    assert kinds() == [] and kinds() == []  # the second one from the caches
    (git_repo / "notes/plan.txt").write_text("edited\n")
    assert kinds() == [("modified", "notes/plan.txt")]
    git(git_repo, "checkout", "--", "notes/plan.txt")
    assert kinds() == []
    os.chmod(git_repo / "notes/plan.txt", 0o755)
    assert kinds() == [("modified", "notes/plan.txt")]
    os.chmod(git_repo / "notes/plan.txt", 0o644)
    assert kinds() == []
    _rewrite_line(git_repo, "notes/plan.txt",
                  lambda r: canonical_line({**r, "role": "test"}))
    assert kinds() == [("modified", "notes/plan.txt")]
    git(git_repo, "checkout", "--", REGISTRY)
    assert kinds() == []
    core = (git_repo / "pkg/core.py").read_text()
    (git_repo / "pkg/core.py").write_text(core.replace(f"# doc_id: {before['pkg/core.py']}\n", ""))
    assert kinds() == [("header_missing", "pkg/core.py"), ("modified", "pkg/core.py")]
    git(git_repo, "checkout", "--", "pkg/core.py")
    (git_repo / "regauto.toml").write_text('[[rules]]\nmatch = "notes/**"\nrole = "data"\n')
    assert ("modified", "notes/plan.txt") in kinds()
    (git_repo / "regauto.toml").unlink()
    assert kinds() == []
    make_tree(git_repo, {"ignored.txt": "x\n", ".gitignore": "ignored.txt\n"})
    assert kinds() == [("untracked", ".gitignore")]


def test_writer_preview_is_apply_without_the_write(tmp_path: Path) -> None:
    from registry_helpers import Registry, record, simple
    from registry_helpers import snapshot as folder

    reg = Registry(tmp_path)
    reg.writer().apply(simple(reg.hash(), {record(1)["doc_id"]: record(1)}))
    patch = simple(reg.hash(), {record(1)["doc_id"]: None, record(2)["doc_id"]: record(2)})
    before = folder(reg.dir)
    planned = reg.writer().preview(patch)
    assert folder(reg.dir) == before
    assert set(planned) >= {shard_name(record(1)["path"]), shard_name(record(2)["path"])}
    reg.writer().apply(patch)
    for name, (_old, new) in planned.items():
        f = reg.dir / name
        assert (f.read_text() if f.exists() else None) == new


def test_record_corrupted_into_another_records_id(git_repo: Path) -> None:
    """Two records share an id; one file claims its own id in its header: each file ends
    with its own id, and the stray line is gone (the pipeline leaves an unchanged record
    out of its patch — the plan must still remove the loser's line)."""
    before = setup_repo(git_repo)
    taken = before["notes/plan.txt"]
    _rewrite_line(git_repo, "pkg/core.py", lambda r: canonical_line({**r, "doc_id": taken}))
    reports_exactly(git_repo, ("header_mismatch", "pkg/core.py", taken))
    fixes(git_repo)
    assert ids(git_repo) == before
