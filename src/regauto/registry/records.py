"""A registry record: its fields, canonical line form, shard placement and validation (SPEC §3)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from regauto import docid, jsonload

FIELDS = ("path", "doc_id", "id_mode", "kind", "tags", "role", "blob", "size", "descriptor")
ID_MODES = ("prefix", "header", "registry")
ROLES = ("source", "test", "doc", "config", "script", "data", "other")
META_TEXT = '{"regauto": "registry", "schema": 1, "shards": 256}\n'
META_NAME = "meta.json"
# Use with ``fullmatch``: ``$`` would also match before a final newline.
SHARD_RE = re.compile(r"[0-9a-f]{2}\.jsonl")
BLOB_RE = re.compile(r"[0-9a-f]{40}")

Record = dict[str, Any]


def shard_of(path: str) -> str:
    """The shard file holding ``path``'s record: first two hex digits of sha1(path)."""
    return hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()[:2] + ".jsonl"


MAX_DEPTH = 64  # nesting of a descriptor; extractors produce 3 or 4 levels

_SEPARATORS = (", ", ": ")
# Built once: ``json.dumps`` with options builds an encoder per call, a fifth of the cost
# of re-encoding a 100k-record registry to see that it is canonical.
_HEAD_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=_SEPARATORS)
_DESC_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=_SEPARATORS, sort_keys=True)


def dumps(rec: Record) -> str:
    """The canonical line of ``rec`` (no newline): fixed key order, UTF-8, ``", "``/``": "``.

    Descriptors come from extractors and patches; their nested keys are sorted (the C
    encoder's ``sort_keys``, no Python recursion) so that two writers that built the same
    data are byte-identical, whatever order they inserted keys in.
    """
    head = _HEAD_ENCODER.encode({k: rec[k] for k in FIELDS[:-1]})
    desc = _DESC_ENCODER.encode(rec["descriptor"])
    return f'{head[:-1]}, "descriptor": {desc}}}'



def sort_key(rec: Record) -> bytes:
    path = rec.get("path")
    return path.encode("utf-8", "surrogateescape") if isinstance(path, str) else b""


def shard_text(records: list[Record]) -> str:
    """The canonical text of one shard: records sorted bytewise by path, one per line."""
    return "".join(dumps(r) + "\n" for r in sorted(records, key=sort_key))


_FIELD_SET = frozenset(FIELDS)


def problems(rec: Any, *, walk_descriptor: bool = True, walk_strings: bool = True) -> list[str]:
    """Why ``rec`` is not a valid record (empty list: valid).  Paths are checked by the caller
    against the repository rules (``project.check_rel``) as well.  ``walk_descriptor=False``:
    the caller knows the descriptor cannot nest deeper than ``MAX_DEPTH``;
    ``walk_strings=False``: it knows no string holds a lone surrogate (see
    ``reconcile.registry_view.record_problems``).  A descriptor's numbers are integers:
    extractors count, and a float's text differs between JSON writers, which would break
    the byte-identical registry (SPEC §3)."""
    if not isinstance(rec, dict):
        return ["not a JSON object"]
    out: list[str] = []
    if rec.keys() != _FIELD_SET:
        missing = [k for k in FIELDS if k not in rec]
        extra = sorted(k for k in rec if k not in FIELDS)
        if missing:
            out.append("missing field(s) " + ", ".join(missing))
        if extra:
            out.append("unknown field(s) " + ", ".join(extra))
    p = rec.get("path")
    if "path" in rec and not (isinstance(p, str) and p and _path_ok(p)):
        out.append(f"bad path {p!r}")
    if "doc_id" in rec and not docid.is_valid(rec["doc_id"]):
        out.append(docid.problem(rec["doc_id"]) or "bad doc_id")
    if "id_mode" in rec and rec["id_mode"] not in ID_MODES:
        out.append(f"bad id_mode {rec['id_mode']!r}")
    if "kind" in rec and not (isinstance(rec["kind"], str) and rec["kind"]):
        out.append("bad kind")
    tags = rec.get("tags")
    if "tags" in rec and not (
        isinstance(tags, list) and all(isinstance(t, str) for t in tags) and tags == sorted(tags)
    ):
        out.append("tags must be a sorted list of strings")
    if "role" in rec and rec["role"] not in ROLES:
        out.append(f"bad role {rec['role']!r}")
    if "blob" in rec and not (isinstance(rec["blob"], str) and BLOB_RE.fullmatch(rec["blob"])):
        out.append("bad blob (40 hex digits)")
    size = rec.get("size")
    if "size" in rec and not (isinstance(size, int) and not isinstance(size, bool) and size >= 0):
        out.append("bad size")
    if "descriptor" in rec and not isinstance(rec["descriptor"], dict):
        out.append("descriptor must be an object")
    elif walk_descriptor and "descriptor" in rec and jsonload.depth(rec["descriptor"]) > MAX_DEPTH:
        out.append(f"descriptor nested deeper than {MAX_DEPTH} levels")
    elif "descriptor" in rec and jsonload.has_float(rec["descriptor"]):
        out.append("descriptor holds a number that is not an integer")
    if walk_strings and not out:
        bad = jsonload.lone_surrogate(rec)
        if bad is not None:
            # Not Unicode: the line could never be written back as UTF-8.
            out.append(f"a string holds a lone surrogate ({bad!r})")
    return out


def _path_ok(p: str) -> bool:
    parts = p.split("/")
    return not (
        p.startswith("/")
        or any(s in ("", ".", "..") for s in parts)
        or parts[0] == ".git"
        or "\0" in p
    )
