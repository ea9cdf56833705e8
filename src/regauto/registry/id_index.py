"""The id index: ``doc_id -> shard`` in the state database.

The writer must know which shard holds a doc_id (simple-mode patches name records by id)
and whether a new id is already taken, without reading all 256 shards.  The index records
the sha256 of every shard it was built from; it is trusted for a shard only while that
shard's current hash (from the manifest, itself stat-cached) is equal, and the shards that
differ — after a checkout, a merge, a hand edit, a crash between a write and this update —
are simply re-read.  So the index heals itself and never needs a full rebuild unless every
shard changed.

It also records whether each shard is *ordered*: every line has the canonical prefix
``{"path": …, "doc_id": "…", `` and the paths strictly increase (bytewise).  The writer
edits such a shard by binary search instead of reading every line.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from regauto import docid, statedb
from regauto.registry.records import META_NAME
from regauto.registry.shard_lines import lines_ordered
from regauto.registry.store import RegistryStore, gc_paused

_MIGRATIONS = [
    """
    CREATE TABLE id_index (doc_id TEXT NOT NULL, shard TEXT NOT NULL, path TEXT);
    CREATE INDEX id_index_doc ON id_index (doc_id);
    CREATE INDEX id_index_shard ON id_index (shard);
    CREATE TABLE id_index_shards (name TEXT PRIMARY KEY, sha TEXT NOT NULL, dir TEXT NOT NULL)
    """,
    "ALTER TABLE id_index_shards ADD COLUMN ordered INTEGER NOT NULL DEFAULT 0",
]


class IdIndex:
    def __init__(self, store: RegistryStore, conn: sqlite3.Connection | None = None) -> None:
        self.store = store
        self.conn = conn or statedb.connect(store.state_dir)
        statedb.migrate(self.conn, "id_index", _MIGRATIONS)

    def sync(self, manifest: dict[str, str]) -> int:
        """Bring the index in line with ``manifest``; returns the number of shards re-read."""
        reg_dir = str(self.store.dir)
        known = {
            r["name"]: (r["sha"], r["dir"])
            for r in self.conn.execute("SELECT name, sha, dir FROM id_index_shards")
        }
        current = {n: s for n, s in manifest.items() if n != META_NAME}
        stale = [n for n, s in current.items() if known.get(n) != (s, reg_dir)]
        gone = [n for n in known if n not in current or known[n][1] != reg_dir]
        if not stale and not gone:
            return 0
        # Keep only the rows, not the parsed shards: after a checkout of a 100k-document
        # registry every shard is stale, and holding all its records costs ~300 MB.
        shard_rows: dict[str, list[tuple[str, str, object]]] = {}
        ordered: dict[str, bool] = {}
        with gc_paused():
            for n in stale:
                shard = self.store.read_shard(n)
                shard_rows[n] = [
                    (r["doc_id"], n, r.get("path"))
                    for r in shard.records
                    if isinstance(r.get("doc_id"), str)
                ]
                ordered[n] = lines_ordered(shard.lines)
        with statedb.transaction(self.conn):
            for n in set(gone) | set(stale):
                self.conn.execute("DELETE FROM id_index WHERE shard = ?", (n,))
                self.conn.execute("DELETE FROM id_index_shards WHERE name = ?", (n,))
            for n, rows in shard_rows.items():
                self.conn.executemany(
                    "INSERT INTO id_index (doc_id, shard, path) VALUES (?, ?, ?)", rows
                )
                self.conn.execute(
                    "INSERT INTO id_index_shards (name, sha, dir, ordered) VALUES (?, ?, ?, ?)",
                    (n, current[n], reg_dir, ordered[n]),
                )
        return len(stale)

    def shard_hashes(self) -> dict[str, tuple[str, bool]]:
        """``{shard: (sha256, ordered)}`` of the shards the index holds for this registry
        folder: each of those contents was parsed whole (or written by the writer) when
        indexed."""
        return {
            r[0]: (r[1], bool(r[2])) for r in self.conn.execute(
                "SELECT name, sha, ordered FROM id_index_shards WHERE dir = ?",
                (str(self.store.dir),))
        }

    def record_write(
        self,
        shas: dict[str, tuple[str | None, str | None]],
        rows_by_shard: dict[str, list[tuple[str | None, str | None]]],
        changed_ids: Iterable[str],
        full: Iterable[str] = (),
        ordered: dict[str, bool] | None = None,
        partial: Iterable[str] = (),
    ) -> None:
        """After a write: ``shas`` is ``{shard: (sha before, sha after | None = deleted)}``,
        ``rows_by_shard`` the ``(doc_id, path)`` of the records now in each — all of them,
        or for the shards in ``partial`` only those of ``changed_ids`` — and only the
        records of ``changed_ids`` moved, appeared or vanished; ``ordered`` says which new
        shards are ordered.  A shard the index held at its old hash gets just those rows
        changed (a 10-record patch of a 100k registry touches ~20 rows, not ~4000); any
        other (or one in ``full``) is rewritten, or, with partial rows, dropped from the
        index for the next sync to re-read."""
        changed = set(changed_ids)
        whole = set(full)
        part = set(partial)
        flags = ordered or {}
        known = self.shard_hashes()
        reg_dir = str(self.store.dir)
        with statedb.transaction(self.conn):
            for name, (old, new) in shas.items():
                rows = rows_by_shard.get(name, [])
                held = known.get(name)
                incremental = (new is not None and old is not None and held is not None
                               and held[0] == old and name not in whole)
                if incremental:
                    # Without the hint SQLite may walk the shard's ~400 rows per id.
                    self.conn.executemany(
                        "DELETE FROM id_index INDEXED BY id_index_doc"
                        " WHERE doc_id = ? AND shard = ?",
                        [(d, name) for d in changed])
                    insert = [(d, name, p) for d, p in rows if d in changed]
                else:
                    self.conn.execute("DELETE FROM id_index WHERE shard = ?", (name,))
                    insert = [(d, name, p) for d, p in rows if isinstance(d, str)]
                self.conn.execute("DELETE FROM id_index_shards WHERE name = ?", (name,))
                if new is None or (name in part and not incremental):
                    continue
                self.conn.executemany(
                    "INSERT INTO id_index (doc_id, shard, path) VALUES (?, ?, ?)", insert)
                self.conn.execute(
                    "INSERT INTO id_index_shards (name, sha, dir, ordered) VALUES (?, ?, ?, ?)",
                    (name, new, reg_dir, bool(flags.get(name))),
                )

    def shards_of(self, ids: Iterable[str]) -> dict[str, set[str]]:
        """``{doc_id: {shard names}}`` for the ids present (several shards: a duplicate)."""
        out: dict[str, set[str]] = {}
        id_list = list(set(ids))
        for i in range(0, len(id_list), 500):
            chunk = id_list[i : i + 500]
            q = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT doc_id, shard FROM id_index WHERE doc_id IN ({q})", chunk
            ):
                out.setdefault(row[0], set()).add(row[1])
        return out

    def max_id(self) -> str | None:
        """The highest valid doc_id in the registry (the id allocator's floor).  An id
        more than a day in the future is not valid (``docid``): it is skipped in SQL, so
        any number of them cannot hide the real maximum."""
        ceiling = docid.latest_minute() + "9999"
        for (value,) in self.conn.execute(
            "SELECT doc_id FROM id_index WHERE length(doc_id) = 16 AND doc_id <= ?"
            " ORDER BY doc_id DESC LIMIT 50", (ceiling,)
        ):
            if docid.is_valid(value):
                return str(value)
        return None

    def all_ids(self) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list[tuple[str, str]]] = {}
        for row in self.conn.execute("SELECT doc_id, shard, path FROM id_index"):
            out.setdefault(row[0], []).append((row[1], row[2]))
        return out

    def close(self) -> None:
        self.conn.close()


def default_path(state_dir: Path) -> Path:
    return state_dir / statedb.DB_NAME

