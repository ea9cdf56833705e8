"""Drift: one way the repository and its registry disagree (SPEC §8.2).

A drift names its ``kind`` (one of :data:`KINDS`), the ``doc_id`` concerned (None when there
is none yet, e.g. a new file), the repository-relative ``path`` (a document, a registry
file, or a generated output) and a one-line ``detail`` saying what is wrong and what
``regauto fix`` will do about it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

UNTRACKED = "untracked"
MISSING = "missing"
MOVED = "moved"
MODIFIED = "modified"
MISNAMED = "misnamed"
HEADER_MISSING = "header_missing"
HEADER_MISMATCH = "header_mismatch"
DUPLICATE_ID = "duplicate_id"
DUPLICATE_PATH = "duplicate_path"
INVALID_RECORD = "invalid_record"
EXCLUDED = "excluded"
NONCANONICAL = "noncanonical"
STALE_OUTPUT = "stale_output"
EDITED_OUTPUT = "edited_output"
BROKEN_REFERENCE = "broken_reference"  # path: the referring file; detail: line and target
ID_CHANGED = "id_changed"  # check --base only
ID_LOST = "id_lost"  # check --base only

KINDS: tuple[str, ...] = (
    UNTRACKED, MISSING, MOVED, MODIFIED, MISNAMED, HEADER_MISSING, HEADER_MISMATCH,
    DUPLICATE_ID, DUPLICATE_PATH, INVALID_RECORD, EXCLUDED, NONCANONICAL, STALE_OUTPUT,
    EDITED_OUTPUT, BROKEN_REFERENCE, ID_CHANGED, ID_LOST,
)


@dataclass(frozen=True)
class Drift:
    kind: str
    doc_id: str | None
    path: str
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def sort_drifts(drifts: list[Drift]) -> list[Drift]:
    """The stable order of every output: by kind, then path, then doc_id."""
    return sorted(set(drifts), key=lambda d: (d.kind, d.path, d.doc_id or "", d.detail))


@dataclass
class Report:
    """What ``check`` found, or what ``fix`` did (``actions``: one line per change).

    ``unrepaired``: the paths among the drifts that ``fix`` leaves as they are, with why (a
    file the pipeline cannot process, a rename it must refuse): still drift for ``check``,
    and the reason ``fix`` exits 1."""

    drifts: list[Drift] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    unrepaired: dict[str, str] = field(default_factory=dict)
    applied: bool = False
    registry_hash: str = ""
    diff: str = ""

    @property
    def clean(self) -> bool:
        return not self.drifts

    @property
    def repaired(self) -> list[Drift]:
        """The drifts ``fix`` repairs (or, after it ran, repaired)."""
        return [d for d in self.drifts if d.path not in self.unrepaired]

    def by_kind(self) -> dict[str, list[Drift]]:
        out: dict[str, list[Drift]] = {}
        for d in sort_drifts(self.drifts):
            out.setdefault(d.kind, []).append(d)
        return out
