"""The registry merge driver: ``regauto merge-driver %O %A %B %P`` (SPEC §8.4).

git calls it for each registry shard both sides changed, with the three versions in temp
files (base, ours, theirs) and the shard's path.  It merges record by record, keyed by
doc_id, writes the canonical shard to ``%A`` and exits 0 — or 1 when a record was changed in
incompatible ways.  git holds the index lock meanwhile: the driver writes nothing but
``%A`` and runs only git commands that read objects (``cat-file``, ``merge-file``).

How one doc_id merges (``path`` and the rest of the record are merged separately):

- changed on one side only, or the same way on both: that change;
- added on both sides at different paths: both records are kept (a duplicate id, which
  ``regauto check`` reports and ``regauto fix`` repairs);
- the rest of the record (blob, size, kind, tags, role, descriptor, id_mode) changed
  differently on both sides: ours, except the content fields (blob, size, descriptor),
  which describe the document as git merges it: ``doc_merge`` merges the document's three
  recorded blobs as git does and records the result.  Where that fails (a conflict in the
  document itself, a blob git does not have) the record keeps ours and is stale, not
  contradictory: the hooks, ``check`` and ``fix`` see its blob differ from the file and
  re-derive it.  Failing the merge here would stop every merge of two branches that
  edited the same document;
- deleted on one side and changed on the other, or moved to two different paths: a conflict.

Records that cannot be keyed by a single doc_id (no doc_id, or a doc_id held by several
records in one version) merge as a set of lines: a line one side added is kept, a line one
side removed is dropped.  Duplicates are left for check/fix.

On a conflict ``%A`` still receives the merge with the conflicting records as ours has them
(so a plain ``git add`` keeps theirs' other changes to this shard) and the exit code is 1;
git then marks the shard conflicted.  On malformed input nothing is written (exit 2).
A merge that leaves no record writes an empty ``%A``; ``check`` reports the empty shard and
``fix`` removes it (the driver cannot delete a path).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regauto import durable, jsonload
from regauto.errors import EXIT_DRIFT, BadInputError, RegautoError
from regauto.registry import records

# (base, ours, theirs) records changed on both sides -> their merged content fields, or None.
Remerge = Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], "dict[str, Any] | None"]


class MergeConflict(RegautoError):
    """The same record was changed in incompatible ways on both sides (exit 1)."""

    exit_code = EXIT_DRIFT


@dataclass(frozen=True)
class Line:
    """One record line: the parsed object and its original text (kept for odd records)."""

    rec: dict[str, Any]
    text: str

    def out(self) -> str:
        # Well-formed records are re-serialised canonically; a record missing fields or
        # carrying unknown ones is written back exactly as it was, for check to report.
        if set(self.rec) == set(records.FIELDS):
            return records.dumps(self.rec)
        return self.text


def _same(a: Any, b: Any) -> bool:
    # Compare as canonical JSON: plain ``==`` would call 1, 1.0 and true the same value.
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def parse(text: str, label: str) -> list[Line]:
    """The records of one version; malformed input raises BadInputError naming the line."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    out: list[Line] = []
    for n, raw in enumerate(lines, 1):
        try:
            rec = jsonload.loads(raw, strict=True)
        except ValueError as e:
            raise BadInputError(f"{label}:{n}: not valid JSON ({e})") from None
        if not isinstance(rec, dict):
            raise BadInputError(f"{label}:{n}: not a JSON object")
        out.append(Line(rec, raw))
    return out


def _by_id(lines: list[Line]) -> dict[Any, list[Line]]:
    groups: dict[Any, list[Line]] = {}
    for ln in lines:
        doc_id = ln.rec.get("doc_id")
        groups.setdefault(doc_id if isinstance(doc_id, str) else None, []).append(ln)
    return groups


def _set_merge(base: list[Line], ours: list[Line], theirs: list[Line]) -> list[Line]:
    b = {ln.text for ln in base}
    t = {ln.text for ln in theirs}
    kept = [ln for ln in ours if ln.text in t or ln.text not in b]
    seen = {ln.text for ln in kept}
    kept += [ln for ln in theirs if ln.text not in b and ln.text not in seen]
    return kept


def _rest(rec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k != "path"}


def _pick(base: Any, ours: Any, theirs: Any) -> tuple[Any, bool]:
    """Three-way choice of one value: (result, True when both sides changed it differently)."""
    if _same(ours, theirs) or _same(theirs, base):
        return ours, False
    if _same(ours, base):
        return theirs, False
    return ours, True


def _merge_one(
    doc_id: str, base: Line | None, ours: Line | None, theirs: Line | None,
    remerge: Remerge | None = None,
) -> tuple[list[Line], str | None]:
    """Merge one doc_id's record; returns the lines to keep and a conflict reason or None."""
    if ours is None or theirs is None:
        side, other, who = (theirs, ours, "ours") if ours is None else (ours, theirs, "theirs")
        if base is None:  # added on one side only
            return [ln for ln in (ours, theirs) if ln is not None], None
        if side is None:  # deleted on both sides
            return [], None
        assert other is None
        if _same(side.rec, base.rec):  # deleted on one side, untouched on the other
            return [], None
        kept = [ours] if ours is not None else []
        return kept, f"record {doc_id} deleted by {who} and changed by the other side"
    if base is None and ours.rec.get("path") != theirs.rec.get("path"):
        return [ours, theirs], None  # both added it at different paths: a duplicate id
    b = base.rec if base is not None else {}
    path, moved_apart = _pick(b.get("path"), ours.rec.get("path"), theirs.rec.get("path"))
    rest, both = _pick(_rest(b), _rest(ours.rec), _rest(theirs.rec))
    if both and base is not None and remerge is not None:
        content = remerge(base.rec, ours.rec, theirs.rec)
        if content is not None:
            rest = {**rest, **content}
    if moved_apart:
        return [ours], (
            f"record {doc_id} moved to {ours.rec.get('path')!r} by ours and to "
            f"{theirs.rec.get('path')!r} by theirs"
        )
    rec = {**rest, "path": path}
    if _same(rec, ours.rec):
        return [ours], None
    if _same(rec, theirs.rec):
        return [theirs], None
    return [Line(rec, json.dumps(rec, ensure_ascii=False, separators=(", ", ": ")))], None


def merge(base: str, ours: str, theirs: str, path: str,
          remerge: Remerge | None = None) -> tuple[str, list[str]]:
    """Merge three shard texts; returns (canonical merged text, conflict reasons).
    ``remerge`` re-derives a record both sides changed (``doc_merge``); without it such a
    record keeps ours."""
    groups = [
        _by_id(parse(text, f"{path} ({label})"))
        for text, label in ((base, "base"), (ours, "ours"), (theirs, "theirs"))
    ]
    result: list[Line] = []
    conflicts: list[str] = []
    keys = sorted(set().union(*groups), key=lambda k: "" if k is None else k)
    for key in keys:
        b, o, t = (g.get(key, []) for g in groups)
        if key is None or max(len(b), len(o), len(t)) > 1:
            result += _set_merge(b, o, t)
            continue
        first = [x[0] if x else None for x in (b, o, t)]
        kept, reason = _merge_one(key, first[0], first[1], first[2], remerge)
        result += kept
        if reason:
            conflicts.append(reason)
    result.sort(key=lambda ln: (records.sort_key(ln.rec), ln.out()))
    return "".join(ln.out() + "\n" for ln in result), conflicts


def _read(path: Path, label: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BadInputError(f"{label}: cannot read {path}: {e.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise BadInputError(f"{label}:{line}: not valid UTF-8") from None


def _write_atomic(path: Path, text: str) -> None:
    durable.replace_durably(path, text.encode("utf-8"), keep_mode=True)


def _is_output(path: str) -> bool:
    from regauto import config
    from regauto.git import discover

    found = discover(Path.cwd())
    try:
        return found is not None and path in config.load(found.root).outputs
    except RegautoError:
        return False


def run(base: Path, ours: Path, theirs: Path, path: str) -> int:
    """The driver: merge into ``ours`` (git's ``%A``); 0 merged, 1 conflict (raised)."""
    if _is_output(path):
        # A generated output changed on both sides: keep ours; the merge's pre-merge-commit
        # hook (or the verification after a rebase) re-renders it from the merged registry.
        return 0
    base_text, ours_text, theirs_text = (
        _read(p, f"{path} ({label})")
        for p, label in ((base, "base"), (ours, "ours"), (theirs, "theirs"))
    )
    from regauto.gitint import doc_merge

    merged, conflicts = merge(base_text, ours_text, theirs_text, path,
                              doc_merge.for_repository(Path.cwd()))
    if merged != ours_text:
        _write_atomic(ours, merged)
    if conflicts:
        more = f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""
        raise MergeConflict(
            f"merge conflict in {path}: {conflicts[0]}{more}; ours is kept for "
            "the conflicting record(s): edit if needed, `git add` it, then `regauto fix`"
        )
    return 0
