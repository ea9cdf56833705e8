"""A shard as lines, for the writer (SPEC §3): the canonical line prefix
``{"path": "…", "doc_id": "…", `` read without a JSON parse, binary search over an ordered
shard's text, and the one parser of a registry line (``parse_line``), whose errors name
the file and line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from regauto import jsonload
from regauto.errors import RegistryFormatError
from regauto.registry.records import Record


@dataclass
class ShardLines:
    """A shard for the writer, which changes a few records of shards holding hundreds:
    parsing all of them would make a 10-record patch cost in proportion to the registry's
    size.  A line is parsed as JSON only when asked for.

    ``lines`` and ``keys`` (the ``(path, doc_id)`` of every line, from its canonical
    prefix) are built on first use.  An *ordered* shard (the id index says: canonical
    prefixes, strictly increasing paths, unique doc_ids, final newline) is never split:
    its records are found with ``str.find`` and placed by binary search over the text."""

    name: str
    text: str = ""
    display: str = ""
    ordered: bool = False
    parsed: dict[int, Record] = field(default_factory=dict)
    _lines: list[str] | None = None
    _keys: list[tuple[str | None, str | None]] | None = None
    _by_id: dict[str, list[int]] | None = None

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            lines = self.text.split("\n") if self.text else []
            if lines and lines[-1] == "":
                lines.pop()
            self._lines = lines
        return self._lines

    def record(self, i: int) -> Record:
        """The record of line ``i``."""
        rec = self.parsed.get(i)
        if rec is None:
            rec = parse_line(self.display, i + 1, self.lines[i])
            self.parsed[i] = rec
        return rec

    @property
    def keys(self) -> list[tuple[str | None, str | None]]:
        if self._keys is None:
            keys: list[tuple[str | None, str | None] | None] = list(map(line_key, self.lines))
            if None in keys:  # a line of another shape (hand-edited, merged): parse it
                keys = [k if k is not None else key_of(self.record(i))
                        for i, k in enumerate(keys)]
            self._keys = keys  # type: ignore[assignment]  # no None left
        return self._keys  # type: ignore[return-value]

    def indices(self, doc_id: str) -> list[int]:
        """The lines holding ``doc_id`` (more than one: a duplicate)."""
        if self._by_id is None:
            self._by_id = {}
            for i, (_, doc) in enumerate(self.keys):
                if doc is not None:
                    self._by_id.setdefault(doc, []).append(i)
        return self._by_id.get(doc_id, [])

    # -- ordered shards: offsets into the text ----------------------------------------------
    def span_of(self, doc_id: str) -> tuple[int, int] | None:
        """``(start, end)`` of the line holding ``doc_id`` in an ordered shard (end: after
        its newline).  A descriptor may contain the same text as a line's prefix, so each
        hit is checked against the prefix of its line."""
        text = self.text
        needle = f"{_MID}{doc_id}\", "
        pos = text.find(needle)
        while pos >= 0:
            start = text.rfind("\n", 0, pos) + 1
            end = text.find("\n", pos) + 1
            key = line_key(text[start:end])
            if key is not None and key[1] == doc_id:
                return start, end
            pos = text.find(needle, pos + 1)
        return None

    def record_at(self, span: tuple[int, int]) -> Record:
        start, end = span
        rec = self.parsed.get(-start - 1)
        if rec is None:
            lineno = self.text.count("\n", 0, start) + 1
            rec = parse_line(self.display, lineno, self.text[start:end - 1])
            self.parsed[-start - 1] = rec
        return rec


def insertion_point(text: str, path: bytes) -> tuple[int, str | None]:
    """Where a line for ``path`` goes in the text of an ordered shard (a line start), and
    the doc_id of the line already holding ``path``, if any: binary search over the text,
    reading the prefixes of O(log n) lines."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi) // 2
        start = text.rfind("\n", lo, mid) + 1 or lo
        end = text.find("\n", start) + 1
        key = line_key(text[start:end])
        assert key is not None, "ordered shards have canonical prefixes"
        if path_bytes(key[0]) < path:
            lo = end
        else:
            hi = start
    if lo < len(text):
        key = line_key(text[lo:text.find("\n", lo) + 1])
        if key is not None and path_bytes(key[0]) == path:
            return lo, key[1]
    return lo, None


_HEAD = '{"path": "'
_MID = '", "doc_id": "'


def line_key(line: str) -> tuple[str, str] | None:
    """``(path, doc_id)`` from a canonical line's prefix, or None when it has another shape.

    Inside a JSON string every ``"`` is escaped, so the first ``", "doc_id": "`` ends the
    path.  Only strings are taken; anything else is left to a real parse."""
    if not line.startswith(_HEAD):
        return None
    end = line.find(_MID, len(_HEAD))
    if end < 0:
        return None
    start = end + len(_MID)
    doc_id = line[start:start + 16]
    if line[start + 16:start + 19] != '", ' or '"' in doc_id or "\\" in doc_id:
        return None
    raw = line[len(_HEAD):end]
    if "\\" in raw:
        try:
            raw = json.loads('"' + raw + '"')
        except ValueError:
            return None
    return raw, doc_id


def path_bytes(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def lines_ordered(lines: list[str]) -> bool:
    """Every line has the canonical prefix, the paths strictly increase (bytewise) and no
    doc_id repeats: what the writer's binary search needs (see ``ShardLines``)."""
    prev = b""
    ids: set[str] = set()
    for i, line in enumerate(lines):
        key = line_key(line)
        if key is None or key[1] in ids:
            return False
        cur = path_bytes(key[0])
        if i and cur <= prev:
            return False
        prev = cur
        ids.add(key[1])
    return True


def parse_line(display: str, lineno: int, line: str) -> Record:
    """The record on line ``lineno`` of ``display``; a format error naming both if it is
    not a JSON object."""
    if not line.strip():
        raise RegistryFormatError(f"{display}:{lineno}: empty line")
    try:
        rec = jsonload.loads(line)
    except ValueError as e:
        msg = getattr(e, "msg", None) or str(e)
        col = getattr(e, "colno", None)
        where = f" at column {col}" if col is not None else ""
        raise RegistryFormatError(f"{display}:{lineno}: malformed JSON ({msg}{where})") from None
    if not isinstance(rec, dict):
        raise RegistryFormatError(f"{display}:{lineno}: not a JSON object")
    return rec


def key_of(rec: Record) -> tuple[str | None, str | None]:
    """``(path, doc_id)`` of a parsed record (None where not a string)."""
    path, doc_id = rec.get("path"), rec.get("doc_id")
    return (path if isinstance(path, str) else None,
            doc_id if isinstance(doc_id, str) else None)
