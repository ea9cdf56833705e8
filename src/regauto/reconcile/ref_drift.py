"""The drift ``broken_reference`` (issue 13): a reference to a registered document that now
lives at another path (its doc_id is found elsewhere), reported on the referring file and
line; ``fix`` rewrites it.

Where a document went: a ``moved`` drift (the file was moved behind regauto's back: the
registry still records the old path, the tree holds the id at the new one), or — for a
reference to a name that exists nowhere — a registered file in the same folder whose name
is that name with a doc_id prefix (regauto renamed it; the link came later, or from another
branch).  The files are scanned only when there is a move to look for, or when
``references = "all"`` also asks for references to paths that exist nowhere and regauto
never knew (those are reported, never repaired: they may pre-date regauto, or name a build
artefact).
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field

from regauto.automation import file_renamer, ref_effects, references
from regauto.automation.references import Reference
from regauto.automation.tree import list_documents
from regauto.project import Project
from regauto.reconcile import drift as D
from regauto.reconcile.plan import Plan

DOC_SUFFIXES = (".rst", ".md", ".txt", ".markdown", ".ipynb")
NOT_REWRITABLE = ("a rule pins this file to registry mode (vendored, generated or fixture): "
                  "regauto never modifies it; fix the reference by hand")


@dataclass
class Found:
    drifts: list[D.Drift] = field(default_factory=list)
    plans: list[ref_effects.FilePlan] = field(default_factory=list)
    unrepairable: dict[str, str] = field(default_factory=dict)


def moves(plan: Plan, drifts: list[D.Drift]) -> dict[str, str]:
    """Old recorded path -> new path, for every ``moved`` drift of ``drifts``."""
    gone_by_id = {ln.rec["doc_id"]: p for p, ln in plan.rec_at.items()
                  if p not in plan.tree.docs}
    return {gone_by_id[d.doc_id]: d.path for d in drifts
            if d.kind == D.MOVED and d.doc_id in gone_by_id}


def _exists(root: str, ref: Reference) -> bool:
    if not ref.doc:
        return os.path.lexists(os.path.join(root, ref.target))
    return any(os.path.lexists(os.path.join(root, ref.target + s)) for s in DOC_SUFFIXES)


def _prefixed(ref: Reference, by_dir: dict[str, list[str]]) -> str | None:
    """A file next to the missing target whose name is the target's with a doc_id prefix."""
    folder, name = posixpath.split(ref.target)
    for p in by_dir.get(folder, ()):
        bare = p.rsplit("/", 1)[-1][17:]
        if (posixpath.splitext(bare)[0] if ref.doc else bare) == name:
            return p
    return None


def find(project: Project, moved: dict[str, str], *, all_refs: bool) -> Found:
    """Every broken reference in the tree's documents, given ``moved`` (old -> new)."""
    found = Found()
    if not moved and not all_refs:
        return found
    root = project.root
    config = project.config
    docs = list_documents(root, config, project.is_git)
    by_dir: dict[str, list[str]] = {}
    for p in docs:
        if file_renamer.claimed_prefix_id(p) is not None:
            by_dir.setdefault(posixpath.dirname(p), []).append(p)
    dirs = ref_effects.srcdirs(root)
    # Only the files mentioning a moved file's name can refer to it, unless all are asked.
    scan = set(docs) if all_refs else set(ref_effects.candidates(project, moved))
    for path in docs:
        if path not in scan or not references.can_refer(path):
            continue
        try:
            data = (root / path).read_bytes()
        except OSError:
            continue
        file_moves: dict[str, str] = {}
        for ref in references.scan(path, data, ref_effects.srcdir_of(path, dirs)):
            if _exists(str(root), ref):
                continue
            new = references.target_of(ref, moved) or _prefixed(ref, by_dir)
            if new is not None:
                old = ref.target if not ref.doc else next(
                    (o for o in moved if ref.names(o)), ref.target)
                file_moves[old] = new
                claimed = file_renamer.claimed_prefix_id(new)
                found.drifts.append(D.Drift(
                    D.BROKEN_REFERENCE, claimed, path,
                    f"line {ref.line}: names {ref.written}, which moved to {new}; "
                    "fix rewrites the reference"))
            elif all_refs:
                found.drifts.append(D.Drift(
                    D.BROKEN_REFERENCE, None, path,
                    f"line {ref.line}: names {ref.written}, which exists nowhere and regauto "
                    "never knew (not repaired)"))
                found.unrepairable[path] = "a reference to a path regauto never knew"
        if file_moves:
            if not ref_effects.may_rewrite(config, path):
                found.unrepairable[path] = NOT_REWRITABLE
                continue
            fp = ref_effects.plan_file(path, data, _with_doc_keys(file_moves),
                                       ref_effects.srcdir_of(path, dirs))
            if fp.rewrites:
                found.plans.append(fp)
    return found


def _with_doc_keys(moves_: dict[str, str]) -> dict[str, str]:
    """For a docname reference the key is a stem; give it a suffix so ``names`` matches."""
    out = {}
    for old, new in moves_.items():
        if posixpath.splitext(old)[1]:
            out[old] = new
        else:
            out[old + posixpath.splitext(new)[1]] = new
    return out


def apply(project: Project, plans: list[ref_effects.FilePlan],
          unrepaired: dict[str, str]) -> list[str]:
    """Write ``plans`` and register the rewritten files again; one line per rewrite."""
    from regauto.automation.pipeline import Pipeline
    from regauto.events.suppression_manager import SuppressionManager

    if not plans:
        return []
    suppress = SuppressionManager(project.state_dir)
    ttl = project.config.watch.suppress_ms
    done, left = ref_effects.apply(project.root, plans,
                                   lambda p: suppress.suppress_many({p}, ttl_ms=ttl))
    for path in left:
        unrepaired[path] = "the file changed while fix worked; run fix again"
    paths = sorted({rw.path for rw in done})
    if paths:
        Pipeline(project, reason="fix").run(paths)
    return [rw.describe() for rw in done]
