"""The registry side of a check: every record line, and what is wrong with the stored form.

A shard is read only when its sha256 (from the stat-cached manifest) differs from the one
cached with its summary; a shard is cached only once found valid and canonical, so an
unchanged, healthy registry costs no shard read and no JSON parse.

Stored-form problems found here:

- a line that is not a JSON object: the registry is **malformed** (``check`` exits 2
  naming the file and line; ``fix`` restores it, see ``restore``);
- a JSON object that is not a valid record: ``invalid_record``;
- a valid record not in canonical form — key order, separators, escaping, the order of
  the lines, a record filed in a shard its path does not hash to, a missing final newline,
  an empty shard file, a ``meta.json`` that is not the canonical text: ``noncanonical``.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regauto import docid, jsonload, stages
from regauto.errors import BadInputError, RegistryFormatError
from regauto.events.lock_manager import LockManager
from regauto.project import Project, check_rel
from regauto.reconcile import fanout
from regauto.reconcile.cache import Cache
from regauto.reconcile.judge import mode_of_tags
from regauto.registry import journal, records
from regauto.registry.records import Record
from regauto.registry.store import RegistryStore, gc_paused, hash_of_manifest

SUMMARY = ("path", "doc_id", "id_mode", "kind", "tags", "role", "blob", "size")
# Shards to parse whole worth a second process (fanout): ~0.25 s of parsing and checking.
FANOUT_BYTES = 8 << 20


@dataclass(slots=True)
class Line:
    shard: str
    lineno: int
    rec: Record  # the whole record when read now; its SUMMARY fields when from the cache
    problems: tuple[str, ...] = ()
    text: str | None = None  # the raw line, kept for a shard being salvaged

    @property
    def valid(self) -> bool:
        return not self.problems


@dataclass
class Broken:
    """A line that is not a JSON object (the registry is malformed)."""

    shard: str
    lineno: int
    text: str
    error: str
    hint: tuple[str, str] | None = None  # (path, doc_id) still legible in the broken line


@dataclass
class RegistryView:
    hash: str
    manifest: dict[str, str]
    reg_rel: str
    lines: list[Line] = field(default_factory=list)
    shard_issues: dict[str, list[str]] = field(default_factory=dict)  # noncanonical shards
    misfiled: list[Line] = field(default_factory=list)
    meta_issue: str | None = None  # "not in canonical form"
    meta_error: str | None = None  # malformed or unsupported meta.json
    broken: list[Broken] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # malformed shard -> first error

    @property
    def malformed(self) -> bool:
        return bool(self.errors) or self.meta_error is not None

    def rel(self, name: str) -> str:
        return f"{self.reg_rel}/{name}"

    def max_id(self) -> str | None:
        """The highest valid doc_id on any line (an invalid record's id is still taken)."""
        ids = [str(ln.rec["doc_id"]) for ln in self.lines if docid.is_valid(ln.rec.get("doc_id"))]
        return max(ids) if ids else None


@stages.timed("read the registry")
def load(project: Project, *, salvage: bool = False) -> RegistryView:
    """Read the registry under the registry lock (after finishing an interrupted write), so
    the hash is exactly that of the lines returned.  With ``salvage``, a malformed shard's
    readable lines are kept (``Line.text``) and its broken lines listed."""
    store = RegistryStore(project.registry_dir, project.state_dir)
    locks = LockManager(project.state_dir, timeout=project.config.lock_timeout_s)
    cache = Cache(project.state_dir, "shards")
    cached = cache.load()
    if cached.get("dir") != str(store.dir):
        cached = {"dir": str(store.dir)}
    keep: dict[str, Any] = {"dir": str(store.dir)}
    with locks.registry(timeout=project.config.lock_timeout_s):
        if journal.needs_recovery(store):
            journal.recover(store)
        manifest = store.manifest()
        view = RegistryView(hash_of_manifest(manifest), manifest,
                            project.config.registry.strip("/"))
        _meta(store, view)
        names = store.shard_names()
        stale = [n for n in names if not _current(cached.get(n), manifest.get(n))]
        # With no shard cache (a fresh clone), a worker parses and checks the second half
        # of the stale shards; the entries of those it found healthy are taken like cache
        # hits below, any other is read here as if there were no worker (see fanout).
        with fanout.Helper(_healthy_shards, lambda theirs: (
                str(store.dir), str(store.state_dir), manifest,
                {n: cached[n] for n in theirs if n in cached}, list(theirs)),
                stale, worth_it=_unknown_bytes(store, stale, cached) >= FANOUT_BYTES) as helper:
            helped: dict[str, Any] | None = None
            theirs = set(helper.theirs)
            for name in names:
                sha = manifest.get(name)
                hit = cached.get(name)
                if name in theirs:
                    if helped is None:  # the first of the worker's shards: its answer
                        answer = helper.answer()
                        helped = marshal.loads(answer) if answer is not None else {}
                    hit = helped.get(name, hit)
                if hit is not None and hit[0] == sha:
                    view.lines.extend([Line(name, i, r) for i, r in enumerate(hit[1], 1)])
                    keep[name] = hit
                    continue
                summary = _read_shard(store, name, view, salvage, hit)
                if summary is not None:
                    keep[name] = (sha, *summary)
    cache.replace(keep)
    cache.save()
    return view


def _current(entry: Any, sha: str | None) -> bool:
    """Is ``entry`` (a cached summary) the summary of the shard whose hash is ``sha``?"""
    return entry is not None and entry[0] == sha


def _unknown_bytes(store: RegistryStore, names: list[str], cached: dict[str, Any]) -> int:
    """The size of the shards of ``names`` with no cache entry at all: parsed line by
    line.  (One with an older entry is mostly trusted lines, looked up by digest: after a
    commit, not worth a worker.)"""
    total = 0
    for n in names:
        if n not in cached:
            try:
                total += (store.dir / n).stat().st_size
            except OSError:
                pass
    return total


def _healthy_shards(reg_dir: str, state_dir: str, manifest: dict[str, str],
                    old: dict[str, Any], names: list[str]) -> bytes:
    """In a worker (``fanout``): the cache entries of the shards of ``names`` found valid
    and canonical, ``marshal``-ed.  The others are left out: the caller reads them again
    and finds their problems itself, so a worker never decides what a check reports."""
    store = RegistryStore(Path(reg_dir), Path(state_dir))
    scratch = RegistryView("", manifest, "")
    out: dict[str, Any] = {}
    with gc_paused():
        for name in names:
            summary = _read_shard(store, name, scratch, False, old.get(name))
            if summary is not None:
                out[name] = (manifest.get(name), *summary)
    return marshal.dumps(out)


def _meta(store: RegistryStore, view: RegistryView) -> None:
    try:
        problem = store.read_meta_problem()
    except RegistryFormatError as e:
        view.meta_error = str(e)
        return
    if problem is None:
        return
    if problem.endswith("not in canonical form"):
        view.meta_issue = problem
    else:
        view.meta_error = problem


def _digest(name: str, line: str) -> bytes:
    return hashlib.blake2b(f"{name}\n{line}".encode("utf-8", "surrogateescape"),
                           digest_size=16).digest()


Cached = tuple[list[Record], list[bytes]]


def _parse(store: RegistryStore, name: str, old: Any) -> tuple[list[tuple[int, Record, str,
                                                                           bool]], str]:
    """The lines of a shard as ``(lineno, record, raw line, trusted)``.  A line whose
    digest the shard's previous cache entry holds is trusted — found valid, canonical and
    in its shard before — and not parsed again: after a write that changed a few records
    of a shard, only those are parsed."""
    known = dict(zip(old[2], old[1], strict=True)) if old is not None and len(old) > 2 else {}
    if not known:
        shard = store.read_shard(name)
        return [(i + 1, r, ln, False) for i, (r, ln) in enumerate(
            zip(shard.records, shard.lines, strict=True))], shard.text
    text = store.read_text(name) or ""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out: list[tuple[int, Record, str, bool]] = []
    for i, ln in enumerate(lines):
        row = known.get(_digest(name, ln))
        if row is not None:
            out.append((i + 1, dict(row), ln, True))
            continue
        rec = store._parse_line(name, i + 1, ln)
        if not isinstance(rec, dict):
            raise RegistryFormatError(f"{store.display(name)}:{i + 1}: not a JSON object")
        out.append((i + 1, rec, ln, False))
    return out, text


def _read_shard(store: RegistryStore, name: str, view: RegistryView, salvage: bool,
                old: Any) -> Cached | None:
    """Parse and check one shard; its summary when it is healthy (cacheable), else None."""
    try:
        parsed, text = _parse(store, name, old)
    except RegistryFormatError as e:
        view.errors[name] = str(e)
        if not salvage:
            return None
        parsed, text = [(n, r, t, False) for n, r, t in _salvage(store, name, view)], ""
    issues: list[str] = []
    if name not in view.errors:
        if not text:
            issues.append("an empty shard file (an empty shard is deleted)")
        elif not text.endswith("\n"):
            issues.append("no newline at the end of the file")
    prev: bytes | None = None
    paths: set[str] = set()
    healthy = True
    for lineno, rec, raw, trusted in parsed:
        probs = () if trusted else tuple(record_problems(rec, raw))
        line = Line(name, lineno, rec, probs, raw if name in view.errors else None)
        view.lines.append(line)
        if probs:
            healthy = False
            continue
        path = rec["path"]
        if path in paths:
            healthy = False  # a duplicate_path: reported by the planner
        paths.add(path)
        if not trusted and records.shard_of(path) != name:
            issues.append(f"line {lineno}: the record of {path} belongs in "
                          f"{records.shard_of(path)}")
            view.misfiled.append(line)
            continue
        if not trusted and raw != records.dumps(rec):
            issues.append(f"line {lineno}: not in canonical form (key order, separators "
                          "or escaping)")
        key = records.sort_key(rec)
        if prev is not None and key < prev:
            issues.append(f"line {lineno}: lines not sorted by path")
        prev = key
    if name in view.errors:
        return None
    if issues:
        view.shard_issues[name] = issues
        return None
    if not healthy:
        return None
    return ([{k: r[k] for k in SUMMARY} for _, r, _, _ in parsed],
            [_digest(name, raw) for _, _, raw, _ in parsed])


def record_problems(rec: Any, raw: str | None = None) -> list[str]:
    """``records.problems`` plus the repository rule for paths (SPEC §11).  With the raw
    line at hand, a descriptor that cannot nest deeper than the limit (it has fewer
    brackets) is not walked: that walk is most of the cost on a 100k-record registry; nor
    are the strings of a line with no ``\\ud…`` escape (UTF-8 text holds no surrogate)."""
    shallow = (raw is not None and isinstance(rec, dict)
               and raw.count("{") + raw.count("[") <= records.MAX_DEPTH)
    escaped = raw is None or ("\\u" in raw and ("\\ud" in raw or "\\uD" in raw))
    probs = records.problems(rec, walk_descriptor=not shallow, walk_strings=escaped)
    if not probs:
        try:
            check_rel(rec["path"], what="record path")
        except BadInputError as e:
            probs.append(str(e))
    return probs


_HINT = re.compile(r'^\{"path": ("(?:[^"\\]|\\.)*"), "doc_id": "([0-9]{16})"')


def _salvage(store: RegistryStore, name: str,
             view: RegistryView) -> list[tuple[int, Record, str]]:
    """The lines of a malformed shard that are JSON objects; the others go to ``broken``
    (with the path and doc_id when the start of the line is still legible)."""
    raw = (store.dir / name).read_bytes().decode("utf-8", "replace")
    lines = raw.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out: list[tuple[int, Record, str]] = []
    for i, ln in enumerate(lines):
        try:
            rec = jsonload.loads(ln)
        except ValueError as e:
            rec, err = None, str(e)
        else:
            err = "not a JSON object"
        if isinstance(rec, dict):
            out.append((i + 1, rec, ln))
            continue
        hint = None
        m = _HINT.match(ln)
        if m:
            try:
                hint = (json.loads(m.group(1)), m.group(2))
            except ValueError:
                hint = None
        view.broken.append(Broken(name, i + 1, ln, err, hint))
    return out



def fast_map(project: Project, fingerprint: str) -> tuple[str, set[str]] | None:
    """``(registry_hash, {"<mode> <blob> 0\t<path>", …})`` — what the records describe, in
    the form of the index's lines — when every registry file is unchanged since a clean
    check under the same configuration (``fingerprint``) found all records up to date;
    None otherwise (then only the full plan can tell).  No shard is read: the set was
    saved by that check (``mark_verified``)."""
    store = RegistryStore(project.registry_dir, project.state_dir)
    locks = LockManager(project.state_dir, timeout=project.config.lock_timeout_s)
    with locks.registry(timeout=project.config.lock_timeout_s):
        if journal.needs_recovery(store):
            journal.recover(store)
        manifest = store.manifest()
    verified = Cache(project.state_dir, "verified").load()
    if (verified.get("config") != fingerprint or verified.get("dir") != str(store.dir)
            or verified.get("manifest") != manifest):
        return None
    found = verified.get("entries")
    if not isinstance(found, (list, set)):
        return None
    return hash_of_manifest(manifest), set(found)


def verified_kept(project: Project) -> bool:
    """Has a clean check kept what the records describe (may ``fast_map`` answer)?"""
    return Cache(project.state_dir, "verified").path.exists()


def mark_verified(project: Project, view: RegistryView, fingerprint: str) -> None:
    """After a clean full check: every record of ``view`` is up to date with its file; keep
    what they describe for ``fast_map``."""
    # A list (see plan.Verified.save: marshal sorts sets); duplicates are harmless.
    entries = [f"{mode_of_tags(ln.rec['tags'])} {ln.rec['blob']} 0\t{ln.rec['path']}"
               for ln in view.lines]
    save_verified(project, view.manifest, entries, fingerprint)


def save_verified(project: Project, manifest: dict[str, str], entries: list[str],
                  fingerprint: str) -> None:
    """Keep ``entries`` (index lines) as what the registry of ``manifest`` describes,
    every record of it up to date, for ``fast_map``."""
    cache = Cache(project.state_dir, "verified")
    cache.replace({"config": fingerprint, "dir": str(project.registry_dir),
                   "manifest": manifest, "entries": entries})
    cache.save()
