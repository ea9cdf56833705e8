"""The registry in git's index, as a reader and a writer for the pipeline (SPEC §3, "Two
registries"): **the registry in the index describes the index; the registry in the work
tree describes the work tree.**  The commit hook plans against the staged shards and writes
the staged shards (``staged``), so a commit records exactly what it commits, whatever the
work tree's registry says meanwhile (the daemon, a ``fix`` after unstaged edits).

The work tree follows where nobody diverged: a shard written to the index is also written
to the work tree when its work-tree file was equal to the staged one before (so, without
unstaged registry edits, the two stay identical); a work-tree shard that differs — it
describes unstaged edits — keeps its own lines (``kept``), and takes only the record changes
that hold for the work tree too: those of documents the work tree has as staged
(``StagedRegistry.follow``).  The work-tree side goes through the
work tree's own writer (lock, backup, journal), under the same registry lock as the index
write, so the daemon's writes never interleave with it.

Where an id lives: the work tree's id index names the shards to read from the index; an id
not found there is looked for in the shards that differ (``git diff`` of the registry
folder, usually none), read whole (``IndexReader.locate``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from regauto import docid
from regauto.errors import CASConflict, PatchError, RegistryFormatError
from regauto.events.lock_manager import LockManager
from regauto.pathguard import read_owned
from regauto.project import Project
from regauto.registry.promotion_patch import PromotionPatch
from regauto.registry.reader import Reader, Snapshot
from regauto.registry.records import META_NAME, META_TEXT, Record, shard_of
from regauto.registry.registry_writer_service import RegistryWriterService, WriteResult
from regauto.registry.staged_view import StagedRegistry, rebuild_shard
from regauto.registry.store import RegistryStore, ShardLines, text_sha256
from regauto.registry.writer_plan import check_changes, final_records


def _lines(reg: StagedRegistry, names: Iterable[str]) -> dict[str, ShardLines]:
    return {n: ShardLines(n, t or "", reg.display(n)) for n, t in reg.texts(names).items()}


class IndexReader(Reader):
    """A :class:`Reader` of the staged registry (the work tree's store and locks serve the
    id-index hint and the lock)."""

    def __init__(self, reg: StagedRegistry, store: RegistryStore, locks: LockManager,
                 timeout: float | None = None) -> None:
        super().__init__(store, locks, timeout)
        self.reg = reg

    def current_hash(self) -> str:
        return self.reg.token()

    def snapshot(self, shards: list[str] | None = None) -> Snapshot:
        """The staged records (of ``shards``, default all); a full snapshot also has the
        manifest (sha256 of each staged file, as the work tree's would be), which the
        generated outputs' input hashes are made of."""
        names = [n for n in self.reg.names() if n != META_NAME] if shards is None else shards
        recs: list[Record] = []
        manifest: dict[str, str] = {}
        for n, sh in _lines(self.reg, names).items():
            recs.extend(sh.record(i) for i in range(len(sh.lines)))
            if shards is None:
                manifest[n] = text_sha256(sh.text)
        if shards is None:
            manifest[META_NAME] = text_sha256(self.reg.texts([META_NAME])[META_NAME]
                                              or META_TEXT)
        return Snapshot(self.reg.token(), manifest, recs)

    def by_paths(self, paths: list[str]) -> tuple[str, dict[str, Record]]:
        """The staged records at ``paths``; for a path the index has no record of, the work
        tree's record, when the index holds its id nowhere: a document the daemon or
        ``sync`` registered, then staged without the registry, keeps the id it was given
        (ids are permanent).  Such a record is returned without its blob, so the pipeline
        writes it into the index."""
        wanted = set(paths)
        h = self.reg.token()
        out: dict[str, Record] = {}
        for sh in _lines(self.reg, sorted({shard_of(p) for p in wanted})).values():
            for i, (path, _) in enumerate(sh.keys):
                if path in wanted:
                    out[path] = sh.record(i)
        missing = sorted(wanted - set(out))
        if missing:
            _, mine = Reader(self.store, self.locks, self.timeout).by_paths(missing)
            ids = {r["doc_id"] for r in mine.values() if isinstance(r.get("doc_id"), str)}
            held = self.locate(ids) if ids else {}
            for path, rec in mine.items():
                if isinstance(rec.get("doc_id"), str) and rec["doc_id"] not in held:
                    out[path] = {**rec, "blob": ""}
        return h, out

    def locate(self, ids: Iterable[str]) -> dict[str, set[str]]:
        """``{doc_id: {staged shards holding it}}`` for the ids present.  The work tree's
        id index names the shards to read; an id not found there is looked for in the
        registry files whose work-tree copy differs (the id index does not describe those),
        so the ``git diff`` that lists them runs only then — for a new id, or after unstaged
        registry edits.  A second line of an id in a differing shard, where the id index
        found the first, is a duplicate left for ``check``/``fix``."""
        ids = set(ids)
        if not ids:
            return {}
        self._recover()
        self.index.sync(self.store.manifest())
        hinted = {s for ss in self.index.shards_of(ids).values() for s in ss}
        out = self._scan(hinted, ids)
        rest = ids - set(out)
        if rest:
            differ = {n for n in self.reg.differing() if n != META_NAME}
            for doc, names in self._scan(differ - hinted, rest).items():
                out.setdefault(doc, set()).update(names)
        return out

    def _scan(self, names: set[str], ids: set[str]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for n, sh in _lines(self.reg, sorted(names)).items():
            for _, doc in sh.keys:
                if doc in ids:
                    out.setdefault(doc, set()).add(n)
        return out

    def by_ids(self, ids: list[str]) -> dict[str, list[Record]]:
        located = self.locate(ids)
        out: dict[str, list[Record]] = {}
        shards = _lines(self.reg, sorted({s for ss in located.values() for s in ss}))
        for name in sorted(shards):
            sh = shards[name]
            for i, (_, doc) in enumerate(sh.keys):
                if doc in located:
                    out.setdefault(doc, []).append(sh.record(i))
        return out

    def max_id(self) -> str | None:
        """The work tree's highest id or a higher one only the index holds: a floor for
        new ids, never lower than the staged registry's."""
        best = super().max_id()
        differ = [n for n in self.reg.differing() if n != META_NAME]
        for sh in _lines(self.reg, differ).values():
            for _, doc in sh.keys:
                if doc is not None and docid.is_valid(doc) and (best is None or doc > best):
                    best = doc
        return best


class IndexWriter(RegistryWriterService):
    """Writes simple-mode patches into the staged registry and the work tree's copies
    (see the module's docstring); its inherited work-tree methods (recovery, ``restore``)
    serve the work tree's side."""

    def __init__(self, reader: IndexReader, *, keep_backups: int = 20,
                 lock_timeout: float | None = None) -> None:
        super().__init__(reader.store, reader.locks, keep_backups=keep_backups,
                         lock_timeout=lock_timeout)
        self.reader = reader
        self.reg = reader.reg

    def current_hash(self) -> str:
        return self.reg.token()

    def apply(self, patch: PromotionPatch) -> WriteResult:
        with self.locks.registry(timeout=self.lock_timeout):
            current = self.reg.token()
            if patch.base_hash != current:
                raise CASConflict(patch.base_hash, current)
            if patch.changes is None:
                raise PatchError("the index's registry takes simple patches only")
            writes, changed_ids = self._plan_staged(patch.changes)
            if not writes:
                return WriteResult(False, current, current)
            self.reg.verify()  # compare-and-swap on the staged blobs this attempt read
            olds = self.reg.texts(list(writes))
            same = self._mirror(writes, olds)
            self.reg.stage(writes, same)
            self._index_mirrored(same, writes, olds, changed_ids)
            new = self.reg.token()
        nbytes = sum(len(t.encode()) for t in writes.values() if t is not None)
        result = WriteResult(True, current, new, tuple(sorted(writes)), len(changed_ids),
                             nbytes, tuple(sorted(changed_ids)))
        for hook in self.post_write_hooks:
            hook(result)
        return result

    def _plan_staged(self, changes: dict[str, Record | None]) -> tuple[dict[str, str | None],
                                                                 list[str]]:
        check_changes(changes)
        located = self.reader.locate(changes)
        need = {s for ss in located.values() for s in ss}
        need |= {shard_of(f["path"]) for f in changes.values()
                 if f is not None and isinstance(f.get("path"), str)}
        shards = _lines(self.reg, sorted(need))
        current: dict[str, Record] = {}
        for name in sorted(shards):
            for i, (_, doc) in enumerate(shards[name].keys):
                if doc in changes and doc not in current:
                    current[doc] = shards[name].record(i)
        final = final_records(changes, current)
        writes: dict[str, str | None] = {}
        for name, sh in shards.items():
            text = rebuild_shard(sh, final)
            if text != (sh.text or None):
                writes[name] = text
        changed = [d for d, r in final.items() if r != current.get(d)]
        for d, r in final.items():
            self.reg.final[d] = r
            was = current.get(d, {}).get("path")
            self.reg.involved[d] = ({r["path"]} if r is not None else set()) | (
                {was} if isinstance(was, str) else set())
        if writes:
            meta = self._meta()
            if meta is not None:
                writes[META_NAME] = meta
        return writes, changed

    def _meta(self) -> str | None:
        """``meta.json`` to stage with the shards: the canonical one when none is staged
        (a fresh registry's first commit) or the staged one is merely non-canonical."""
        text = self.reg.texts([META_NAME])[META_NAME]
        if text == META_TEXT:
            return None
        if text is not None:
            import json

            try:
                same = json.loads(text) == json.loads(META_TEXT)
            except ValueError:
                same = False
            if not same:
                raise RegistryFormatError(f"{self.reg.display(META_NAME)}: unsupported "
                                          f"registry ({text.strip()[:80]})")
        return META_TEXT

    def _index_mirrored(self, same: set[str], writes: dict[str, str | None],
                        olds: dict[str, str | None], changed: list[str]) -> None:
        """Tell the work tree's id index what the mirror wrote into the shards that were
        equal to the staged ones: only the changed ids' rows move, as after the work tree's
        own writes.  Without it the next run re-reads each of those shards whole (~400
        records each at 100k documents).  A shard stays ordered (see ``ShardLines``) when it
        was: ``rebuild_shard`` keeps the lines sorted by path, each id once."""
        names = sorted(n for n in same if n != META_NAME)
        if not names:
            return
        rows: dict[str, list[tuple[str | None, str | None]]] = {n: [] for n in names}
        for doc in changed:
            rec = self.reg.final.get(doc)
            if rec is not None and shard_of(rec["path"]) in rows:
                rows[shard_of(rec["path"])].append((doc, rec["path"]))
        held = self.index.shard_hashes()
        shas = {n: (None if olds.get(n) is None else text_sha256(olds[n] or ""),
                    None if writes[n] is None else text_sha256(writes[n] or ""))
                for n in names}
        # A shard new to the work tree holds only this write's records: its rows are all
        # there (not partial), and it is ordered as ``rebuild_shard`` made it.
        self.index.record_write(shas, rows, changed,
                                partial=[n for n in names if olds.get(n) is not None],
                                ordered={n: held.get(n, ("", True))[1] for n in names})

    def _mirror(self, writes: dict[str, str | None], olds: dict[str, str | None]) -> set[str]:
        """Write the work tree's copy of each file in ``writes``: the same text where it
        was equal to the staged one (returned: the index takes it from the work tree), else
        its own text with the changes that hold for it (``kept``).  Under the registry
        lock, through the work tree's writer."""
        mirror: dict[str, str | None] = {}
        same: set[str] = set()
        for name, text in writes.items():
            old = olds.get(name)
            now = read_owned(self.store.dir / name, "registry file")
            if now == (None if old is None else old.encode("utf-8")):
                mirror[name] = text
                same.add(name)
                continue
            self.reg.kept.add(name)
            mine = None if now is None else now.decode("utf-8", "replace")
            if name != META_NAME and (follow := self.reg.follow(name, mine)) != mine:
                mirror[name] = follow
        if mirror:
            self.restore(mirror, None)  # under the lock ``apply`` holds
        return same


def open_index_registry(project: Project, differing: Callable[[], Iterable[str]] | None = None,
                        unstaged: Callable[[list[str]], Iterable[str]] | None = None,
                        ) -> tuple[IndexReader, IndexWriter]:
    """A reader and a writer of ``project``'s staged registry, for one run (``differing``,
    ``unstaged``: see :class:`StagedRegistry`)."""
    from regauto.registry import open_store

    timeout = project.config.lock_timeout_s
    reader = IndexReader(StagedRegistry(project, differing, unstaged), open_store(project),
                         LockManager(project.state_dir, timeout=timeout), timeout)
    return reader, IndexWriter(reader, keep_backups=project.config.backups,
                               lock_timeout=timeout)

