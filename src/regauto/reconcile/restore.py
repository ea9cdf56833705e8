"""Restoring a malformed registry (a line that is not JSON, a ``meta.json`` that is not).

``check`` stops there (exit 2, naming the file and line): nothing can be compared against a
registry that does not parse.  ``fix`` rebuilds each malformed file and then reconciles as
usual; what it does, per file:

1. the file's bytes are copied to ``<state dir>/quarantine/<time>/`` first — nothing is
   ever lost;
2. its readable lines (JSON objects) are kept as they are: they are the newest data;
3. earlier versions of the file add the records of paths the readable lines do not cover
   (usually those of the broken lines), each only for paths still uncovered, in this
   order: the newest backup whose lines all parse (``backups.listing``: the writer keeps
   the previous version of every file it changes), then the version in git's index, then
   the one in HEAD: "restored from backup … / the git index / HEAD";
4. a broken line whose start is still legible (``{"path": …, "doc_id": …``) that nothing
   else covered keeps its path and doc_id as a partial record; other broken lines are
   dropped.  With no earlier version at all: "rebuilt from the tree".

The result goes through the writer (lock, backup, journal: atomic); the reconciliation
that follows re-derives every record from its file (a partial or stale record is an
``invalid_record`` or ``modified`` like any other), so ids carried by prefix or header
survive whatever happened, and registry-mode files keep theirs when a backup or a legible
line still had it.  A ``meta.json`` of another format (valid JSON, another schema) is not
touched: that is not damage regauto can judge.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from regauto import git, jsonload
from regauto.errors import RegistryFormatError
from regauto.project import Project
from regauto.reconcile.registry_view import RegistryView
from regauto.registry import backups, open_writer
from regauto.registry.records import META_NAME, META_TEXT, sort_key

QUARANTINE = "quarantine"


def malformed_message(view: RegistryView) -> str:
    errors = ([view.meta_error] if view.meta_error else []) + [
        view.errors[n] for n in sorted(view.errors)]
    more = f" (and {len(errors) - 1} more malformed file(s))" if len(errors) > 1 else ""
    return (f"{errors[0]}{more}; the registry does not parse — `regauto fix` restores it "
            "from a backup or rebuilds it")


def restore(project: Project, view: RegistryView) -> list[str]:
    """Rewrite every malformed registry file; one line per file saying what was done."""
    if view.meta_error and "unsupported registry" in view.meta_error:
        raise RegistryFormatError(f"{view.meta_error}; regauto fix does not rewrite a "
                                  "registry of another format")
    folder = _quarantine(project, view)
    texts: dict[str, str | None] = {}
    said: list[str] = []
    if view.meta_error:
        texts[META_NAME] = META_TEXT
        said.append(f"rewrote {view.rel(META_NAME)}: it did not parse (the old file is in "
                    f"{folder})")
    for name in sorted(view.errors):
        texts[name], line = _rebuild(project, view, name)
        said.append(f"{line} (the damaged file is in {folder})")
    open_writer(project).restore(texts, view.hash)
    return said


def _quarantine(project: Project, view: RegistryView) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    folder = project.state_dir / QUARANTINE / f"{stamp}-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    names = sorted(view.errors) + ([META_NAME] if view.meta_error else [])
    for name in names:
        src = project.registry_dir / name
        if src.exists():
            (folder / name).write_bytes(src.read_bytes())
    return folder


def _rebuild(project: Project, view: RegistryView, name: str) -> tuple[str | None, str]:
    kept = [(ln.rec, ln.text) for ln in view.lines if ln.shard == name and ln.text is not None]
    have = {r.get("path") for r, _ in kept}
    broken = [b for b in view.broken if b.shard == name]
    lines: list[tuple[bytes, str]] = [(sort_key(r), t) for r, t in kept if t is not None]
    used: list[str] = []
    taken = 0
    for label, recs in _sources(project, name):
        added = [(r, t) for r, t in recs if r.get("path") not in have]
        if added:
            used.append(label)
            taken += len(added)
            lines += [(sort_key(r), t) for r, t in added]
            have |= {r.get("path") for r, _ in added}
    hinted = 0
    for b in broken:
        if b.hint is not None and b.hint[0] not in have:
            rec = {"path": b.hint[0], "doc_id": b.hint[1]}
            lines.append((sort_key(rec), json.dumps(rec, ensure_ascii=False,
                                                    separators=(", ", ": "))))
            have.add(b.hint[0])
            hinted += 1
    counts = (f"kept {len(kept)} readable line(s) and {hinted} legible path/doc_id pair(s) "
              f"of {len(broken)} broken line(s)")
    if "not valid UTF-8" in view.errors.get(name, ""):
        counts += "; bytes that were not UTF-8 became U+FFFD"
    if used:
        what = (f"restored {view.rel(name)} from {' and '.join(used)} ({taken} record(s)): "
                f"{counts}")
    else:
        what = (f"rebuilt {view.rel(name)} from the tree (no backup or committed version of "
                f"it adds anything): {counts}")
    lines.sort(key=lambda x: x[0])
    text = "".join(t + "\n" for _, t in lines)
    return (text or None), what


Parsed = list[tuple[dict[str, object], str]]


def _sources(project: Project, name: str) -> list[tuple[str, Parsed]]:
    """Earlier versions of shard ``name`` that parse, newest first: the newest backup
    (``backups.listing``), then git's index and HEAD."""
    out: list[tuple[str, Parsed]] = []
    for folder, meta in backups.listing(project.state_dir):
        path = folder / name
        if not path.exists():
            if name in meta.get("absent", []):
                break  # the shard did not exist before that write: older ones know less
            continue
        try:
            recs = _parse(path.read_bytes())
        except (OSError, ValueError):
            continue
        out.append((f"backup {folder.name}", recs))
        break
    if project.is_git:
        rel = f"{project.config.registry.strip('/')}/{name}"
        for rev, label in (("", "the git index"), ("HEAD", "HEAD")):
            data = git.show_file(project.root, rev, rel)
            if data is None:
                continue
            try:
                out.append((label, _parse(data)))
            except ValueError:
                continue
    return out


def _parse(data: bytes) -> Parsed:
    """Every line a JSON object, or ValueError."""
    out: Parsed = []
    for ln in data.decode("utf-8").split("\n"):
        if not ln:
            continue
        rec = jsonload.loads(ln)
        if not isinstance(rec, dict):
            raise ValueError("not a JSON object")
        out.append((rec, ln))
    return out
