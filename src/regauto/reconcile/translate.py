"""From what the pipeline decided for the batch to drifts (SPEC §8.2).

The pipeline, not this module, decides identities; this module only names what changes
and why.  For each path of the batch:

- a file with no record: ``moved`` when it takes the doc_id of a record whose file is gone
  (it claims that id, git reports the rename, or its blob equals the record's), else
  ``duplicate_id`` when it claims an id another file keeps, else ``untracked``;
- a file whose record's id goes elsewhere: ``duplicate_id`` (the other file keeps it), or
  ``misnamed`` / ``header_mismatch`` when its name or header claims another id, which the
  record takes;
- a file keeping its id: ``modified`` (blob differs), ``misnamed`` (a rename to carry the
  id), ``header_missing`` / ``header_mismatch`` (a header to write), else ``modified``
  when the record is out of date with the configuration (id_mode, role, tags);
- a record whose file is gone and whose id no file takes: ``missing``.

A path the pipeline skipped — wholly (a name that is not UTF-8, a file it may not read) or
in part (a rename it refused, a header it could not write) — keeps its drift after the run:
``unrepaired`` names those paths and why, for ``check`` and ``fix`` alike.
"""

from __future__ import annotations

from regauto.automation import file_renamer
from regauto.automation.pipeline import Action, PipelineResult
from regauto.reconcile import drift as D
from regauto.reconcile.plan import Plan
from regauto.registry.promotion_patch import PromotionPatch

_COMPARED = ("id_mode", "kind", "tags", "role", "size")
NEW_ID = "(new)"


def translate(plan: Plan, result: PipelineResult, assigned: dict[str, str],
              patch: PromotionPatch | None) -> list[D.Drift]:
    ids = dict(assigned)
    ids.update(result.new_ids)
    taker = {i: p for p, i in sorted(ids.items(), reverse=True)}  # id -> first path taking it
    actions: dict[str, list[Action]] = {}
    for a in result.actions:
        actions.setdefault(a.path, []).append(a)
    changes = patch.changes if patch is not None and patch.changes is not None else {}
    gone_by_id = {ln.rec["doc_id"]: p for p, ln in plan.rec_at.items()
                  if p not in plan.tree.docs}
    out: list[D.Drift] = []
    for p in sorted(plan.batch):
        ln = plan.rec_at.get(p)
        if p not in plan.tree.docs:
            if ln is None or not ln.valid:
                continue
            i = ln.rec["doc_id"]
            if taker.get(i, p) != p:
                continue  # moved: reported where it went
            out.append(D.Drift(D.MISSING, i, p, "the file is gone; fix removes its record"))
            continue
        if p not in ids:
            why = result.skipped.get(p) or plan.tree.skipped.get(p)
            if why:
                out.append(D.Drift(D.UNTRACKED, None, p, f"cannot be processed: {why}"))
            continue
        new = ids[p]
        carry = _carry(actions.get(p, []), result, p)
        if ln is None:
            out.extend(_unrecorded(plan, p, new, result, gone_by_id, taker, carry))
        elif ln.valid:
            out.extend(_recorded(plan, p, new, result, changes, taker, actions.get(p, []),
                                 carry))
        elif ln.rec["doc_id"] != new:
            shown = NEW_ID if p in result.new_ids else new
            out.append(D.Drift(D.INVALID_RECORD, ln.rec["doc_id"], p,
                               f"fix re-registers the file as {shown}{carry}"))
    return out


def _carry(acts: list[Action], result: PipelineResult, p: str) -> str:
    parts = []
    for a in acts:
        parts.append(f"renames it to {a.new_path}" if a.kind == "rename"
                     else f"adds the header doc_id: {a.doc_id}")
    if p in result.skipped:
        parts.append(result.skipped[p])
    return new_ids_unnamed(" and " + ", ".join(parts), result) if parts else ""


def new_ids_unnamed(text: str, result: PipelineResult) -> str:
    """``text`` with each id the run allocated shown as ``(new)``: a preview allocates
    ids that ``fix`` will not (it allocates its own, later), so naming one would mislead."""
    for doc in result.new_ids.values():
        text = text.replace(doc, NEW_ID)
    return text


def _unrecorded(plan: Plan, p: str, new: str, result: PipelineResult,
                gone_by_id: dict[str, str], taker: dict[str, str], carry: str) -> list[D.Drift]:
    if p in plan.known:  # an invalid record's id, found by blob: reported as invalid_record
        return []
    src = gone_by_id.get(new)
    if src is not None:
        return [D.Drift(D.MOVED, new, p, f"moved from {src}; fix moves its record{carry}")]
    claim = plan.claims.get(p)
    if p in result.new_ids and claim is not None:
        keeper = plan.by_id.get(claim, [None])[0] or taker.get(claim) or "another file"
        return [D.Drift(D.DUPLICATE_ID, claim, p,
                        f"claims {claim}, which {keeper} keeps; fix gives this file a new "
                        f"id{carry}")]
    if p in result.new_ids:
        return [D.Drift(D.UNTRACKED, None, p,
                        f"not in the registry; fix registers it with a new id{carry}")]
    return [D.Drift(D.UNTRACKED, new, p,
                    f"not in the registry; fix registers it with the id it claims{carry}")]


def _recorded(plan: Plan, p: str, new: str, result: PipelineResult,
              changes: dict[str, dict[str, object] | None], taker: dict[str, str],
              acts: list[Action], carry: str) -> list[D.Drift]:
    rec = plan.rec_at[p].rec
    i = rec["doc_id"]
    if new != i:
        if p in result.new_ids:
            keeper = plan.id_losers.get(p) or taker.get(i) or "another file"
            return [D.Drift(D.DUPLICATE_ID, i, p, f"{keeper} also holds {i} and keeps it; "
                            f"fix gives this file a new id{carry}")]
        kind = D.MISNAMED if file_renamer.claimed_prefix_id(p) == new else D.HEADER_MISMATCH
        what = "name" if kind == D.MISNAMED else "header"
        return [D.Drift(kind, i, p, f"its {what} claims {new} but the registry records {i}; "
                        f"fix moves the record to {new}{carry}")]
    out = []
    if rec["blob"] != plan.tree.docs[p].blob:
        out.append(D.Drift(D.MODIFIED, i, p, f"content changed; fix updates its record{carry}"))
    for a in acts:
        if a.kind == "rename":
            out.append(D.Drift(D.MISNAMED, i, p, f"the name does not carry {i}; fix renames "
                               f"it to {a.new_path}"))
        elif plan.header_claims.get(p) is None:
            out.append(D.Drift(D.HEADER_MISSING, i, p,
                               f"no doc_id header; fix adds doc_id: {i}"))
        else:
            out.append(D.Drift(D.HEADER_MISMATCH, i, p,
                               f"the header claims {plan.header_claims[p]}; fix rewrites "
                               f"it to {i}"))
    if p in result.skipped and not acts:
        out.append(D.Drift(D.MISNAMED, i, p, result.skipped[p]))
    if out:
        return out
    planned = changes.get(i)
    if isinstance(planned, dict):
        diffs = [f"{k} {rec.get(k)!r} -> {planned.get(k)!r}" for k in _COMPARED
                 if k in planned and planned.get(k) != rec.get(k)]
        if diffs:
            out.append(D.Drift(D.MODIFIED, i, p, "record out of date (" + ", ".join(diffs)
                               + "); fix updates it"))
    return out


def unrepaired(plan: Plan, result: PipelineResult, drifts: list[D.Drift]) -> dict[str, str]:
    """The paths of ``drifts`` this run leaves as they are, with why: what ``fix`` says it
    could not repair (and exits 1 for), and what ``check`` still reports after it."""
    skipped = {**plan.tree.skipped, **result.skipped}
    return {d.path: skipped[d.path] for d in drifts if d.path in skipped}
