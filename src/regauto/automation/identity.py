"""Who keeps a contested doc_id (SPEC §8.2 ``duplicate_id``): one rule for ``sync`` (the
pipeline) and ``fix`` (the reconciler's plan), so the two never part ways.

The file the registry records for the id keeps it, if it still exists and claims no other
id.  When the registry records the id at several such paths — both branches of a merge
registered a file with it, and the records sit in different shards, so the merge driver
never saw both — the path that held it on the merge's target branch keeps it: walking
HEAD's first-parent history over those paths' shards, the newest commit whose registry
records the id at exactly one of them names the keeper (:func:`first_holders`).  That is
the file the target branch, and whatever refers to it there, knew by this id.  When history
cannot tell (no git, no commit yet, the contest is older than the commits read or a shallow
clone's horizon, or both records arrived in one commit), the first of the paths in path
order keeps it.  With no such record, the claimant whose path sorts first keeps it.  Every
other claimant gets a new id.

Cost: the history is read only for ids recorded at several live paths — rare, and a run
without one runs no git command here — with one ``git log`` and, usually, one
``git cat-file --batch`` for all of them together.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from regauto import docid, git, jsonload
from regauto.automation import file_renamer
from regauto.errors import GitError
from regauto.project import Project
from regauto.registry import records
from regauto.registry.records import Record

# How many first-parent commits that changed the contested shards are read at most.  A
# merge's contest is decided by the first one or two; past this the walk gives up rather
# than read a long history of busy shards.
HISTORY_COMMITS = 64


def holding(recorded: Iterable[str], holds: Callable[[str], bool]) -> list[str]:
    """The recorded paths whose file still holds the id (``holds``: exists and claims this
    id or none), in path order."""
    return [p for p in sorted(recorded) if holds(p)]


def keeper(held: list[str], claimants: Iterable[str], first: str | None = None) -> str | None:
    """The path that keeps the id.

    ``held``: the recorded paths that still hold it (:func:`holding`); ``claimants``: existing
    files that claim it (name prefix or header); ``first``: the holder history names
    (:func:`first_holders`), if any.  None when nobody holds or claims it."""
    if first in held:
        return first
    return held[0] if held else min(claimants, default=None)


def first_holders(project: Project, contests: Mapping[str, list[str]]) -> dict[str, str]:
    """For each id the registry records at several live paths (``contests``: id -> paths),
    the path HEAD's first-parent history recorded it at alone most recently, i.e. just
    before the contest appeared; ids history does not decide are left out.  Runs no git
    command without a contest or outside git."""
    if not contests or not project.is_git:
        return {}
    reg = project.config.registry.strip("/")
    shards = {i: sorted({records.shard_of(p) for p in paths}) for i, paths in contests.items()}
    try:
        commits = git.first_parent_commits(
            project.root, [f"{reg}/{s}" for s in sorted(set().union(*shards.values()))],
            HISTORY_COMMITS)
        return _walk(project, reg, commits, contests, shards)
    except GitError:
        return {}  # no commit yet, or git cannot read its history: path order decides


def _walk(project: Project, reg: str, commits: list[str], contests: Mapping[str, list[str]],
          shards: dict[str, list[str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    pending = dict(contests)
    start, step = 0, 2  # the usual answer is in the first two commits: read more only then
    while pending and start < len(commits):
        chunk = commits[start:start + step]
        names = sorted({s for i in pending for s in shards[i]})
        wanted = [(c, f"{reg}/{s}") for c in chunk for s in names]
        texts = dict(zip(wanted, git.files_at(project.root, wanted), strict=True))
        for c in chunk:
            for i in list(pending):
                at = _recorded_at(i, pending[i], (texts[(c, f"{reg}/{s}")] for s in shards[i]))
                if len(at) == 1:
                    found[i] = at[0]
                if len(at) < 2:  # decided, or recorded at none of them: older is no wiser
                    del pending[i]
        start += step
        step *= 4
    return found


def _recorded_at(doc_id: str, paths: list[str], shard_texts: Iterable[bytes | None]) -> list[str]:
    """Which of ``paths`` these shard versions record ``doc_id`` at."""
    needle = f'"doc_id": "{doc_id}"'.encode()
    at: set[str] = set()
    for text in shard_texts:
        for line in (text or b"").split(b"\n"):
            if needle not in line:
                continue  # parse only the lines that can matter
            try:
                rec = jsonload.loads(line.decode("utf-8"))  # a hostile commit may nest deep
            except ValueError:
                continue
            if isinstance(rec, dict) and rec.get("doc_id") == doc_id and rec.get("path") in paths:
                at.add(rec["path"])
    return sorted(at)


# -- the pipeline's identity step (SPEC §4.3) -------------------------------------------------
def holders_wanted(claims: Mapping[str, str | None], by_path: Mapping[str, Record],
                   count: Counter[Any]) -> list[str]:
    """The claimed ids whose holders the registry must be asked for: an id recorded once,
    at the very path that claims it, has no other holder (and a sync of 100k files does
    not read the registry twice)."""
    return sorted({
        c for p, c in claims.items() if c is not None
        and not ((by_path.get(p) or {}).get("doc_id") == c and count[c] == 1)
    })


def batch_keepers(
    project: Project, claims: Mapping[str, str | None], by_path: Mapping[str, Record],
    holders: Mapping[str, list[Record]], count: Counter[Any], *,
    in_batch: Collection[str], exists: Callable[[str], bool],
) -> tuple[dict[str, str | None], dict[str, Record | None]]:
    """Who keeps each contested id (:func:`keeper`): an id the registry records at several
    paths, or at a path other than a claimant's.  And, for each id recorded at several
    paths, its keeper's record when that file is outside the batch (written back alone,
    which drops the losers' lines), else None.  An id only batch files claim, recorded
    nowhere, goes to the first of them in path order, the order the pipeline resolves them
    in: it needs no entry.  ``exists``: does a path outside the batch exist in the source
    (its header is not read: that file is not part of this sync)."""
    contested = set(holders)
    if len(count) < len(by_path):  # some id is recorded at two batch paths
        contested |= {i for i, n in count.items() if n > 1 and i is not None}
    if not contested:
        return {}, {}
    recorded: dict[str, dict[str, Record]] = {i: {} for i in contested}
    for rec in itertools.chain(by_path.values(), *holders.values()):
        i, p = rec.get("doc_id"), rec.get("path")
        if i in recorded and isinstance(p, str):
            recorded[i][p] = rec
    claimants: dict[str, list[str]] = {i: [] for i in contested}
    for p, c in claims.items():
        if c in claimants:
            claimants[c].append(p)
    held: dict[str, list[str]] = {}  # id -> its recorded paths whose file holds it
    for i in sorted(contested):
        if len(recorded[i].keys() | claimants[i]) > 1:  # else e.g. the claimant's own record
            held[i] = holding(recorded[i], functools.partial(
                _holds, claims, in_batch, exists, doc_id=i))
    first = first_holders(project, {i: h for i, h in held.items() if len(h) > 1})
    keepers: dict[str, str | None] = {}
    shared: dict[str, Record | None] = {}
    for i, h in held.items():
        at = recorded[i]
        keep = keepers[i] = keeper(h, claimants[i], first.get(i))
        if len(at) > 1:
            shared[i] = at[keep] if keep in at and keep not in in_batch else None
    return keepers, shared


def _holds(claims: Mapping[str, str | None], in_batch: Collection[str],
           exists: Callable[[str], bool], path: str, doc_id: str) -> bool:
    """Does the file the registry records at ``path`` still hold ``doc_id`` (exist and
    claim it or nothing)?"""
    if path in in_batch:
        return path in claims and claims[path] in (None, doc_id)
    return exists(path) and file_renamer.claimed_prefix_id(path) in (None, doc_id)


@dataclass
class Known:
    """What one attempt resolves identities against: the batch's records, the keepers of
    contested ids, the records whose file is gone (by path and by blob), git's renames
    (new path -> old), and the ids taken so far."""

    by_path: Mapping[str, Record]
    keepers: Mapping[str, str | None]
    gone: Mapping[str, Record]
    renames: Mapping[str, str]
    used: set[str] = field(default_factory=set)
    by_blob: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for p, rec in self.gone.items():
            self.by_blob.setdefault(rec["blob"], []).append(p)

    def free(self, doc: str, path: str) -> bool:
        """Not taken, and kept by nobody else."""
        return doc not in self.used and self.keepers.get(doc, path) in (None, path)

    def resolve(self, path: str, blob: str, claimed: str | None) -> str | None:
        """The id of the file at ``path``: the one it claims; the record at its path; a
        record it moved from (git's rename, or a gone record with its blob); None: it
        needs a new one."""
        if claimed is not None and self.free(claimed, path):
            return claimed
        rec = self.by_path.get(path)
        if rec is not None:
            rid = rec.get("doc_id")
            if (isinstance(rid, str) and docid.is_valid(rid) and rid != claimed
                    and self.free(rid, path)):
                return rid
        old = self.renames.get(path)
        if old is not None and old in self.gone:
            doc = self.gone[old].get("doc_id")
            if isinstance(doc, str) and self.free(doc, path):
                return doc
        for old_path in self.by_blob.get(blob, []):
            doc = self.gone[old_path].get("doc_id")
            if isinstance(doc, str) and self.free(doc, path):
                return doc
        return None
