"""RegistryWriterService: the only code that writes the registry (SPEC §7).

``apply(patch)``, under the registry lock: recover an interrupted write; compare the
patch's ``base_hash`` with the current registry_hash (``CASConflict`` on mismatch, nothing
written); load only the shards the patch touches; apply it in memory; validate; back up
the shards about to change; write them atomically through the journal (``journal.py``);
verify the new hash; update the id index and the statistics.  A patch that changes nothing
writes nothing.  Post-write hooks (the generator orchestrator) run after the lock is
released.
"""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from regauto import stages
from regauto.errors import PatchError, RegistryFormatError
from regauto.events.lock_manager import LockManager
from regauto.registry import backups, journal, record_checks, records, writer_stats
from regauto.registry.id_index import IdIndex
from regauto.registry.promotion_patch import PromotionPatch, merge_patch
from regauto.registry.records import META_NAME, META_TEXT, Record
from regauto.registry.store import (
    TMP_MARK,
    RegistryStore,
    ShardLines,
    gc_paused,
    hash_of_manifest,
    insertion_point,
    lines_ordered,
    path_bytes,
    text_sha256,
)

# Test seams for the fault-injection and kill -9 tests: name a step, and the writer raises
# (REGAUTO_TEST_FAULT) or SIGKILLs itself (REGAUTO_TEST_CRASH) when it reaches it.
FAULT_ENV = "REGAUTO_TEST_FAULT"
CRASH_ENV = "REGAUTO_TEST_CRASH"


class InjectedFault(RuntimeError):
    pass


@dataclass(frozen=True)
class WriteResult:
    changed: bool
    base_hash: str
    new_hash: str
    shards_written: tuple[str, ...] = ()
    records_changed: int = 0
    bytes_written: int = 0
    changed_ids: tuple[str, ...] = ()


@dataclass
class _Plan:
    manifest: dict[str, str]
    old_texts: dict[str, str | None]
    new_texts: dict[str, str | None]
    # (doc_id, path) of every record of each planned shard, for the id index
    rows_by_shard: dict[str, list[tuple[str | None, str | None]]]
    changed_ids: list[str] = field(default_factory=list)
    ordered: dict[str, bool] = field(default_factory=dict)  # new shard is ordered (id_index)
    partial: set[str] = field(default_factory=set)  # rows_by_shard holds changed ids only


class RegistryWriterService:
    def __init__(
        self,
        store: RegistryStore,
        locks: LockManager,
        *,
        keep_backups: int = 20,
        lock_timeout: float | None = None,
    ) -> None:
        self.store = store
        self.locks = locks
        self.keep_backups = keep_backups
        self.lock_timeout = lock_timeout
        self.post_write_hooks: list[Callable[[WriteResult], None]] = []
        self._index: IdIndex | None = None
        self._fault = os.environ.get(FAULT_ENV)
        self._crash = os.environ.get(CRASH_ENV)

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
        outcome = journal.recover(self.store)
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
        from regauto.errors import CASConflict

        self._recover_locked()
        manifest = self.store.manifest()
        current = hash_of_manifest(manifest)
        if patch.base_hash != current:
            writer_stats.bump(self.store.state_dir, conflicts=1)
            raise CASConflict(patch.base_hash, current)
        plan = self._plan(patch, manifest)
        writes = {
            n: t for n, t in plan.new_texts.items() if t != plan.old_texts.get(n)
        }
        if not writes:
            writer_stats.bump(self.store.state_dir, noops=1)
            return WriteResult(False, current, current)
        target_manifest, target = _target(manifest, writes)
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
            if not journal.journal_path(self.store.state_dir).exists():
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
        from regauto.errors import CASConflict

        with self.locks.registry(timeout=self.lock_timeout):
            self._recover_locked()
            manifest = self.store.manifest()
            current = hash_of_manifest(manifest)
            if patch.base_hash != current:
                raise CASConflict(patch.base_hash, current)
            plan = self._plan(patch, manifest)
        return {n: (plan.old_texts.get(n), t) for n, t in sorted(plan.new_texts.items())
                if t != plan.old_texts.get(n)}

    def restore(self, texts: dict[str, str | None], base_hash: str) -> WriteResult:
        """Replace whole registry files (None: delete) with the given texts, through the same
        lock, backup, journal and verification as ``apply`` — for ``regauto fix`` restoring
        a registry that no longer parses, which ``apply`` cannot plan against.  The caller
        vouches for the texts (they come from a backup or a salvage, already parsed)."""
        from regauto.errors import CASConflict

        with self.locks.registry(timeout=self.lock_timeout):
            self._recover_locked()
            manifest = self.store.manifest()
            current = hash_of_manifest(manifest)
            if base_hash != current:
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
            _, target = _target(manifest, writes)
            # Linked, not written: the old bytes exactly, even where ``old`` decoded them
            # with replacement characters.
            backups.save(self.store.state_dir, {n: old[n] for n in writes}, current, target,
                         self.keep_backups, source_dir=self.store.dir)
            nbytes = self._write_atomically(writes, current, target)
            self._verify(target, writes, _Plan(manifest, old, dict(writes), {}))
            writer_stats.bump(self.store.state_dir, writes=1, bytes_written=nbytes,
                              last_write=writer_stats.now_iso())
        return WriteResult(True, current, target, tuple(sorted(writes)), 0, nbytes)

    def _step(self, name: str) -> None:
        if self._crash and name.startswith(self._crash):
            os.kill(os.getpid(), signal.SIGKILL)
        if self._fault and name.startswith(self._fault):
            raise InjectedFault(f"injected fault at {name}")

    def _write_atomically(self, writes: dict[str, str | None], base: str, target: str) -> int:
        store = self.store
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
                self._step("temp_write")
                journal.write_durable(store.dir / tmp_name, data, self._step)
                nbytes += len(data)
                ops.append((name, tmp_name))
            self._step("journal_write")
            journal.commit_journal(
                store.state_dir, journal.Journal(str(store.dir), base, target, ops)
            )
        except BaseException as e:
            # Not committed: remove what we wrote; the registry was never touched.
            journal.recover(store)
            writer_stats.bump(store.state_dir, rollbacks=1)
            err = journal.unwritable(e, store.dir)
            if err is not None:
                raise err from None
            raise
        try:
            journal.replace_all(store, ops, self._step)
        except InjectedFault:
            # Committed: roll forward now, as the next reader would.
            journal.recover(store)
            writer_stats.bump(store.state_dir, recoveries=1)
        return nbytes

    def _verify(self, target: str, writes: dict[str, str | None], plan: _Plan) -> None:
        actual = self.store.registry_hash()
        try:
            self._step("verify")
        except InjectedFault:
            actual = "sha256:" + "0" * 64
        if actual == target:
            return
        # Someone changed the folder under us (not through the lock), or the disk lied:
        # put back what was there before and say so.
        restore = {n: plan.old_texts.get(n) for n in writes}
        saved = (self._fault, self._crash)
        self._fault = self._crash = None
        try:
            self._write_atomically(restore, target, "")
        finally:
            self._fault, self._crash = saved
        writer_stats.bump(self.store.state_dir, rollbacks=1)
        raise RegistryFormatError(
            f"{self.store.dir}: verification after write failed (expected {target}, "
            f"found {actual}); the write was rolled back"
        )

    # -- planning in memory ------------------------------------------------------------------
    def _plan(self, patch: PromotionPatch, manifest: dict[str, str]) -> _Plan:
        meta_problem = self.store.read_meta_problem()
        if meta_problem and "canonical" not in meta_problem and not patch.repair_shards:
            raise RegistryFormatError(meta_problem)
        shards: dict[str, ShardLines] = {}
        indexed: list[dict[str, tuple[str, bool]]] = []

        def load(names: set[str]) -> None:
            # A shard whose exact content the id index was built from has been parsed whole
            # before: its lines are parsed only when touched, and when the index also says
            # it is ordered it is edited by binary search.  (Asked once per plan, after the
            # simple and complex modes have synced the index.)
            if not indexed:
                indexed.append(self.index.shard_hashes())
            for n in sorted(names - set(shards)):
                held = indexed[0].get(n)
                verified = held is not None and held[0] == manifest.get(n)
                ordered = held is not None and verified and held[1]
                shards[n] = self.store.read_shard_lines(n, verified, ordered)

        if patch.changes is not None:
            final = self._final_simple(patch.changes, manifest, load, shards)
        else:
            assert patch.operations is not None
            final = self._final_complex(patch.operations, manifest, load, shards)
        load({records.shard_of(r["path"]) for r in final.values() if r is not None})
        load(set(patch.repair_shards))
        new_by_shard: dict[str, list[tuple[bytes, str, Record]]] = {}
        for doc_id, new_rec in final.items():
            if new_rec is not None:
                new_by_shard.setdefault(records.shard_of(new_rec["path"]), []).append(
                    (path_bytes(new_rec["path"]), doc_id, new_rec))
        fast = {n for n, sh in shards.items() if sh.ordered and n not in patch.repair_shards}
        ids_in: dict[str, list[str]] = {}  # where the index puts final's ids (exact in fast)
        if fast:
            for doc, names in self.index.shards_of(final).items():
                for name in names:
                    ids_in.setdefault(name, []).append(doc)
        plan = _Plan(manifest, {}, {}, {})
        old_by_id: dict[str, Record | None] = {}
        for n, shard in shards.items():
            new_recs = new_by_shard.get(n, [])
            text: str | None
            if n in fast:
                text, rows = _edit_ordered(shard, ids_in.get(n, []), new_recs, old_by_id)
                plan.partial.add(n)
                plan.ordered[n] = True
            else:
                lines, rows = _rebuild(shard, final, new_recs, n in patch.repair_shards,
                                       old_by_id)
                text = "\n".join(lines) + "\n" if lines else None
                plan.ordered[n] = lines_ordered(lines)
            plan.old_texts[n] = shard.text if (self.store.dir / n).exists() else None
            plan.new_texts[n] = text
            plan.rows_by_shard[n] = rows
        plan.changed_ids = [d for d, rec in final.items() if rec != old_by_id.get(d)]
        meta_text = self.store.read_text(META_NAME)
        plan.old_texts[META_NAME] = meta_text
        if any(plan.new_texts[n] != plan.old_texts[n] for n in plan.new_texts) or (
            patch.repair_shards and meta_text != META_TEXT
        ):
            plan.new_texts[META_NAME] = META_TEXT
        return plan

    def _final_simple(
        self,
        changes: dict[str, dict[str, Any] | None],
        manifest: dict[str, str],
        load: Callable[[set[str]], None],
        shards: dict[str, ShardLines],
    ) -> dict[str, Record | None]:
        for doc_id, fields in changes.items():
            record_checks.checked_id("changes", doc_id)
            if fields is not None and "path" in fields:
                record_checks.checked_path(doc_id, fields["path"])
        self.index.sync(manifest)
        located = self.index.shards_of(changes)
        need = {s for ss in located.values() for s in ss}
        need |= {
            records.shard_of(f["path"]) for f in changes.values()
            if f is not None and isinstance(f.get("path"), str)
        }
        load(need)
        current = _current_records(shards, set(changes), located)
        final: dict[str, Record | None] = {}
        for doc_id, fields in changes.items():
            if fields is None:
                final[doc_id] = None
                continue
            if "doc_id" in fields and fields["doc_id"] != doc_id:
                raise PatchError(f"changes[{doc_id}]: doc_id field {fields['doc_id']!r} differs")
            new = merge_patch(current.get(doc_id, {}), fields)
            new["doc_id"] = doc_id
            final[doc_id] = record_checks.validated(doc_id, new)
        return final

    def _final_complex(
        self,
        ops: list[dict[str, Any]],
        manifest: dict[str, str],
        load: Callable[[set[str]], None],
        shards: dict[str, ShardLines],
    ) -> dict[str, Record | None]:
        import jsonpatch  # here: only raw JSON Patch operations need it
        import jsonpointer

        ids: set[str] = set()
        whole = False
        for op in ops:
            for key in ("path", "from"):
                ptr = op.get(key)
                if not isinstance(ptr, str):
                    continue
                parts = ptr.split("/")
                if len(parts) < 3 or parts[1] != "documents":
                    whole = True
                else:
                    ids.add(parts[2].replace("~1", "/").replace("~0", "~"))
        located: dict[str, set[str]] = {}
        if whole:
            load(set(self.store.shard_names()))
        else:
            self.index.sync(manifest)
            located = self.index.shards_of(ids)
            load({s for ss in located.values() for s in ss})
        docs = _current_records(shards, None if whole else ids, located)
        try:
            result = jsonpatch.apply_patch({"documents": docs}, ops)
        except jsonpatch.JsonPatchTestFailed as e:
            raise PatchError(f"operations: test failed: {e}") from None
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as e:
            raise PatchError(f"operations: {e}") from None
        except (TypeError, KeyError, IndexError, ValueError) as e:
            raise PatchError(f"operations: cannot apply ({e})") from None
        new_docs = result.get("documents") if isinstance(result, dict) else None
        if not isinstance(new_docs, dict) or set(result) != {"documents"}:
            raise PatchError("operations: the result must be {\"documents\": {doc_id: record}}")
        keys = set(docs) | set(new_docs) if whole else ids
        final: dict[str, Record | None] = {}
        for doc_id in keys:
            rec = new_docs.get(doc_id)
            if rec is None:
                if doc_id in docs:
                    final[doc_id] = None
                continue
            if not isinstance(rec, dict):
                raise PatchError(f"record {doc_id}: not an object")
            if rec.get("doc_id") != doc_id:
                raise PatchError(f"record {doc_id}: its doc_id field is {rec.get('doc_id')!r}")
            if whole and docs.get(doc_id) == rec:
                continue
            final[doc_id] = record_checks.validated(doc_id, rec)
        return final


def _target(
    manifest: dict[str, str], writes: dict[str, str | None]
) -> tuple[dict[str, str], str]:
    """The manifest and registry_hash the folder will have once ``writes`` are done."""
    target = dict(manifest)
    for n, t in writes.items():
        if t is None:
            target.pop(n, None)
        else:  # encoded here, before any backup or temp: the first step that needs bytes
            target[n] = hashlib.sha256(record_checks.encoded(n, t)).hexdigest()
    target.setdefault(META_NAME, text_sha256(META_TEXT))
    return target, hash_of_manifest(target)


def _current_records(
    shards: dict[str, ShardLines], ids: set[str] | None, located: dict[str, set[str]]
) -> dict[str, Record]:
    """The first record of each of ``ids`` (None: all) in the loaded shards, by shard name
    then line.  ``located`` (from the id index) is where to look in an ordered shard."""
    out: dict[str, Record] = {}
    for name in sorted(shards):
        shard = shards[name]
        if shard.ordered and ids is not None:
            for doc in sorted(d for d in ids if name in located.get(d, ()) and d not in out):
                span = shard.span_of(doc)
                if span is not None:
                    out[doc] = shard.record_at(span)
            continue
        for i, (_, held) in enumerate(shard.keys):
            if held is not None and (ids is None or held in ids) and held not in out:
                out[held] = shard.record(i)
    return out


def _edit_ordered(
    shard: ShardLines,
    ids: list[str],
    new_recs: list[tuple[bytes, str, Record]],
    old_by_id: dict[str, Record | None],
) -> tuple[str | None, list[tuple[str | None, str | None]]]:
    """The new text of an ordered shard: the lines of ``ids`` cut out, ``new_recs``
    inserted where a binary search over the text puts them (the result is ordered too),
    assembled in one pass.  Returns the text and the rows of the new records."""
    text = shard.text
    cuts: list[tuple[int, int]] = []
    for doc in ids:
        span = shard.span_of(doc)
        if span is not None:
            old_by_id.setdefault(doc, shard.record_at(span))
            cuts.append(span)
    leaving = set(ids)
    inserts: list[tuple[int, bytes, str]] = []
    rows: list[tuple[str | None, str | None]] = []
    placed: dict[bytes, str] = {}
    for pb, doc, rec in new_recs:
        at, holder = insertion_point(text, pb)
        other = placed.get(pb) or (holder if holder not in leaving else None)
        if other is not None:
            raise PatchError(f"path {rec['path']!r} would be held by two records "
                             f"({other}, {doc})")
        placed[pb] = doc
        inserts.append((at, pb, records.dumps(rec) + "\n"))
        rows.append((doc, rec["path"]))
    if not cuts and not inserts:
        return text or None, rows
    cuts.sort()
    inserts.sort(key=lambda e: (e[0], e[1]))
    parts: list[str] = []
    cur, c = 0, 0

    def copy_to(upto: int) -> None:
        nonlocal cur, c
        while c < len(cuts) and cuts[c][0] < upto:
            parts.append(text[cur:cuts[c][0]])
            cur = cuts[c][1]
            c += 1
        if cur < upto:
            parts.append(text[cur:upto])
            cur = upto

    for at, _, line in inserts:
        copy_to(at)
        parts.append(line)
    copy_to(len(text))
    return "".join(parts) or None, rows


def _rebuild(
    shard: ShardLines,
    final: dict[str, Record | None],
    new_recs: list[tuple[bytes, str, Record]],
    repair: bool,
    old_by_id: dict[str, Record | None],
) -> tuple[list[str], list[tuple[str | None, str | None]]]:
    """The new lines of any shard, every line looked at: the records of ``final`` out,
    ``new_recs`` in, sorted; with ``repair``, invalid records dropped and the rest
    rewritten canonically.  Returns the lines and the rows of all records."""
    entries: list[tuple[str | None, str | None, str | None, Record | None]] = []
    for i, (path, doc) in enumerate(shard.keys):
        if doc in final:
            old_by_id.setdefault(doc, shard.record(i))
            continue
        if repair:
            rec = shard.record(i)
            if records.problems(rec) or record_checks.path_problem(rec):
                continue
            entries.append((path, doc, None, rec))
        else:
            entries.append((path, doc, shard.lines[i], None))
    entries.extend((rec["path"], doc, None, rec) for _, doc, rec in new_recs)
    _check_unique_paths(entries, final)
    entries.sort(key=_entry_order)
    lines = [line if line is not None else records.dumps(rec or {})
             for _, _, line, rec in entries]
    return lines, [(doc, path) for path, doc, _, _ in entries]


def _entry_order(entry: tuple[str | None, str | None, str | None, Record | None]) -> bytes:
    path = entry[0]
    return path.encode("utf-8", "surrogateescape") if path is not None else b""


def _check_unique_paths(
    entries: list[tuple[str | None, str | None, str | None, Record | None]],
    final: dict[str, Record | None],
) -> None:
    seen: dict[str, str | None] = {}
    for path, doc_id, _, _ in entries:
        if path is None:
            continue
        if path in seen:
            other = seen[path]
            if doc_id in final or other in final:
                raise PatchError(f"path {path!r} would be held by two records ({other}, {doc_id})")
        seen[path] = doc_id
