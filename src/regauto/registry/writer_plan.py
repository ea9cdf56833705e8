"""Planning a registry write in memory: which shards a PromotionPatch touches and their
new text (SPEC §7).  Nothing here writes; ``registry_writer_service`` writes the plan.

A shard the id index vouches for is edited without being parsed whole (``ShardLines``);
any other shard is rebuilt line by line, every record looked at.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from regauto.errors import PatchError, RegistryFormatError
from regauto.registry import record_checks, records
from regauto.registry.id_index import IdIndex
from regauto.registry.promotion_patch import PromotionPatch, merge_patch
from regauto.registry.records import META_NAME, META_TEXT, Record
from regauto.registry.shard_lines import ShardLines, insertion_point, lines_ordered, path_bytes
from regauto.registry.store import RegistryStore, hash_of_manifest, text_sha256


@dataclass
class WritePlan:
    """A registry write worked out in memory: every shard's old and new text, and what the
    id index must learn from it."""

    manifest: dict[str, str]
    old_texts: dict[str, str | None]
    new_texts: dict[str, str | None]
    # (doc_id, path) of every record of each planned shard, for the id index
    rows_by_shard: dict[str, list[tuple[str | None, str | None]]]
    changed_ids: list[str] = field(default_factory=list)
    ordered: dict[str, bool] = field(default_factory=dict)  # new shard is ordered (id_index)
    partial: set[str] = field(default_factory=set)  # rows_by_shard holds changed ids only


class WritePlanner:
    def __init__(self, store: RegistryStore, index: IdIndex) -> None:
        self.store = store
        self.index = index

    def plan(self, patch: PromotionPatch, manifest: dict[str, str]) -> WritePlan:
        """What ``patch`` makes of the shards it touches (and ``meta.json``), in memory."""
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
        plan = WritePlan(manifest, {}, {}, {})
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
        check_changes(changes)
        self.index.sync(manifest)
        located = self.index.shards_of(changes)
        need = {s for ss in located.values() for s in ss}
        need |= {
            records.shard_of(f["path"]) for f in changes.values()
            if f is not None and isinstance(f.get("path"), str)
        }
        load(need)
        return final_records(changes, _current_records(shards, set(changes), located))

    def _final_complex(
        self,
        ops: list[dict[str, Any]],
        manifest: dict[str, str],
        load: Callable[[set[str]], None],
        shards: dict[str, ShardLines],
    ) -> dict[str, Record | None]:
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
        import jsonpatch  # here: only raw JSON Patch operations need it
        import jsonpointer

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


def check_changes(changes: dict[str, dict[str, Any] | None]) -> None:
    """A simple patch's ids and paths, checked before anything is read."""
    for doc_id, fields in changes.items():
        record_checks.checked_id("changes", doc_id)
        if fields is not None and "path" in fields:
            record_checks.checked_path(doc_id, fields["path"])


def final_records(changes: dict[str, dict[str, Any] | None],
                  current: dict[str, Record]) -> dict[str, Record | None]:
    """Each changed id's record after a simple patch: its fields merged into the current
    record (RFC 7386), validated; None for a deletion."""
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


def target_of(
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
