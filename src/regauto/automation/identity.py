"""Who keeps a contested doc_id (SPEC §8.2 ``duplicate_id``): one rule for ``sync`` (the
pipeline) and ``fix`` (the reconciler's plan), so the two never part ways.

The file the registry records for the id keeps it; when the registry records it at several
paths (both branches of a merge registered it), the first of them in path order whose file
still exists and claims no other id.  With no such record, the claimant whose path sorts
first keeps it.  Every other claimant gets a new id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


def keeper(recorded: Iterable[str], claimants: Iterable[str],
           holds: Callable[[str], bool]) -> str | None:
    """The path that keeps the id.

    ``recorded``: the paths the registry records the id at; ``claimants``: existing files
    that claim it (name prefix or header); ``holds(path)``: does the file at a recorded
    path still exist and claim this id or none?  None when nobody holds or claims it."""
    for path in sorted(recorded):
        if holds(path):
            return path
    return min(claimants, default=None)
