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

from collections.abc import Callable, Iterable, Mapping

from regauto import git, jsonload
from regauto.errors import GitError
from regauto.project import Project
from regauto.registry import records

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
