"""PromotionPatch: the one way to ask for a registry change (SPEC §7).

A patch names the ``base_hash`` it was computed against (the compare-and-swap token), who
sent it (``source``) and why (``reason``), and carries exactly one of:

- ``changes`` (simple mode): ``{doc_id: record fields | null}``, each value a JSON merge
  patch (RFC 7386) on that record — ``null`` deletes it, an unknown doc_id adds one;
- ``operations`` (complex mode): an RFC 6902 JSON Patch against the logical form
  ``{"documents": {doc_id: record}}``, ``test`` included.

``repair_shards`` is internal (never read from JSON): shards the reconciler asks to be
rewritten in canonical form, dropping records that are not valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from regauto import jsonload
from regauto.errors import PatchError

HASH_RE = re.compile(r"sha256:[0-9a-f]{64}")  # with fullmatch: `$` allows a final newline


@dataclass(frozen=True)
class PromotionPatch:
    """A change to the registry, planned against ``base_hash``: either simple ``changes``
    (doc_id -> record, None deletes) or RFC 6902 ``operations`` (SPEC §7)."""

    base_hash: str
    source: str
    reason: str
    changes: dict[str, dict[str, Any] | None] | None = None
    operations: list[dict[str, Any]] | None = None
    repair_shards: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if (self.changes is None) == (self.operations is None):
            raise PatchError("a patch carries exactly one of 'changes' and 'operations'")
        if not isinstance(self.base_hash, str) or not HASH_RE.fullmatch(self.base_hash):
            raise PatchError(f"base_hash {self.base_hash!r} is not a registry hash (sha256:…)")

    @property
    def mode(self) -> str:
        return "simple" if self.changes is not None else "complex"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"base_hash": self.base_hash, "source": self.source,
                               "reason": self.reason}
        if self.changes is not None:
            out["changes"] = self.changes
        else:
            out["operations"] = self.operations
        return out

    @classmethod
    def from_json(cls, data: Any, where: str = "patch") -> PromotionPatch:
        """Build a patch from decoded JSON, with one clear error naming what is wrong."""
        if not isinstance(data, dict):
            raise PatchError(f"{where}: expected a JSON object")
        allowed = {"base_hash", "source", "reason", "changes", "operations"}
        unknown = sorted(k for k in data if k not in allowed)
        if unknown:
            raise PatchError(f"{where}: unknown field {unknown[0]!r}")
        for k in ("base_hash", "source", "reason"):
            if not isinstance(data.get(k), str):
                raise PatchError(f"{where}: field {k!r} is required (a string)")
        changes = data.get("changes")
        operations = data.get("operations")
        if changes is not None:
            if not isinstance(changes, dict):
                raise PatchError(f"{where}: 'changes' must be an object {{doc_id: fields|null}}")
            for k, v in changes.items():
                if v is not None and not isinstance(v, dict):
                    raise PatchError(f"{where}: changes[{k!r}] must be an object or null")
        if operations is not None:
            if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
                raise PatchError(f"{where}: 'operations' must be a JSON Patch array of objects")
            for i, op in enumerate(operations):
                if not isinstance(op.get("op"), str) or not isinstance(op.get("path"), str):
                    raise PatchError(f"{where}: operations[{i}] needs string 'op' and 'path'")
        try:
            return cls(data["base_hash"], data["source"], data["reason"], changes, operations)
        except PatchError as e:
            raise PatchError(f"{where}: {e}") from None

    @classmethod
    def loads(cls, text: str, where: str = "patch") -> PromotionPatch:
        """Parse a patch given as JSON text.  Strict: a key given twice (two values for one
        doc_id would silently lose one), ``NaN``/``Infinity`` (not JSON; they would end up
        in a shard no other tool can read), nesting past ``jsonload.MAX_NESTING`` and lone
        surrogates (``\\ud800``: not Unicode, cannot be written) are errors, not tracebacks."""
        try:
            data = jsonload.loads(text, strict=True, object_pairs_hook=_unique_keys,
                                  parse_constant=_no_constant)
        except _StrictJSONError as e:
            raise PatchError(f"{where}: {e}") from None
        except ValueError as e:
            msg = getattr(e, "msg", str(e))
            line = getattr(e, "lineno", "?")
            col = getattr(e, "colno", "?")
            raise PatchError(f"{where}:{line}:{col}: malformed JSON ({msg})") from None
        return cls.from_json(data, where)


def read_text(f: BinaryIO, cap: int, where: str) -> str:
    """A patch's JSON text from ``f``: at most ``cap`` bytes (``max_patch_bytes``) of UTF-8.
    One byte more is read to tell a longer input, so an endless one (``/dev/zero``) costs
    ``cap`` bytes, not all the memory."""
    try:
        data = f.read(cap + 1)
    except OSError as e:
        raise PatchError(f"{where}: cannot read: {e.strerror}") from None
    if len(data) > cap:
        raise PatchError(f"{where}: longer than max_patch_bytes ({cap} bytes); split the "
                         "patch or raise max_patch_bytes in the config")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PatchError(f"{where}: not valid UTF-8 (byte {e.start})") from None


class _StrictJSONError(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _StrictJSONError(f"key {k!r} given twice in one object")
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise _StrictJSONError(f"{name} is not valid JSON")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result
