"""The write-ahead journal of the registry writer, and recovery from an interrupted write.

A multi-shard write is made atomic by recording the intended renames before doing any:

1. every new shard is written to a temp file in the registry folder and fsynced;
2. the journal (the list of ``temp -> shard`` renames and deletions) is written to a temp
   file in the state dir, fsynced and renamed into place: from this instant the write is
   committed;
3. each temp is ``os.replace``d over its shard, the folder is fsynced, the journal removed.

Recovery (run under the registry lock by every command before it reads the registry):
a journal present means the write was committed — finish the renames (roll forward); temp
files without a journal mean it was not — delete them (roll back).  Either way the registry
ends exactly at the hash before or after the interrupted write.

Every file-system step goes through a ``DurableFiles`` (``regauto.durable``), so the fault
tests can fail any one of them with a real ``OSError``.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import NamedTuple

from regauto.durable import PLAIN, DurableFiles
from regauto.errors import BadInputError
from regauto.registry.store import RegistryStore

JOURNAL_NAME = "journal.json"


# A folder regauto may not write to: a read-only mount, an immutable (chattr +i) folder or
# shard, missing permissions, a path through a file.  The user's to fix: exit 2, one line.
_UNWRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST})


def unwritable(e: BaseException, folder: Path) -> BadInputError | None:
    """The one-line error for a write refused by the file system, else None."""
    if not isinstance(e, OSError) or e.errno not in _UNWRITABLE:
        return None
    where = e.filename2 or e.filename or folder  # a rename names its target
    if Path(os.fsdecode(where)).parent == folder and e.filename2 is None:
        where = folder  # a temp file of ours: the folder is what refused it
    return BadInputError(f"{where}: cannot write the registry there ({e.strerror}); "
                         "nothing was changed")


class Journal(NamedTuple):
    registry_dir: str
    base_hash: str
    target_hash: str
    ops: list[tuple[str, str | None]]  # (file name, temp name | None = delete)

    def to_bytes(self) -> bytes:
        return json.dumps(
            {"registry_dir": self.registry_dir, "base_hash": self.base_hash,
             "target_hash": self.target_hash, "ops": self.ops}
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Journal:
        d = json.loads(data)
        return cls(d["registry_dir"], d["base_hash"], d["target_hash"],
                   [(str(a), b) for a, b in d["ops"]])


def journal_path(state_dir: Path) -> Path:
    return state_dir / JOURNAL_NAME


def commit_journal(state_dir: Path, journal: Journal, files: DurableFiles = PLAIN) -> None:
    """Make ``journal`` durable and visible in one atomic step."""
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / (JOURNAL_NAME + ".tmp")
    files.write(tmp, journal.to_bytes())
    files.replace(tmp, journal_path(state_dir))
    files.fsync_dir(state_dir)


def replace_all(store: RegistryStore, ops: list[tuple[str, str | None]],
                files: DurableFiles = PLAIN) -> None:
    """Step 3 of a committed write: every rename (or deletion), then ``finish``.

    If the very first one is refused (see ``unwritable``), the registry is still exactly
    as before: the write is abandoned — journal and temps removed — instead of being left
    committed for every later command to fail on."""
    for i, (name, tmp) in enumerate(ops):
        try:
            _apply_op(store, name, tmp, files)
        except OSError as e:
            err = unwritable(e, store.dir)
            if err is None or i > 0:
                raise
            _abandon(store, files)
            raise err from None
    finish(store, files)


def _abandon(store: RegistryStore, files: DurableFiles) -> None:
    files.unlink(journal_path(store.state_dir))
    files.fsync_dir(store.state_dir)
    _remove_temps(store, files)


def _apply_op(store: RegistryStore, name: str, tmp: str | None, files: DurableFiles) -> None:
    if tmp is None:
        files.unlink(store.dir / name)
    else:
        files.replace(store.dir / tmp, store.dir / name)


def apply_ops(store: RegistryStore, journal: Journal, files: DurableFiles = PLAIN) -> None:
    """Perform (or finish) the renames of a committed journal; idempotent."""
    for name, tmp in journal.ops:
        if tmp is None or (store.dir / tmp).exists():
            _apply_op(store, name, tmp, files)


def finish(store: RegistryStore, files: DurableFiles = PLAIN) -> None:
    if store.dir.is_dir():  # absent when a journal of another folder is being finished
        files.fsync_dir(store.dir)
    files.unlink(journal_path(store.state_dir))
    files.fsync_dir(store.state_dir)


def needs_recovery(store: RegistryStore) -> bool:
    return journal_path(store.state_dir).exists() or bool(store.temp_files()) or (
        store.state_dir / (JOURNAL_NAME + ".tmp")
    ).exists()


def recover(store: RegistryStore, files: DurableFiles = PLAIN) -> str | None:
    """Finish or roll back an interrupted write.  Caller holds the registry lock.

    Returns ``"rolled forward"``, ``"rolled back"`` or None when there was nothing to do.
    """
    jpath = journal_path(store.state_dir)
    outcome: str | None = None
    if jpath.exists():
        try:
            journal: Journal | None = Journal.from_bytes(jpath.read_bytes())
        except (ValueError, KeyError, TypeError):
            journal = None  # cannot happen for a renamed-into-place journal; be safe
        target = _journal_target(store, journal) if journal is not None else None
        if journal is not None and target is not None:
            apply_ops(target, journal, files)
            if target is not store:
                _remove_temps(target, files)
                files.fsync_dir(target.dir)
            outcome = "rolled forward"
        finish(store, files)
    if _remove_temps(store, files):
        outcome = outcome or "rolled back"
    stale_tmp = store.state_dir / (JOURNAL_NAME + ".tmp")
    if stale_tmp.exists() and files.unlink(stale_tmp):
        outcome = outcome or "rolled back"
    if outcome == "rolled back" and store.dir.exists():
        files.fsync_dir(store.dir)
    return outcome


def _journal_target(store: RegistryStore, journal: Journal) -> RegistryStore | None:
    """The registry a committed journal must be rolled forward in.  Normally ``store``; if
    the configuration now names another folder, the journal's own (else it would keep its
    temps and half the write); if that folder is gone because the repository moved, this
    one when the journal's temps are here."""
    named = Path(journal.registry_dir)
    if named == store.dir:
        return store
    if named.is_dir():
        return RegistryStore(named, store.state_dir)
    if any(tmp is not None and (store.dir / tmp).exists() for _, tmp in journal.ops):
        return store
    return None


def _remove_temps(store: RegistryStore, files: DurableFiles) -> bool:
    removed = False
    for name in store.temp_files():
        removed = files.unlink(store.dir / name) or removed
    return removed
