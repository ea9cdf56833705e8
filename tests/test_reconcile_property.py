"""Property: whatever happens to a tree and its registry, ``fix`` brings them back together.

Hypothesis draws a sequence of mutations — add, edit, delete, move and copy files (a copy
keeping the id its name or header claims), stage everything, and hand-edit the registry
(shuffle a shard's lines, delete a line, corrupt a field, break a line) — applies them to a
freshly registered repository, then asserts:

1. after ``fix``, ``check`` is clean;
2. ``fix`` twice is ``fix`` once: the second changes no byte and reports nothing;
3. after ``fix``, the pipeline over every path (``sync --all``) changes nothing either;
4. no surviving document's doc_id changes, except where the id had nowhere to live: the
   loser of a duplicate (a copy, or a record corrupted into another's id), a file whose id
   lived only in a registry line that was deleted or corrupted, a registry-mode file both
   moved and edited, or moved while its record's blob was corrupted (SPEC §4.3 finds a
   move by its blob).

In-process (the library, not the CLI) for speed: one real git repository per example.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import git
from regauto.automation import pipeline
from regauto.project import Project
from regauto.reconcile.reconciler import Reconciler

REGISTRY = ".regauto/registry"
TOKEN = re.compile(r"token-(\d+)")
PREFIX = re.compile(r"^([0-9]{16})_")
DIRS = ("", "docs/", "notes/", "pkg/", "docs/deep/")
EXTS = (".txt", ".md", ".py")


@dataclass
class Model:
    root: Path
    origin: dict[int, int] = field(default_factory=dict)  # token -> original token
    true_id: dict[int, str] = field(default_factory=dict)  # original token -> its id
    exempt: set[int] = field(default_factory=set)  # original tokens allowed a new id
    moved: set[int] = field(default_factory=set)
    edited: set[int] = field(default_factory=set)
    next_token: int = 0

    def files(self) -> dict[str, int]:
        """Every document on disk -> its token."""
        out = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if d not in (".git", ".regauto")]
            for f in filenames:
                full = Path(dirpath) / f
                m = TOKEN.search(full.read_text(errors="replace"))
                if m:
                    out[full.relative_to(self.root).as_posix()] = int(m.group(1))
        return dict(sorted(out.items()))

    def new_token(self) -> int:
        self.next_token += 1
        return self.next_token


def carries(path: str) -> bool:
    """Does the file carry its id itself (a name prefix, or a Python header)?"""
    return bool(PREFIX.match(path.rsplit("/", 1)[-1])) or path.endswith(".py")


def parse(line: str) -> dict[str, Any] | None:
    """A record line as a dict with a string path and doc_id, else None (mutations may
    have broken or corrupted it)."""
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    ok = isinstance(rec, dict) and isinstance(rec.get("path"), str) and isinstance(
        rec.get("doc_id"), str)
    return rec if ok else None


def registry_ids(root: Path) -> dict[str, str]:
    out = {}
    for shard in sorted((root / REGISTRY).glob("*.jsonl")):
        for ln in shard.read_text().splitlines():
            rec = parse(ln)
            if rec is not None:
                out[rec["path"]] = rec["doc_id"]
    return out


def tree_bytes(root: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not rel.startswith(".git/"):
            out[rel] = p.read_bytes()
    return out


# -- mutations -------------------------------------------------------------------------------
names = st.sampled_from(["alpha", "beta", "gamma", "delta", "eps"])
mutation = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(DIRS), names, st.sampled_from(EXTS)),
    st.tuples(st.just("edit"), st.integers(0, 50)),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("move"), st.integers(0, 50), st.sampled_from(DIRS)),
    st.tuples(st.just("copy"), st.integers(0, 50)),
    st.tuples(st.just("stage")),
    st.tuples(st.just("shuffle"), st.integers(0, 50)),
    st.tuples(st.just("drop_line"), st.integers(0, 50)),
    st.tuples(st.just("corrupt"), st.integers(0, 50),
              st.sampled_from(["blob", "role", "size", "stray", "tags", "descriptor",
                               "path", "doc_id_invalid", "doc_id_other"])),
    st.tuples(st.just("break"), st.integers(0, 50)),
)


def content(ext: str, token: int) -> str:
    if ext == ".py":
        return f'"""Module token-{token}."""\n\nX = {token}\n'
    if ext == ".md":
        return f"# Title token-{token}\n\nText.\n"
    return f"Plain text token-{token}.\n"


def apply(m: Model, op: tuple[Any, ...]) -> None:
    root = m.root
    files = m.files()
    paths = list(files)
    kind = op[0]
    if kind == "add":
        _, d, name, ext = op
        rel = f"{d}{name}{m.next_token + 1}{ext}"
        t = m.new_token()
        m.origin[t] = t
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content(ext, t))
    elif kind == "stage":
        git(root, "add", "-A")
    elif kind in ("edit", "delete", "move", "copy") and paths:
        rel = paths[op[1] % len(paths)]
        t = files[rel]
        if kind == "edit":
            with open(root / rel, "a") as f:
                f.write("# edited\n" if rel.endswith(".py") else "edited\n")
            m.edited.add(m.origin[t])
        elif kind == "delete":
            (root / rel).unlink()
        elif kind == "move":
            target = op[2] + rel.rsplit("/", 1)[-1]
            if (root / target).exists():
                return
            (root / target).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).rename(root / target)
            m.moved.add(m.origin[t])
        else:  # a copy that keeps the claim of its name or header
            if not carries(rel):
                return
            stem, _, ext = rel.rpartition(".")
            t2 = m.new_token()
            target = f"{stem}-copy{t2}.{ext}"
            text = (root / rel).read_text().replace(f"token-{t}", f"token-{t2}")
            (root / target).write_text(text)
            m.origin[t2] = t2
            m.exempt.add(m.origin[t])  # its id is contested: it may lose it (SPEC §8.2)
    else:
        _registry_mutation(m, op)


def _registry_mutation(m: Model, op: tuple[Any, ...]) -> None:
    shards = sorted((m.root / REGISTRY).glob("*.jsonl"))
    if not shards:
        return
    lines = [(s, i, ln) for s in shards for i, ln in enumerate(s.read_text().splitlines())
             if parse(ln) is not None]
    if not lines:
        return
    shard, i, line = lines[op[1] % len(lines)]
    all_lines = shard.read_text().splitlines()
    rec = parse(line)
    assert rec is not None
    tokens = {p: t for p, t in m.files().items()}
    by_id = {i: o for o, i in m.true_id.items()}
    owner = by_id.get(rec["doc_id"], m.origin.get(tokens.get(rec["path"], -1), -1))
    kind = op[0]
    if kind == "shuffle":
        all_lines.reverse()
    elif kind == "drop_line":
        del all_lines[i]
        m.exempt.add(owner)
    elif kind == "break":
        all_lines[i] = line[: len(line) // 2]
        m.exempt.add(owner)
    else:
        fld = op[2]
        if fld in ("path", "doc_id_invalid", "doc_id_other"):
            m.exempt.add(owner)
        if fld == "blob":
            rec["blob"] = "zz"
            m.edited.add(owner)  # a move can no longer be found by its blob
        elif fld == "role":
            rec["role"] = "bogus"
        elif fld == "size":
            rec["size"] = -1
        elif fld == "stray":
            rec["stray"] = True
        elif fld == "tags":
            rec["tags"] = [*reversed(rec["tags"]), "zzz", "aaa"]
        elif fld == "descriptor":
            rec["descriptor"] = []
        elif fld == "path":
            rec["path"] = "gone/" + rec["path"]
        elif fld == "doc_id_invalid":
            rec["doc_id"] = "123"
        else:
            others = [r["doc_id"] for _, _, ln in lines if (r := parse(ln)) is not None]
            rec["doc_id"] = others[(op[1] + 1) % len(others)]
            m.exempt.add(by_id.get(rec["doc_id"], -1))
        all_lines[i] = json.dumps(rec, ensure_ascii=False, separators=(", ", ": "))
    shard.write_text("".join(ln + "\n" for ln in all_lines))


# -- the property ------------------------------------------------------------------------------
def initial(m: Model) -> None:
    root = m.root
    git(root, "init", "-q")
    for rel in ("README.md", "notes/a.txt", "notes/b.md", "docs/c.md", "docs/deep/d.md",
                "pkg/e.py", "pkg/f.py", "g.txt"):
        t = m.new_token()
        m.origin[t] = t
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content("." + rel.rsplit(".", 1)[1], t))
    project = Project.open(root)
    pipeline.sync(project, pipeline.all_paths(project))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "registered")
    ids = registry_ids(root)
    for p, t in m.files().items():
        m.true_id[t] = ids[p]


def run_property(ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        m = Model(root)
        initial(m)
        for op in ops:
            apply(m, op)
        before = m.files()
        project = Project.open(root)
        Reconciler(project).fix()
        report = Reconciler(project).check()
        assert report.clean, report.drifts
        snap = tree_bytes(root)
        second = Reconciler(project).fix()
        assert not second.actions and not second.drifts, (second.actions, second.drifts)
        assert tree_bytes(root) == snap, "a second fix changed something"
        again = pipeline.sync(project, pipeline.all_paths(project))
        assert not again.changed_registry and not again.actions, (again.write, again.actions)
        after = m.files()
        ids = registry_ids(root)
        assert set(ids) == set(after), "registry paths differ from the documents"
        assert set(before.values()) == set(after.values()), "a document was lost or invented"
        was = {t: p for p, t in before.items()}
        for p, t in after.items():
            o = m.origin[t]
            if o not in m.true_id or o in m.exempt:
                continue
            if o in m.moved and o in m.edited and not carries(was[t]):
                continue
            assert ids[p] == m.true_id[o], f"{p} changed id ({m.true_id[o]} -> {ids[p]})"
        assert len(set(ids.values())) == len(ids)
        shutil.rmtree(root, ignore_errors=True)


COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture,
                                                      HealthCheck.too_slow]}


@settings(max_examples=25, **COMMON)  # type: ignore[arg-type]
@given(st.lists(mutation, min_size=1, max_size=8))
def test_fix_always_converges(ops: list[tuple[Any, ...]]) -> None:
    run_property(ops)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@settings(max_examples=300, **COMMON)  # type: ignore[arg-type]
@given(st.lists(mutation, min_size=1, max_size=20))
def test_fix_always_converges_long(ops: list[tuple[Any, ...]]) -> None:
    run_property(ops)
