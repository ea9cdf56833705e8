"""Helpers for the registry tests: valid records, an independent registry_hash, snapshots.

``manifest_hash`` recomputes SPEC §3's registry_hash from the files with nothing but
``hashlib``, so the tests never check the store against itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from regauto.durable import DurableFiles
from regauto.events.lock_manager import LockManager
from regauto.registry.promotion_patch import PromotionPatch
from regauto.registry.reader import Reader
from regauto.registry.registry_writer_service import RegistryWriterService
from regauto.registry.store import RegistryStore

META = '{"regauto": "registry", "schema": 1, "shards": 256}\n'
FIELD_ORDER = ("path", "doc_id", "id_mode", "kind", "tags", "role", "blob", "size", "descriptor")
_EPOCH = dt.datetime(2026, 1, 23, 22, 47)


def doc_id(n: int) -> str:
    """The n-th valid doc_id (n >= 0): 9999 per minute, then the next minute."""
    minute = _EPOCH + dt.timedelta(minutes=n // 9999)
    return minute.strftime("%Y%m%d%H%M") + f"{n % 9999 + 1:04d}"


def record(n: int, path: str | None = None, **fields: Any) -> dict[str, Any]:
    """A valid record for document ``n`` (fields in a deliberately scrambled order)."""
    rel = path if path is not None else f"src/pkg/module_{n}.py"
    rec: dict[str, Any] = {
        "descriptor": {"summary": f"Module {n}.", "functions": ["main"], "lines": n % 500},
        "size": 100 + n,
        "blob": hashlib.sha1(f"blob {n}".encode()).hexdigest(),
        "role": "source",
        "tags": ["file", "python", "text"],
        "kind": "python",
        "id_mode": "header",
        "doc_id": doc_id(n),
        "path": rel,
    }
    rec.update(fields)
    return rec


def canonical_line(rec: dict[str, Any]) -> str:
    """SPEC §3 canonical line, written out independently of ``records.dumps``."""

    def sort_nested(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: sort_nested(v[k]) for k in sorted(v)}
        if isinstance(v, list):
            return [sort_nested(x) for x in v]
        return v

    ordered = {k: rec[k] for k in FIELD_ORDER}
    ordered["descriptor"] = sort_nested(ordered["descriptor"])
    return json.dumps(ordered, ensure_ascii=False, separators=(", ", ": "))


def shard_name(path: str) -> str:
    return hashlib.sha1(path.encode("utf-8")).hexdigest()[:2] + ".jsonl"


def same_shard_paths(n: int, pattern: str = "docs/note-{}.md") -> list[str]:
    """``n`` paths made from ``pattern`` whose records share one shard, sorted bytewise
    (records added between two of them on two branches are a textual conflict)."""
    seen: dict[str, list[str]] = {}
    i = 0
    while True:
        p = pattern.format(i)
        group = seen.setdefault(shard_name(p), [])
        group.append(p)
        if len(group) == n:
            return sorted(group)
        i += 1


def manifest_hash(reg_dir: Path) -> str:
    """registry_hash of SPEC §3 from the files themselves (no cache, no regauto code)."""
    files: dict[str, bytes] = {}
    if reg_dir.is_dir():
        for p in reg_dir.iterdir():
            if p.name == "meta.json" or shard_ok(p.name):
                files[p.name] = p.read_bytes()
    files.setdefault("meta.json", META.encode())
    text = "".join(
        f"{n} {hashlib.sha256(files[n]).hexdigest()}\n" for n in sorted(files)
    )
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


EMPTY_HASH = (
    "sha256:"
    + hashlib.sha256(
        f"meta.json {hashlib.sha256(META.encode()).hexdigest()}\n".encode()
    ).hexdigest()
)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (temps included), for byte-identical comparisons."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def write_shards(reg_dir: Path, recs: list[dict[str, Any]]) -> None:
    """Write a registry directly in canonical form (fixtures, benchmarks)."""
    reg_dir.mkdir(parents=True, exist_ok=True)
    (reg_dir / "meta.json").write_text(META, encoding="utf-8")
    by_shard: dict[str, list[dict[str, Any]]] = {}
    for r in recs:
        by_shard.setdefault(shard_name(r["path"]), []).append(r)
    for name, rs in by_shard.items():
        rs.sort(key=lambda r: r["path"].encode())
        (reg_dir / name).write_text("".join(canonical_line(r) + "\n" for r in rs), "utf-8")


def simple(base: str, changes: dict[str, Any]) -> PromotionPatch:
    return PromotionPatch(base, "test", "test", changes=changes)


def complex_(base: str, operations: list[dict[str, Any]]) -> PromotionPatch:
    return PromotionPatch(base, "test", "test", operations=operations)


class Registry:
    """A registry folder and a state dir under ``root``, with a writer and a reader."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "registry"
        self.state = root / "state"
        self.store = RegistryStore(self.dir, self.state)
        self.locks = LockManager(self.state, timeout=30)

    def writer(self, files: DurableFiles | None = None) -> RegistryWriterService:
        """A fresh writer doing its file-system steps through ``files`` (default: as a
        ``regauto`` process would, reading the fault-injection variables)."""
        return RegistryWriterService(RegistryStore(self.dir, self.state), self.locks,
                                     files=files)

    def reader(self) -> Reader:
        return Reader(RegistryStore(self.dir, self.state), self.locks)

    def hash(self) -> str:
        return self.reader().current_hash()

    def records(self) -> dict[str, dict[str, Any]]:
        return {r["doc_id"]: r for r in self.reader().all_records()}

    def leftovers(self) -> list[str]:
        """Temp files and journals an interrupted write may have left behind."""
        out = [p.name for p in self.dir.glob("*")] if self.dir.exists() else []
        out = [n for n in out if not (n == "meta.json" or shard_ok(n))]
        if self.state.exists():
            out += [p.name for p in self.state.glob("journal*")]
        return out


def shard_ok(name: str) -> bool:
    return (
        len(name) == 8 and name.endswith(".jsonl")
        and all(c in "0123456789abcdef" for c in name[:2])
    )


def cycle_state(j: int, n: int) -> dict[str, dict[str, Any]]:
    """State ``j`` (0, 1, 2) of the crash tests' three-state cycle over ``n`` documents.

    Going from one state to the next adds a third of the records, deletes a third and
    changes the rest, so every transition touches most shards and empties some.
    """
    return {
        doc_id(i): record(i, descriptor={"state": j, "pad": "x" * (i % 97)})
        for i in range(n)
        if i % 3 != j
    }


def cycle_changes(j: int, n: int) -> dict[str, Any]:
    """The simple-mode changes that turn any state of the cycle into state ``j``."""
    target = cycle_state(j, n)
    return {doc_id(i): target.get(doc_id(i)) for i in range(n)}
