"""The built-in generators: ``markdown-index``, ``json-index`` and ``csv-index``.

Each is a *projection* (the few fields of a record it shows) and a *renderer* (rows → text).
The projection is what the output depends on: a registry change that leaves every row the
same (a document's content changed but not its summary) leaves the output up to date.  The
renderers are pure: rows sorted by path (bytewise, as the registry sorts), no timestamps, no
counts of anything but the rows, so equal registries give byte-identical outputs.

``VERSION`` is part of every input hash: bump it when a renderer's output changes, so that
outputs written by an older regauto show up as stale instead of silently differing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from regauto.registry.records import Record

VERSION = 1
Row = Any


def summary_of(rec: Record) -> str:
    """A one-line description: the descriptor's ``summary`` (Python), else its ``title``."""
    desc = rec.get("descriptor")
    if isinstance(desc, dict):
        for key in ("summary", "title"):
            value = desc.get(key)
            if isinstance(value, str) and value.strip():
                return " ".join(value.split())
    return ""


def _s(rec: Record, key: str) -> str:
    value = rec.get(key)
    return value if isinstance(value, str) else ""


def _tags(rec: Record) -> list[str]:
    tags = rec.get("tags")
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


@dataclass(frozen=True)
class Builtin:
    name: str
    project: Callable[[Record], Row]
    render: Callable[[Sequence[Row]], str]

    @property
    def key(self) -> str:
        """Names the projection (and renderer) in caches and input hashes."""
        return f"builtin:{self.name}/{VERSION}"


# -- markdown-index -----------------------------------------------------------------------
def _md_row(rec: Record) -> Row:
    return [_s(rec, "doc_id"), _s(rec, "path"), _s(rec, "role"), summary_of(rec)]


def _md_cell(text: str) -> str:
    # A table cell is one line; a bare ``|`` would end the cell.
    return text.replace("\r", " ").replace("\n", " ").replace("|", "\\|")


def _md_render(rows: Sequence[Row]) -> str:
    out = [
        "# Document index",
        "",
        f"{len(rows)} document(s), generated from the regauto registry.",
        "",
        "| doc_id | path | role | summary |",
        "| --- | --- | --- | --- |",
    ]
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


# -- json-index ---------------------------------------------------------------------------
def _json_row(rec: Record) -> Row:
    return {
        "doc_id": _s(rec, "doc_id"),
        "path": _s(rec, "path"),
        "kind": _s(rec, "kind"),
        "role": _s(rec, "role"),
        "tags": _tags(rec),
        "summary": summary_of(rec),
    }


def _json_render(rows: Sequence[Row]) -> str:
    # One document per line: a change shows (and merges) as a change of that line.
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    docs = ("[\n    " + ",\n    ".join(lines) + "\n  ]") if lines else "[]"
    return '{\n  "documents": ' + docs + "\n}\n"


# -- csv-index ----------------------------------------------------------------------------
CSV_COLUMNS = ("doc_id", "path", "kind", "role", "summary")


def _csv_row(rec: Record) -> Row:
    return [_s(rec, "doc_id"), _s(rec, "path"), _s(rec, "kind"), _s(rec, "role"),
            summary_of(rec)]


def _csv_render(rows: Sequence[Row]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    w.writerows(rows)
    return buf.getvalue()


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin("markdown-index", _md_row, _md_render),
        Builtin("json-index", _json_row, _json_render),
        Builtin("csv-index", _csv_row, _csv_render),
    )
}
