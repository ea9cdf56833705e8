"""Reading the registry consistently: every read first finishes or rolls back an
interrupted write (SPEC §7), so nobody observes a half-written registry."""

from __future__ import annotations

from typing import NamedTuple

from regauto import docid
from regauto.errors import RegistryFormatError
from regauto.events.lock_manager import LockManager
from regauto.project import Project
from regauto.registry import journal, writer_stats
from regauto.registry.id_index import IdIndex
from regauto.registry.records import Record, shard_of
from regauto.registry.store import RegistryStore, gc_paused, hash_of_manifest


class Snapshot(NamedTuple):
    """The registry as one read saw it: its hash, the manifest it hashes, the records."""

    hash: str
    manifest: dict[str, str]
    records: list[Record]


class Reader:
    def __init__(self, store: RegistryStore, locks: LockManager, timeout: float | None = None):
        self.store = store
        self.locks = locks
        self.timeout = timeout
        self._index: IdIndex | None = None

    def _recover(self) -> None:
        if journal.needs_recovery(self.store):
            with self.locks.registry(timeout=self.timeout):
                self._recover_locked()

    def _recover_locked(self) -> None:
        # Statistics are read-modify-written: only under the lock (writer_stats).
        outcome = journal.recover(self.store)
        if outcome == "rolled forward":
            writer_stats.bump(self.store.state_dir, recoveries=1)
        elif outcome == "rolled back":
            writer_stats.bump(self.store.state_dir, rollbacks=1)

    def current_hash(self) -> str:
        """The registry_hash, taken under the registry lock: a write in progress is waited
        for (its temps and journal appear only after a lock-free check could have looked,
        so such a check cannot tell whether the folder is mid-rename)."""
        with self.locks.registry(timeout=self.timeout):
            self._recover_locked()
            return self.store.registry_hash()

    def snapshot(self, shards: list[str] | None = None) -> Snapshot:
        """The hash and the records (of ``shards``, default all) read under the registry lock,
        so the hash is exactly that of the records returned."""
        with self.locks.registry(timeout=self.timeout), gc_paused():
            self._recover_locked()
            self._check_meta()
            manifest = self.store.manifest()
            names = self.store.shard_names() if shards is None else shards
            recs: list[Record] = []
            for n in names:
                recs.extend(self.store.read_shard(n).records)
        return Snapshot(hash_of_manifest(manifest), manifest, recs)

    def _check_meta(self) -> None:
        # A registry of another format (schema 99) or a meta.json that is not JSON: its
        # shards cannot be trusted to mean what this regauto reads them as (the writer
        # refuses it the same way; ``fix`` rewrites a malformed one).
        problem = self.store.read_meta_problem()
        if problem is not None and not problem.endswith("not in canonical form"):
            raise RegistryFormatError(problem)

    def all_records(self) -> list[Record]:
        return self.snapshot().records

    def by_paths(self, paths: list[str]) -> tuple[str, dict[str, Record]]:
        """The hash and the records held at ``paths`` (reads only their shards)."""
        wanted = set(paths)
        snap = self.snapshot(sorted({shard_of(p) for p in wanted}))
        return snap.hash, {r["path"]: r for r in snap.records if r.get("path") in wanted}

    @property
    def index(self) -> IdIndex:
        if self._index is None:
            self._index = IdIndex(self.store)
        return self._index

    def by_ids(self, ids: list[str]) -> dict[str, list[Record]]:
        self._recover()
        self.index.sync(self.store.manifest())
        located = self.index.shards_of(ids)
        names = sorted({s for ss in located.values() for s in ss})
        out: dict[str, list[Record]] = {}
        for r in self.snapshot(names).records:
            if r.get("doc_id") in located:
                out.setdefault(r["doc_id"], []).append(r)
        return out

    def find(self, key: str) -> list[Record]:
        """Records for a doc_id or a path."""
        if docid.DOC_ID_RE.fullmatch(key):
            return self.by_ids([key]).get(key, [])
        rel = key.strip("/")
        _, recs = self.by_paths([rel])
        return [recs[rel]] if rel in recs else []

    def max_id(self) -> str | None:
        self._recover()
        self.index.sync(self.store.manifest())
        return self.index.max_id()


def open_reader(project: Project) -> Reader:
    return Reader(
        RegistryStore(project.registry_dir, project.state_dir),
        LockManager(project.state_dir, timeout=project.config.lock_timeout_s),
        project.config.lock_timeout_s,
    )
