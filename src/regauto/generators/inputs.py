"""Input hashes: what a generated output depends on, cheap to recompute after every write.

An output's **input hash** is a sha256 over its generator's spec (``builtins.Builtin.key``,
or the ``python``/``command`` setting) and, for each registry shard in name order, the hash
of the shard's records *projected* to the fields that output shows (all fields for custom
generators).  So it is a pure function of the projected data: a registry change that does
not touch an output's fields leaves its input hash — and the output — unchanged, and the
output's bytes never depend on the history that led to the registry (no registry_hash is
written into it, so parallel branches do not conflict on it unless they both change what
it shows).

The per-shard projection hashes are cached in the state dir, keyed by each shard file's
sha256 from the registry manifest (itself stat-cached).  Checking an unchanged registry
reads no shard; after a write, only the shards it wrote are read.  The cache is only ever a
shortcut: entries are content-addressed, a lost or corrupt cache costs one full read.

Records are grouped by the shard file they were read from, or — when a caller hands in a
full ``Snapshot`` — by ``shard_of(path)``.  The two agree for every registry the writer
produces; a record in the wrong shard is ``noncanonical`` drift that ``fix`` repairs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from regauto import jsonload
from regauto.config import Generator
from regauto.generators.builtins import BUILTINS
from regauto.generators.custom import RECORDS_KEY, spec_of
from regauto.registry import journal
from regauto.registry.reader import Reader, Snapshot
from regauto.registry.records import META_NAME, Record, shard_of, sort_key
from regauto.registry.store import hash_of_manifest

CACHE_NAME = "generator-cache.json"
CACHE_VERSION = 1


def projection_key(gen: Generator) -> str:
    return BUILTINS[gen.builtin].key if gen.builtin is not None else RECORDS_KEY


def _row_fn(key: str) -> Callable[[Record], Any]:
    for b in BUILTINS.values():
        if b.key == key:
            return b.project
    return lambda rec: rec


def shard_hash(records: Iterable[Record], key: str) -> str:
    row = _row_fn(key)
    rows = [row(r) for r in sorted(records, key=sort_key)]
    text = json.dumps(rows, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Inputs:
    registry_hash: str
    hashes: dict[str, str]  # generator name -> input hash


class InputHasher:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.path = reader.store.state_dir / CACHE_NAME

    def compute(self, gens: Sequence[Generator], snapshot: Snapshot | None = None) -> Inputs:
        keys = sorted({projection_key(g) for g in gens})
        cache = self._load()
        if snapshot is not None:
            manifest, reg_hash = snapshot.manifest, snapshot.hash
            grouped: dict[str, list[Record]] = {}
            for r in snapshot.records:
                p = r.get("path")
                grouped.setdefault(shard_of(p) if isinstance(p, str) else "", []).append(r)
            read = {n: grouped.get(n, []) for n in _missing(manifest, cache, keys)}
        else:
            reg_hash, manifest, read = self._read_missing(cache, keys)
        shards: dict[str, dict[str, str]] = {}
        for name, sha in manifest.items():
            if name == META_NAME:
                continue
            entry = cache.get(name)
            proj = dict(entry["proj"]) if entry and entry.get("sha") == sha else {}
            for key in keys:
                if key not in proj:
                    proj[key] = shard_hash(read[name], key)
            shards[name] = proj
            if proj != (entry or {}).get("proj") or (entry or {}).get("sha") != sha:
                cache[name] = {"sha": sha, "proj": proj}
        self._save(cache, manifest)
        hashes = {}
        for g in gens:
            key = projection_key(g)
            text = f"regauto-generator-input 1\n{spec_of(g)}\n" + "".join(
                f"{name} {proj[key]}\n" for name, proj in sorted(shards.items())
            )
            hashes[g.name] = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
        return Inputs(reg_hash, hashes)

    def _read_missing(
        self, cache: dict[str, Any], keys: list[str]
    ) -> tuple[str, dict[str, str], dict[str, list[Record]]]:
        """Under the registry lock (so the manifest is that of what we read): the manifest,
        and the records of the shards whose projections are not cached."""
        store = self.reader.store
        with self.reader.locks.registry(timeout=self.reader.timeout):
            journal.recover(store)
            manifest = store.manifest()
            read = {n: store.read_shard(n).records for n in _missing(manifest, cache, keys)}
        return hash_of_manifest(manifest), manifest, read

    # -- the cache -----------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        try:
            data = jsonload.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if (
            not isinstance(data, dict)
            or data.get("v") != CACHE_VERSION
            or data.get("dir") != str(self.reader.store.dir)
            or not isinstance(data.get("shards"), dict)
        ):
            return {}
        return {
            n: e for n, e in data["shards"].items()
            if isinstance(e, dict) and isinstance(e.get("sha"), str)
            and isinstance(e.get("proj"), dict)
        }

    def _save(self, cache: dict[str, Any], manifest: dict[str, str]) -> None:
        kept = {n: e for n, e in sorted(cache.items()) if n in manifest}
        data = {"v": CACHE_VERSION, "dir": str(self.reader.store.dir), "shards": kept}
        text = json.dumps(data, sort_keys=True)
        try:
            if self.path.read_text(encoding="utf-8") == text:
                return
        except OSError:
            pass
        # A cache: atomic but not fsynced; losing it costs one full read.
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{CACHE_NAME}.{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass


def _missing(manifest: dict[str, str], cache: dict[str, Any], keys: list[str]) -> list[str]:
    out = []
    for name, sha in manifest.items():
        if name == META_NAME:
            continue
        entry = cache.get(name)
        if not entry or entry.get("sha") != sha or any(k not in entry["proj"] for k in keys):
            out.append(name)
    return out
