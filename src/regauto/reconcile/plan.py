"""Planning a reconciliation: what the registry says, what the tree holds, and which paths
the pipeline must see again.

The plan does not decide identities itself — the pipeline does (SPEC §4.3) — it decides
what the pipeline is shown:

- **the batch**: every path that may change, closed under "shares a doc_id with": a file
  that is new, modified, gone, misnamed, missing its header, claiming an id that is not its
  record's, out of date with the configuration (id_mode, role, executable bit), plus every
  other path that holds or claims the same ids, so the pipeline sees each contest whole;
- **the records it sees** (``known``): the registry as resolved here — one record per path
  (``duplicate_path``: the id the file claims, else the lowest id, keeps the path; the
  other records are removed), one holder per id (``duplicate_id``: the path the registry
  records for the id keeps it; when it records several that still exist and claim no
  other id, the one history names as the merge's target branch's, else the first in path
  order — ``identity``), a record filed in the wrong shard found
  where it is, an invalid record that still names a usable path and doc_id kept as that
  path's record (so the file keeps its id and its record is re-derived from it);
- **changes under the pipeline's** (``extra``): records of excluded paths and the losers
  of ``duplicate_path`` deleted, misfiled records moved, stray keys of invalid records
  dropped; the pipeline's own record for an id is laid over these;
- **shards to rewrite** (``repair_shards``): noncanonical shards and those holding invalid
  records, rewritten canonically by the writer, which drops the invalid lines.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from regauto import docid, stages
from regauto.automation import file_renamer, identity
from regauto.config import Config
from regauto.errors import BadInputError, RegautoError
from regauto.project import Project, check_rel
from regauto.reconcile import drift as D
from regauto.reconcile.claims import Claims, Verified
from regauto.reconcile.judge import up_to_date
from regauto.reconcile.registry_view import Line, RegistryView
from regauto.reconcile.tree_state import Doc, TreeState
from regauto.registry.records import BLOB_RE, FIELDS, META_NAME, Record


class ViewStale(RegautoError):
    """The registry changed after the plan was made: plan again."""


@dataclass
class Plan:
    view: RegistryView
    tree: TreeState
    drifts: list[D.Drift] = field(default_factory=list)  # known before the pipeline runs
    batch: set[str] = field(default_factory=set)
    known: dict[str, Record] = field(default_factory=dict)
    by_id: dict[str, list[str]] = field(default_factory=dict)  # id -> paths, keeper first
    extra: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    repair_shards: set[str] = field(default_factory=set)
    rec_at: dict[str, Line] = field(default_factory=dict)  # resolved: one record per path
    id_losers: dict[str, str] = field(default_factory=dict)  # path -> the path keeping its id
    claims: dict[str, str | None] = field(default_factory=dict)
    header_claims: dict[str, str | None] = field(default_factory=dict)

    def holders(self, ids: list[str]) -> dict[str, list[Record]]:
        """The registry's holder of each id, as resolved (one record per id)."""
        return {i: [_known(self.rec_at[self.by_id[i][0]].rec)] for i in ids if i in self.by_id}

    @property
    def empty(self) -> bool:
        return not (self.batch or self.extra or self.repair_shards)


def _up_to_date(config: Config, path: str, rec: Record, doc: Doc,
                header_claim: str | None) -> bool:
    """Would the pipeline leave this record, whose blob equals the file's, as it is?"""
    return up_to_date(config, path, rec["doc_id"], rec["id_mode"], rec["kind"],
                      tuple(rec["tags"]), rec["role"], rec["size"], doc.mode, header_claim)


def usable_path(p: Any) -> bool:
    """Does an (invalid) record still name a path a file could have?"""
    if not isinstance(p, str):
        return False
    try:
        check_rel(p)
    except BadInputError:
        return False
    return True


def _known(rec: Record) -> Record:
    """A record as the pipeline may see it (it reads ``doc_id`` and ``blob``).  Never with
    its descriptor: the pipeline then keeps every batch record in its patch (it leaves out
    a record equal to the one it was shown), and the writer drops every other line of that
    doc_id — which is how the losers of a duplicate lose their lines.  An unchanged record
    writes no byte: the writer compares texts."""
    out = {k: rec[k] for k in FIELDS if k in rec and k != "descriptor"}
    if not (isinstance(out.get("blob"), str) and BLOB_RE.fullmatch(out["blob"])):
        out["blob"] = ""
    return out


@stages.timed("plan")
def make_plan(project: Project, view: RegistryView, tree: TreeState, claims: Claims) -> Plan:
    plan = Plan(view, tree)
    at_path = _stored_form(plan)
    _excluded(plan, at_path)
    _duplicate_paths(plan, at_path, claims)
    gone = [p for p in plan.rec_at if p not in tree.docs and tree.adopt(p) is None]
    verified = Verified(project)
    effective = _documents(plan, project.config, claims, verified)
    verified.save()
    by_id = _duplicate_ids(project, plan)
    plan.batch.update(p for p in gone if p not in tree.skipped)  # missing, or moved
    for paths in effective.values():
        if len(paths) > 1:
            plan.batch.update(paths)
    _close(plan, by_id, effective)
    _orphans(plan)
    for p in plan.batch:
        ln = plan.rec_at.get(p)
        if ln is not None and p not in plan.id_losers:
            plan.known.setdefault(p, _known(ln.rec))
    plan.by_id = by_id
    claims.cache.save()
    return plan


def _stored_form(plan: Plan) -> dict[str, list[Line]]:
    """Drifts of the stored form; the records by path (valid ones, and invalid ones that
    still name a usable path and doc_id)."""
    view, inc = plan.view, plan.tree.included
    if view.meta_issue:
        plan.drifts.append(D.Drift(D.NONCANONICAL, None, view.rel(META_NAME),
                                   "meta.json is not the canonical text; fix rewrites it"))
        shards = sorted(view.manifest.keys() - {META_NAME})
        plan.repair_shards.add(shards[0] if shards else "00.jsonl")
    for shard, issues in sorted(view.shard_issues.items()):
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        plan.drifts.append(D.Drift(D.NONCANONICAL, None, view.rel(shard),
                                   f"{issues[0]}{more}; fix rewrites the shard canonically"))
        plan.repair_shards.add(shard)
    for ln in view.misfiled:
        plan.extra[ln.rec["doc_id"]] = dict(ln.rec)  # the writer moves it to its shard
    at_path: dict[str, list[Line]] = {}
    for ln in view.lines:
        if ln.valid:
            at_path.setdefault(ln.rec["path"], []).append(ln)
            continue
        plan.repair_shards.add(ln.shard)
        rec = ln.rec
        p = rec["path"] if usable_path(rec.get("path")) else None
        i = rec["doc_id"] if docid.is_valid(rec.get("doc_id")) else None
        where = f"{ln.shard}:{ln.lineno}"
        if p is not None and inc(p):
            if i is not None:
                at_path.setdefault(p, []).append(ln)
                stray = {k: None for k in rec if k not in FIELDS}
                if stray:
                    plan.extra[i] = stray
            plan.batch.add(p)
            fix = "fix re-derives the record from the file (or drops it if the file is gone)"
        elif i is not None and isinstance(rec.get("blob"), str) and BLOB_RE.fullmatch(rec["blob"]):
            fix = "fix drops it; a file with its blob takes its doc_id"
        else:
            fix = "fix drops it"
        plan.drifts.append(D.Drift(
            D.INVALID_RECORD, i, p if p is not None else view.rel(ln.shard),
            f"{'; '.join(ln.problems)} (line {where}); {fix}"))
    return at_path


def _excluded(plan: Plan, at_path: dict[str, list[Line]]) -> None:
    docs, included = plan.tree.docs, plan.tree.included
    for p in [p for p in at_path if p not in docs and not included(p)]:
        for ln in at_path.pop(p):
            i = ln.rec["doc_id"]
            plan.drifts.append(D.Drift(D.EXCLUDED, i, p, "the configuration excludes this "
                                       "path; fix removes its record"))
            plan.extra[i] = None


def _duplicate_paths(plan: Plan, at_path: dict[str, list[Line]], claims: Claims) -> None:
    for p, lines in sorted(at_path.items()):
        if len(lines) == 1:
            plan.rec_at[p] = lines[0]
            continue
        doc = plan.tree.docs.get(p) or plan.tree.adopt(p)
        claim = None
        if doc is not None:
            claim = file_renamer.claimed_prefix_id(p)
            if claim is None:
                claim = claims.header(p, claims.kind(p, doc), doc)
        ranked = sorted(lines, key=lambda ln: (ln.rec["doc_id"] != claim, not ln.valid,
                                               ln.rec["doc_id"]))
        keeper = ranked[0]
        plan.rec_at[p] = keeper
        plan.batch.add(p)
        for ln in ranked[1:]:
            i = ln.rec["doc_id"]
            if i == keeper.rec["doc_id"]:
                continue  # the same record twice: the writer keeps one
            plan.extra.setdefault(i, None)
            plan.drifts.append(D.Drift(
                D.DUPLICATE_PATH, i, p, f"the registry also records this path as "
                f"{keeper.rec['doc_id']}, which keeps it; fix removes this record"))


def _duplicate_ids(project: Project, plan: Plan) -> dict[str, list[str]]:
    by_id: dict[str, list[str]] = {}
    for p, ln in plan.rec_at.items():
        by_id.setdefault(ln.rec["doc_id"], []).append(p)
    held = {i: identity.holding(paths, functools.partial(_holds, plan, doc_id=i))
            for i, paths in by_id.items() if len(paths) > 1}
    first = identity.first_holders(project, {i: h for i, h in held.items() if len(h) > 1})
    for i, paths in by_id.items():
        if len(paths) < 2:
            continue
        paths.sort()
        # The pipeline is shown this path's record alone; it applies the same rule to the
        # files that claim the id without a record (``identity.keeper``).  When no recorded
        # file holds the id, a live record (else the first) is still the one shown.
        keeper = identity.keeper(held[i], (), first.get(i)) or next(
            (p for p in paths if p in plan.tree.docs), paths[0])
        paths.remove(keeper)
        paths.insert(0, keeper)
        plan.batch.update(paths)
        for p in paths[1:]:
            plan.id_losers[p] = keeper
    return by_id


def _holds(plan: Plan, path: str, doc_id: str) -> bool:
    """Does the recorded file still exist and claim ``doc_id`` or nothing?  A recorded file
    that claims another id (its name or header) does not hold this one."""
    return path in plan.tree.docs and plan.claims.get(path) in (None, doc_id)


def _documents(plan: Plan, config: Config, claims: Claims,
               verified: Verified) -> dict[str, list[str]]:
    """Put every document the pipeline would change in the batch; return the paths by the
    id each one carries (claimed, else recorded)."""
    effective: dict[str, list[str]] = {}
    rec_at, batch = plan.rec_at, plan.batch
    # The records judged up to date before need nothing more; the others are judged below,
    # after the header claims they need have been read together (see Claims.prefetch).
    pending: list[tuple[str, Doc, Record | None, bytes | None]] = []
    for p, doc in plan.tree.docs.items():
        ln = rec_at.get(p)
        rec = ln.rec if ln is not None else None
        if rec is not None and ln is not None and ln.valid and rec["blob"] == doc.blob:
            key = verified.key(p, doc.mode, rec)
            if key in verified.old:
                verified.new.add(key)
                effective.setdefault(rec["doc_id"], []).append(p)
                continue
            pending.append((p, doc, rec, key))
        else:
            pending.append((p, doc, rec, None))
    claims.prefetch([(p, rec["kind"], doc) for p, doc, rec, judge in pending
                     if judge is not None and rec is not None and (
                         rec["id_mode"] == "header" or file_renamer.claimed_prefix_id(p) is None)])
    for p, doc, rec, judge in pending:
        if judge is not None and rec is not None:  # a valid record with the file's blob
            prefix = file_renamer.claimed_prefix_id(p)
            header = claims.header(p, rec["kind"], doc) if prefix is None or (
                rec["id_mode"] == "header") else None
            if (prefix or header) not in (None, rec["doc_id"]) or not _up_to_date(
                    config, p, rec, doc, header):
                batch.add(p)
            else:
                verified.new.add(judge)
        else:
            prefix = file_renamer.claimed_prefix_id(p)
            header = claims.header(p, claims.kind(p, doc), doc) if prefix is None else None
            batch.add(p)
        claim = prefix or header
        plan.claims[p] = claim
        plan.header_claims[p] = header
        carried = claim or (rec["doc_id"] if rec is not None else None)
        if carried is not None:
            effective.setdefault(carried, []).append(p)
    return effective


def _close(plan: Plan, by_id: dict[str, list[str]], effective: dict[str, list[str]]) -> None:
    """Add every path that holds or claims an id a batch path holds, claims or loses."""
    ids = {i for i, v in plan.extra.items() if v is None}
    todo = list(plan.batch)
    seen: set[str] = set()
    while todo or ids:
        for p in todo:
            seen.add(p)
            ln = plan.rec_at.get(p)
            if ln is not None:
                ids.add(ln.rec["doc_id"])
            claim = plan.claims.get(p)
            if claim is not None:
                ids.add(claim)
        todo = []
        for i in ids:
            for q in (*by_id.get(i, ()), *effective.get(i, ())):
                if q not in seen and q not in todo:
                    todo.append(q)
        ids = set()
        plan.batch.update(todo)
    for new, old in plan.tree.renames.items():
        if (new in plan.batch or old in plan.batch) and plan.tree.included(new):
            plan.batch.add(new)
            if plan.tree.included(old):
                plan.batch.add(old)


def _orphans(plan: Plan) -> None:
    """An invalid record without a usable path still says "a file with this blob had this
    id": like a move (SPEC §4.3 step 3), the first such file with no record and no claim of
    its own takes the id."""
    taken = set(plan.known)
    for ln in plan.view.lines:
        rec = ln.rec
        if ln.valid or usable_path(rec.get("path")):
            continue
        i, blob = rec.get("doc_id"), rec.get("blob")
        if not (docid.is_valid(i) and isinstance(blob, str) and BLOB_RE.fullmatch(blob)):
            continue
        if any(r.rec["doc_id"] == i for r in plan.rec_at.values()):
            continue
        for p in sorted(plan.batch):
            doc = plan.tree.docs.get(p)
            if (doc is not None and doc.blob == blob and p not in plan.rec_at
                    and p not in taken and plan.claims.get(p) is None):
                plan.known[p] = {"path": p, "doc_id": i, "blob": blob}
                taken.add(p)
                break
