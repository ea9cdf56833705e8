"""``registry.shard_decoder.healthy`` may only call a shard healthy when the exact code
(``json``, ``records.problems``, ``records.dumps``, the path rule, the shard's order and
placement) finds nothing wrong with it; and it should call the ordinary shard healthy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from regauto.errors import BadInputError
from regauto.project import check_rel
from regauto.registry import records
from regauto.registry.shard_decoder import healthy
from registry_helpers import canonical_line, record


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def exactly_healthy(name: str, data: bytes) -> bool:
    """What the check's exact path concludes about a shard, from the public rules."""
    try:
        text = data.decode("utf-8")
        lines = text.split("\n")
        recs = [json.loads(ln) for ln in lines[:-1]]
    except ValueError:
        return False
    if not text.endswith("\n") or not all(isinstance(r, dict) for r in recs):
        return False
    for rec, line in zip(recs, lines, strict=False):
        if records.problems(rec) or records.dumps(rec) != line:
            return False
        try:
            check_rel(rec["path"])
        except BadInputError:
            return False
        if records.shard_of(rec["path"]) != name:
            return False
    keys = [records.sort_key(r) for r in recs]
    return keys == sorted(set(keys))


def _shard(*recs: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    name = records.shard_of(recs[0]["path"])
    return name, sorted(recs, key=records.sort_key)


NAME, RECS = _shard(record(1, "a/x.py"))
LINE = canonical_line(RECS[0])
CASES: dict[str, bytes] = {
    "canonical": (LINE + "\n").encode(),
    "non-ASCII kept": (canonical_line({**RECS[0], "descriptor": {"t": "é ü"}}) + "\n").encode(),
    "non-ASCII escaped": (LINE.replace('"lines"', '"\\u006cines"') + "\n").encode(),
    "compact separators": (json.dumps(json.loads(LINE), separators=(",", ":")) + "\n").encode(),
    "no final newline": LINE.encode(),
    "blank line": (LINE + "\n\n").encode(),
    "two records on a line": (LINE + " " + LINE + "\n").encode(),
    "split in two": (LINE.replace(', "descriptor"', '\n, "descriptor"') + "\n").encode(),
    "duplicate key": (LINE[:-1] + ', "size": 1}\n').encode(),
    "unknown field": (LINE[:-1] + ', "zz": 1}\n').encode(),
    "depth 64": (canonical_line({**RECS[0], "descriptor": _nested(64)}) + "\n").encode(),
    "depth 65": (canonical_line({**RECS[0], "descriptor": _nested(65)}) + "\n").encode(),
    "a float": (canonical_line({**RECS[0], "descriptor": {"x": 1e16}}) + "\n").encode(),
    # msgspec spells it 1e16, Python's json 1e+16: only the latter is canonical
    "a float spelled 1e16": (canonical_line({**RECS[0], "descriptor": {"x": 1e16}})
                             .replace("1e+16", "1e16") + "\n").encode(),
    "negative zero": (LINE.replace('"size": ', '"size": -0, "x": ') + "\n").encode(),
    "bool size": (canonical_line({**RECS[0], "size": True}) + "\n").encode(),
    "blob with a newline": (canonical_line({**RECS[0], "blob": RECS[0]["blob"] + "\n"})
                            + "\n").encode(),
    "bad date": (canonical_line({**RECS[0], "doc_id": "2026139922470001"}) + "\n").encode(),
    "sequence 0": (canonical_line({**RECS[0], "doc_id": "2026010112000000"}) + "\n").encode(),
    "years ahead": (canonical_line({**RECS[0], "doc_id": "2099010112000001"}) + "\n").encode(),
    "unsorted tags": (canonical_line({**RECS[0], "tags": ["text", "file"]}) + "\n").encode(),
    "dot-dot path": (canonical_line({**RECS[0], "path": "a/../x.py"}) + "\n").encode(),
    "invalid UTF-8": (LINE + "\n").encode().replace(b"a/x.py", b"a/\xff.py"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_healthy_only_when_the_exact_code_agrees(case: str) -> None:
    data = CASES[case]
    fast = healthy(NAME, data) is not None
    assert not fast or exactly_healthy(NAME, data), "the fast decoder accepted a bad shard"
    if case in ("canonical", "non-ASCII kept", "depth 64"):
        assert fast and exactly_healthy(NAME, data)


def test_a_shard_of_many_records_in_order() -> None:
    recs = [record(n, f"d{n % 7}/m{n}.py") for n in range(400)]
    by_shard: dict[str, list[dict[str, Any]]] = {}
    for r in recs:
        by_shard.setdefault(records.shard_of(r["path"]), []).append(r)
    name, group = max(by_shard.items(), key=lambda kv: len(kv[1]))
    data = "".join(canonical_line(r) + "\n" for r in sorted(group, key=records.sort_key))
    got = healthy(name, data.encode())
    assert got is not None and [r.path for r in got] == sorted(r["path"] for r in group)
    reversed_data = "".join(canonical_line(r) + "\n"
                            for r in sorted(group, key=records.sort_key, reverse=True))
    assert healthy(name, reversed_data.encode()) is None
    assert healthy("00.jsonl" if name != "00.jsonl" else "01.jsonl", data.encode()) is None
