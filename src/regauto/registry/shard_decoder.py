"""A fast, strict reader of healthy shards: every record of a shard, or None.

A check with no caches (a fresh clone: CI) must decode, validate and prove canonical every
line of the registry — tens of megabytes at 100k documents.  ``healthy`` does it with
``msgspec`` (a schema-validating JSON decoder in C) and answers only one question: is this
shard valid and canonical, line by line, beyond doubt?  Then its records come back as
``Rec`` structs.  Anything else — a malformed or invalid line, a float, a noncanonical
line, lines out of order, a record in the wrong shard, a line nested deep enough to need
the depth walk — is None, and the caller reads that shard with the exact, slower code
(``RegistryStore.read_shard`` and ``records.problems``), which says what is wrong.  So this
module never decides *what* a check reports, only that a shard has nothing to report; it
accepts a subset of what the exact code accepts.

Canonical form is proved byte for byte: each record is encoded again (fixed field order,
descriptor keys sorted, ``msgspec``'s escaping, which is ``json.dumps(ensure_ascii=False)``'s
for every code point) and given the canonical separators by ``msgspec.json.format``; the
line must be exactly that.  Floats are left to the exact code: their spelling is the one
place where the two encoders could differ.
"""

from __future__ import annotations

import functools
import operator
import re
from typing import Any, Literal

import msgspec

from regauto import docid
from regauto.project import rels_ok
from regauto.registry import records


class Rec(msgspec.Struct, forbid_unknown_fields=True):
    """A registry record as a shard stores it (fields in canonical order, all required)."""

    path: str
    doc_id: str
    id_mode: Literal["prefix", "header", "registry"]
    kind: str
    tags: list[str]
    role: Literal["source", "test", "doc", "config", "script", "data", "other"]
    blob: str
    size: int
    descriptor: dict[str, Any]


class _FloatSeen(Exception):
    pass


def _no_float(_: str) -> Any:
    raise _FloatSeen


_DECODER = msgspec.json.Decoder(Rec, float_hook=_no_float)
_ENCODER = msgspec.json.Encoder(order="deterministic")  # dict keys sorted, fields in order
_SPACED = functools.partial(msgspec.json.format, indent=0)  # ", " and ": ", one line


def healthy(name: str, data: bytes) -> list[Rec] | None:
    """The records of shard ``name`` (its bytes ``data``) when every line is a valid
    record in canonical form, in its shard, sorted strictly by path, ending in a newline;
    else None (read it with the exact code)."""
    if not data.endswith(b"\n"):
        return None
    try:
        recs: list[Rec] = _DECODER.decode_lines(data)
    except (msgspec.DecodeError, msgspec.ValidationError, _FloatSeen, ValueError):
        return None
    if len(recs) != data.count(b"\n") or not _canonical(data, recs):
        return None
    if _may_be_too_deep(data):
        return None  # the exact code walks such a descriptor and says how deep it is
    return recs if _valid(name, recs) else None


def _canonical(data: bytes, recs: list[Rec]) -> bool:
    """Is every line of ``data`` the canonical text of its record?  The lines, joined
    by ``", "`` into an array, must be byte for byte the records' array in canonical
    form.  That is exact line by line: a newline inside a value, or two values on one
    line, would leave a sequence in that text (``[, `` or ``} {``) that no canonical
    JSON has, and a blank line an empty element."""
    joined = b"[" + data[:-1].replace(b"\n", b", ") + b"]"
    return _SPACED(_ENCODER.encode(recs)) == joined


_NOT_OPENING = bytes(b for b in range(256) if b not in b"{[\n")


def _may_be_too_deep(data: bytes) -> bool:
    """May a descriptor nest deeper than ``records.MAX_DEPTH``?  Only a line with more
    opening brackets than that can; each such line is formatted with one space of indent
    per level, where what sits inside a container ``d`` levels down the descriptor is
    ``d + 1`` spaces in (the record is the first level)."""
    counts = data.translate(None, _NOT_OPENING).split(b"\n")
    if max(map(len, counts)) <= records.MAX_DEPTH:
        return False
    lines = data.split(b"\n")
    deep = b"\n" + b" " * (records.MAX_DEPTH + 1)
    return any(deep in msgspec.json.format(lines[i], indent=1)
               for i, c in enumerate(counts) if len(c) > records.MAX_DEPTH)


_HEX = re.compile("[0-9a-f]*")
_DIGITS = re.compile("[0-9]*")


def _valid(name: str, recs: list[Rec]) -> bool:
    """What ``records.problems``, the path rule and the shard's order check, for the
    fields the schema does not pin down already — column by column."""
    paths = [r.path for r in recs]
    blobs = [r.blob for r in recs]
    ids = [r.doc_id for r in recs]
    tags = [r.tags for r in recs]
    if not (set(map(len, blobs)) == {40} and _HEX.fullmatch("".join(blobs))):
        return False
    if not (set(map(len, ids)) == {16} and _DIGITS.fullmatch("".join(ids))):
        return False
    # 16 digits each: ``docid.is_valid`` then asks for a sequence of at least 1 and a
    # real minute not too far ahead — asked once per minute (ids come in runs of one).
    if "0000\0" in "\0".join(ids) + "\0":
        return False
    if not all(docid.is_valid(minute + "0001") for minute in {i[:12] for i in ids}):
        return False
    if not all(r.kind for r in recs) or min(r.size for r in recs) < 0:
        return False
    if list(map(sorted, tags)) != tags:
        return False
    keys = [p.encode("utf-8") for p in paths]
    if not all(map(operator.lt, keys, keys[1:])):
        return False  # out of order, or one path twice
    if set(map(records.shard_of, paths)) != {name}:
        return False
    return rels_ok(paths)  # ``check_rel``: stricter than the record rule itself
