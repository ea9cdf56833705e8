"""``regauto sync --dry-run`` and init's closing summary (issue 13): the plan of a sync —
renames, headers, reference rewrites, new ids — with nothing changed.

The pipeline itself runs through dry seams: effects that record the renames, headers and
reference rewrites (pending actions) instead of making them, a writer that keeps the patch
instead of applying it, and ids planned without being reserved.  New
ids are those the next allocation in this clone gives (``IdAllocator.peek``): the same
unless another allocation comes first or the UTC minute turns in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from regauto.automation.effects import DryEffects
from regauto.automation.id_allocator import Planned
from regauto.automation.pipeline import Action, Pipeline, PipelineResult
from regauto.automation.tree import list_documents
from regauto.project import Project
from regauto.reconcile.repair import DryWriter
from regauto.registry import open_writer


@dataclass
class SyncPlan:
    new_ids: dict[str, str] = field(default_factory=dict)
    actions: list[Action] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    untouched: list[str] = field(default_factory=list)  # pinned to registry by a rule

    def of(self, kind: str) -> list[Action]:
        return [a for a in self.actions if a.kind == kind]

    def lines(self) -> list[str]:
        out = [f"would register {p} as {i}" for p, i in sorted(self.new_ids.items())]
        out += [a.describe() for a in self.actions]
        out += [f"would skip {p}: {why}" for p, why in sorted(self.skipped.items())]
        return out

    def to_json(self) -> dict[str, Any]:
        refs = []
        for a in self.of("reference"):
            line, _, change = a.detail.partition(": ")
            old, _, new = change.partition(" -> ")
            refs.append({"path": a.path, "line": int(line), "old": old, "new": new,
                         "doc_id": a.doc_id})
        return {
            "register": [{"path": p, "doc_id": i} for p, i in sorted(self.new_ids.items())],
            "renames": [{"path": a.path, "new_path": a.new_path, "doc_id": a.doc_id}
                        for a in self.of("rename")],
            "headers": [{"path": a.path, "doc_id": a.doc_id} for a in self.of("header")],
            "references": refs,
            "skipped": [{"path": p, "why": w} for p, w in sorted(self.skipped.items())],
        }


def plan_sync(project: Project, paths: list[str]) -> SyncPlan:
    # A plan never depends on descriptors.
    pipe = Pipeline(project, reason="sync --dry-run", effects=DryEffects(project.root),
                    allocator=Planned(project.state_dir), writer=DryWriter(open_writer(project)),
                    describe=False)
    result: PipelineResult = pipe.run(paths)
    config = project.config
    untouched = [p for p in list_documents(project.root, config, project.is_git)
                 if config.is_included(p) and config.rule_for(p).id_mode == "registry"
                 and config.rule_for(p).match.strip("/") != "**/*"]
    return SyncPlan(dict(result.new_ids), list(result.actions), dict(result.skipped),
                    untouched)


def adoption_summary(project: Project) -> list[str]:
    """init's closing lines: what ``sync --all`` would do, and the links broken already."""
    from regauto.automation.pipeline import all_paths
    from regauto.reconcile import ref_drift

    plan = plan_sync(project, all_paths(project))
    broken = ref_drift.find(project, {}, all_refs=True).drifts
    lines = [
        f"`regauto sync --all` would register {len(plan.new_ids)} file(s), head "
        f"{len(plan.of('header'))}, rename {len(plan.of('rename'))}, rewrite "
        f"{len(plan.of('reference'))} reference(s), and leave {len(plan.untouched)} "
        "vendored/generated/fixture file(s) untouched",
        "`regauto sync --all --dry-run` lists every change; `regauto sync --all` makes them",
    ]
    if broken:
        lines.append(f"{len(broken)} reference(s) already point nowhere, before adoption "
                     "(`regauto check --references all` lists them)")
    return lines
