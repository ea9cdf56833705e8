"""RegistryWriterService: the only code that writes the registry (SPEC §7).

``apply(patch)``, under the registry lock: recover an interrupted write; compare the
patch's ``base_hash`` with the current registry_hash (``CASConflict`` on mismatch, nothing
written); plan it in memory (``writer_plan``: only the shards it touches); back up
the shards about to change; write them atomically through the journal (``journal.py``);
verify the new hash; update the id index and the statistics.  A patch that changes nothing
writes nothing.  Post-write hooks (the generator orchestrator) run after the lock is
released.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import NamedTuple

from regauto import durable, stages
from regauto.durable import DurableFiles
from regauto.errors import CASConflict, RegistryFormatError
from regauto.events.lock_manager import LockManager
from regauto.registry import backups, journal, writer_stats
from regauto.registry.id_index import IdIndex
from regauto.registry.promotion_patch import PromotionPatch
from regauto.registry.records import META_NAME
from regauto.registry.store import TMP_MARK, RegistryStore, gc_paused, hash_of_manifest
from regauto.registry.writer_plan import WritePlan, WritePlanner, target_of


class WriteResult(NamedTuple):
    changed: bool
    base_hash: str
    new_hash: str
    shards_written: tuple[str, ...] = ()
    records_changed: int = 0
    bytes_written: int = 0
    changed_ids: tuple[str, ...] = ()


class RegistryWriterService:
    def __init__(
        self,
        store: RegistryStore,
        locks: LockManager,
        *,
        keep_backups: int = 20,
        lock_timeout: float | None = None,
        files: DurableFiles | None = None,
    ) -> None:
        self.store = store
        self.locks = locks
        self.keep_backups = keep_backups
        self.lock_timeout = lock_timeout
        self.post_write_hooks: list[Callable[[WriteResult], None]] = []
        self._index: IdIndex | None = None
        # Every file-system step of a write goes through ``files``: a test hands in (or
        # names, through the environment) one whose step N fails like a real disk.
        self.files = durable.for_process() if files is None else files

    # -- reading helpers -----------------------------------------------------------------
    @property
    def index(self) -> IdIndex:
        if self._index is None:
            self._index = IdIndex(self.store)
        return self._index

    def ensure_recovered(self) -> str | None:
        """Finish or roll back an interrupted write, if one is visible (takes the lock)."""
        if not journal.needs_recovery(self.store):
            return None
        with self.locks.registry(timeout=self.lock_timeout):
            return self._recover_locked()

    def _recover_locked(self) -> str | None:
        outcome = journal.recover(self.store, self.files)
        if outcome == "rolled forward":
            writer_stats.bump(self.store.state_dir, recoveries=1)
        elif outcome == "rolled back":
            writer_stats.bump(self.store.state_dir, rollbacks=1)
        return outcome

    def current_hash(self) -> str:
        """The registry_hash under the lock, so a write in progress is never half seen."""
        with self.locks.registry(timeout=self.lock_timeout):
            self._recover_locked()
            return self.store.registry_hash()

    # -- the write path --------------------------------------------------------------------
    @stages.timed("write the registry")
    def apply(self, patch: PromotionPatch) -> WriteResult:
        with self.locks.registry(timeout=self.lock_timeout), gc_paused():
            result = self._apply_locked(patch)
        if result.changed:
            for hook in self.post_write_hooks:
                hook(result)
        return result

    def _apply_locked(self, patch: PromotionPatch) -> WriteResult:
        self._recover_locked()
        manifest = self.store.manifest()
        current = hash_of_manifest(manifest)
        if patch.base_hash != current:
            writer_stats.bump(self.store.state_dir, conflicts=1)
            raise CASConflict(patch.base_hash, current)
        plan = self._planner().plan(patch, manifest)
        writes = {
            n: t for n, t in plan.new_texts.items() if t != plan.old_texts.get(n)
        }
        if not writes:
            writer_stats.bump(self.store.state_dir, noops=1)
            return WriteResult(False, current, current)
        target_manifest, target = target_of(manifest, writes)
        folder = backups.save(
            self.store.state_dir,
            {n: plan.old_texts.get(n) for n in writes},
            current,
            target,
            self.keep_backups,
            source_dir=self.store.dir,
        )
        try:
            nbytes = self._write_atomically(writes, current, target)
        except BaseException:
            if not self._landed(target):
                backups.discard(folder)  # rolled back: nothing was written
            raise
        self._verify(target, writes, plan)
        self.index.record_write(
            {n: (manifest.get(n), target_manifest.get(n)) for n in writes if n != META_NAME},
            plan.rows_by_shard, plan.changed_ids, patch.repair_shards,
            ordered=plan.ordered, partial=plan.partial,
        )
        writer_stats.bump(self.store.state_dir, writes=1, bytes_written=nbytes,
                          last_write=writer_stats.now_iso())
        return WriteResult(
            True, current, target, tuple(sorted(writes)), len(plan.changed_ids), nbytes,
            tuple(sorted(plan.changed_ids)),
        )

    # -- the write path without the write, and whole-file restore (the reconciler) --------
    def preview(self, patch: PromotionPatch) -> dict[str, tuple[str | None, str | None]]:
        """The registry files ``patch`` would change, ``{name: (old text, new text)}`` (None:
        absent), planned exactly as ``apply`` plans them — nothing is written.  Raises
        ``CASConflict`` when the registry moved past ``patch.base_hash``."""
        with self.locks.registry(timeout=self.lock_timeout):
            self._recover_locked()
            manifest = self.store.manifest()
            current = hash_of_manifest(manifest)
            if patch.base_hash != current:
                raise CASConflict(patch.base_hash, current)
            plan = self._planner().plan(patch, manifest)
        return {n: (plan.old_texts.get(n), t) for n, t in sorted(plan.new_texts.items())
                if t != plan.old_texts.get(n)}

    def restore(self, texts: dict[str, str | None], base_hash: str | None) -> WriteResult:
        """Replace whole registry files (None: delete) with the given texts, through the same
        lock, backup, journal and verification as ``apply`` — for ``regauto fix`` restoring
        a registry that no longer parses, which ``apply`` cannot plan against.  The caller
        vouches for the texts (they come from a backup or a salvage, already parsed).
        ``base_hash`` None: the caller holds the registry lock and read the files under it,
        so the registry as it is now is the base (no second hash of every file)."""
        with self.locks.registry(timeout=self.lock_timeout):
            self._recover_locked()
            manifest = self.store.manifest()
            current = hash_of_manifest(manifest)
            if base_hash is not None and base_hash != current:
                writer_stats.bump(self.store.state_dir, conflicts=1)
                raise CASConflict(base_hash, current)
            old: dict[str, str | None] = {}
            raw: dict[str, bytes | None] = {}
            for n in texts:
                try:
                    data: bytes | None = (self.store.dir / n).read_bytes()
                except FileNotFoundError:
                    data = None
                raw[n] = data
                old[n] = None if data is None else data.decode("utf-8", "replace")
            # Bytes compared: a file that is not UTF-8 decodes to its repaired text.
            writes = {n: t for n, t in texts.items()
                      if (None if t is None else t.encode("utf-8")) != raw[n]}
            if not writes:
                return WriteResult(False, current, current)
            _, target = target_of(manifest, writes)
            # Linked, not written: the old bytes exactly, even where ``old`` decoded them
            # with replacement characters.
            backups.save(self.store.state_dir, {n: old[n] for n in writes}, current, target,
                         self.keep_backups, source_dir=self.store.dir)
            nbytes = self._write_atomically(writes, current, target)
            self._verify(target, writes, WritePlan(manifest, old, dict(writes), {}))
            writer_stats.bump(self.store.state_dir, writes=1, bytes_written=nbytes,
                              last_write=writer_stats.now_iso())
        return WriteResult(True, current, target, tuple(sorted(writes)), 0, nbytes)

    def _planner(self) -> WritePlanner:
        return WritePlanner(self.store, self.index)

    def _landed(self, target: str) -> bool:
        """After a failed write: did it commit (it is, or will be rolled forward, there)?
        When that cannot be told, yes: a backup kept for nothing costs little."""
        try:
            return (journal.journal_path(self.store.state_dir).exists()
                    or self.store.registry_hash() == target)
        except OSError:
            return True

    def _write_atomically(self, writes: dict[str, str | None], base: str, target: str) -> int:
        """Temps, journal, renames (``journal.py``).  An error before the journal is in
        place rolls back here, and is raised; one after it is raised as it is: the write is
        committed, and the next command (or this writer's next write) rolls it forward."""
        store, files = self.store, self.files
        ops: list[tuple[str, str | None]] = []
        nbytes = 0
        try:
            store.dir.mkdir(parents=True, exist_ok=True)
            for name, text in sorted(writes.items()):
                if text is None:
                    ops.append((name, None))
                    continue
                tmp_name = f".{name}{TMP_MARK}"
                data = text.encode("utf-8")
                files.write(store.dir / tmp_name, data)
                nbytes += len(data)
                ops.append((name, tmp_name))
            journal.commit_journal(
                store.state_dir, journal.Journal(str(store.dir), base, target, ops), files
            )
        except BaseException as e:
            # Not committed, unless the journal is in place (an error syncing its folder):
            # recovery removes what we wrote, or finishes the write.
            with contextlib.suppress(OSError):  # the first error is the one to report
                outcome = journal.recover(store, files)
                writer_stats.bump(store.state_dir, **{
                    "recoveries" if outcome == "rolled forward" else "rollbacks": 1})
            err = journal.unwritable(e, store.dir)
            if err is not None:
                raise err from None
            raise
        journal.replace_all(store, ops, files)
        return nbytes

    def _verify(self, target: str, writes: dict[str, str | None], plan: WritePlan) -> None:
        actual = self.store.registry_hash()
        if actual == target:
            return
        # Someone changed the folder under us (not through the lock), or the disk lied:
        # put back what was there before and say so.
        restore = {n: plan.old_texts.get(n) for n in writes}
        self._write_atomically(restore, target, "")
        writer_stats.bump(self.store.state_dir, rollbacks=1)
        raise RegistryFormatError(
            f"{self.store.dir}: verification after write failed (expected {target}, "
            f"found {actual}); the write was rolled back"
        )
