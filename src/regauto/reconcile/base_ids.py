"""Ids are permanent (SPEC §4): ``check --base REF`` and ``fix --base REF``.

A doc_id, once given, names its document for good; a registry line edited by hand (or two
ids swapped) passes every other check, because a record with any valid id describes its
file just as well.  Only history can tell, so this compares the registry with REF's (the
pull request's base branch in CI):

- ``id_changed``: a path recorded on both sides under different ids;
- ``id_lost``: an id of REF that is gone while its document remains — moved (the same blob
  at another path, recorded under an id REF does not know) or at its path, not registered
  (``fix`` registers it, and the id goes back as for ``id_changed``).

``fix --base`` gives registry-mode records their base id back in one write (a swapped pair
included).  In prefix and header mode the id lives in the file: ``fix`` already makes the
registry follow the file, so such a drift is left unrepaired only when the file itself
carries the new id (a rename or header edit to undo by hand).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from regauto import git
from regauto.errors import BadInputError
from regauto.project import Project
from regauto.reconcile import drift as D
from regauto.registry.records import SHARD_RE, Record

REGISTRY_MODE = "registry"


@dataclass
class IdCheck:
    drifts: list[D.Drift] = field(default_factory=list)
    restore: dict[str, Record] = field(default_factory=dict)  # base id -> record to write
    freed: dict[str, str] = field(default_factory=dict)  # base id -> the id it replaces
    unrepaired: dict[str, str] = field(default_factory=dict)  # path -> why


def base_records(project: Project, ref: str) -> list[Record]:
    """The valid records of REF's registry, read from its blobs (no checkout)."""
    commit = git.commit_of(project.root, ref) if project.is_git else None
    if commit is None:
        raise BadInputError(f"--base: {ref!r} names no commit in this repository (in CI, "
                            "fetch the base branch: actions/checkout with fetch-depth: 0)")
    reg = project.config.registry.strip("/")
    names = [p for p in git.tree_paths(project.root, commit, reg)
             if SHARD_RE.match(p.rpartition("/")[2])]
    out: list[Record] = []
    for data in git.files_at(project.root, [(commit, p) for p in names]):
        for line in (data or b"").decode("utf-8", "surrogateescape").splitlines():
            rec = _record(line)
            if rec is not None:
                out.append(rec)
    return out


def _record(line: str) -> Record | None:
    try:
        rec: Any = json.loads(line)
    except ValueError:
        return None  # a broken line is the registry check's business, not this one's
    ok = (isinstance(rec, dict) and isinstance(rec.get("doc_id"), str)
          and isinstance(rec.get("path"), str))
    return rec if ok else None


def compare(project: Project, ref: str, base: list[Record], current: list[Record]) -> IdCheck:
    """Every id of ``base`` that ``current`` changed or lost, and how to restore it."""
    found = IdCheck()
    by_path = {r["path"]: r for r in current}
    by_id = {r["doc_id"]: r for r in current}
    base_ids = {r["doc_id"] for r in base}
    by_blob: dict[str, Record] = {}
    for r in sorted(current, key=lambda r: r["path"]):
        if r["doc_id"] not in base_ids:
            by_blob.setdefault(str(r.get("blob")), r)
    for b in sorted(base, key=lambda r: r["path"]):
        bid = b["doc_id"]
        now = by_path.get(b["path"])
        if now is not None and now["doc_id"] != bid:
            found.drifts.append(D.Drift(
                D.ID_CHANGED, now["doc_id"], now["path"],
                f"its id was {bid} in {ref}; ids are permanent: fix --base {ref} restores it"))
            _plan(found, now, bid, by_id)
        elif now is None and bid not in by_id:
            moved = by_blob.get(str(b.get("blob")))
            if moved is not None:
                found.drifts.append(D.Drift(
                    D.ID_LOST, bid, moved["path"],
                    f"{ref} recorded this document ({b['path']}) as {bid}, now "
                    f"{moved['doc_id']}; fix --base {ref} restores {bid}"))
                _plan(found, moved, bid, by_id)
            elif (project.root / b["path"]).is_file():
                # ``fix`` registers such a file first (then it is ``id_changed``); one
                # still without a record after it is one fix leaves alone (excluded now).
                found.drifts.append(D.Drift(
                    D.ID_LOST, bid, b["path"],
                    f"{ref} recorded it as {bid}; it has no record now; fix --base {ref} "
                    "registers it and gives that id back"))
    _drop_conflicts(found, by_id)
    return found


def _why(rec: Record) -> str:
    return (f"its id lives in the file ({rec.get('id_mode')} mode): put the base id back in "
            "its name or header")


def _plan(found: IdCheck, now: Record, bid: str, by_id: dict[str, Record]) -> None:
    if now.get("id_mode") != REGISTRY_MODE:
        found.unrepaired[now["path"]] = _why(now)
        return
    found.restore[bid] = {**now, "doc_id": bid}
    found.freed[bid] = now["doc_id"]


def _drop_conflicts(found: IdCheck, by_id: dict[str, Record]) -> None:
    """A base id may only be given back when it is free afterwards: not held now, or held
    by a record that itself gets another id back (a swapped pair)."""
    giving_up = set(found.freed.values())
    for bid, rec in list(found.restore.items()):
        holder = by_id.get(bid)
        if holder is not None and bid not in giving_up:
            found.unrepaired[rec["path"]] = (f"{bid} is now held by {holder['path']}; settle "
                                             "which document it names by hand")
            del found.restore[bid]
            found.freed.pop(bid, None)


def operations(found: IdCheck) -> list[dict[str, Any]]:
    """The JSON Patch that gives every restorable record its base id back, whole records
    (``add`` replaces a member that exists; a merge patch would keep a descriptor's stale
    keys): each replaced id is removed unless a swapped partner takes it over."""
    ops: list[dict[str, Any]] = [{"op": "add", "path": f"/documents/{bid}", "value": rec}
                                 for bid, rec in sorted(found.restore.items())]
    for cur in sorted(set(found.freed.values()) - set(found.restore)):
        ops.append({"op": "remove", "path": f"/documents/{cur}"})
    return ops


def check(project: Project, ref: str) -> IdCheck:
    from regauto.registry.reader import open_reader

    return compare(project, ref, base_records(project, ref), open_reader(project).all_records())


def restore(project: Project, ref: str) -> tuple[list[str], dict[str, str]]:
    """``fix --base``: give the base ids back in one write; the lines saying what changed,
    and the paths left as they are with why."""
    from regauto.generators import post_write
    from regauto.registry import open_writer
    from regauto.registry.promotion_patch import PromotionPatch
    from regauto.registry.reader import open_reader

    current = open_reader(project).all_records()
    found = compare(project, ref, base_records(project, ref), current)
    restored = {rec["path"] for rec in found.restore.values()}
    for d in found.drifts:
        # The ordinary fix ran first: a document still without a record is one it leaves
        # alone (excluded now, or a file it cannot process).
        if d.path not in restored:
            found.unrepaired.setdefault(d.path, "it has no record after regauto fix: "
                                        "register it, then fix --base again")
    if not found.restore:
        return [], found.unrepaired
    writer = open_writer(project, post_write(project))
    ops = operations(found)
    writer.apply(PromotionPatch(base_hash=writer.current_hash(), source="regauto fix --base",
                                reason=f"ids are permanent: restore {ref}'s ids",
                                operations=ops))
    lines = [f"restored the id {bid} of {rec['path']} (was {found.freed.get(bid, 'unrecorded')})"
             for bid, rec in sorted(found.restore.items())]
    return lines, found.unrepaired
