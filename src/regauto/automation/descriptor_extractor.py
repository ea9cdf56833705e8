"""Descriptor extractor: a compact, deterministic summary of a document's content (SPEC §6).

``extract(kind, data)`` picks the extractor registered for the classifier's ``kind``:

============================  ==============================================================
kind                          descriptor keys
============================  ==============================================================
python, pyi                   summary, classes, functions, imports, all, lines — or
                              error, lines (see ``extractors.python``)
markdown, mdx                 title, headings, front_matter, lines (``extractors.markdown``)
binary formats, symlink       ``{}``
any other kind                ``{"lines": n}`` when the content is text, ``{}`` when binary
============================  ==============================================================

Optional keys are left out when the document has no such thing.  With ``max_bytes`` and a
larger input the descriptor is ``{"skipped": "too large"}``.  Input never makes it raise: an
extractor that fails on some content yields ``{"error": "<Type>: <message>", "lines": n}``.
Values are only dicts, lists, str, int and bool, so a descriptor is valid JSON as is.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from identify import extensions, identify

from regauto.automation.classifier import GENERIC_TAGS
from regauto.automation.extractors import Extractor, builtin_table
from regauto.automation.extractors.text import count_lines


def _binary_only_tags() -> frozenset[str]:
    """Format tags identify only ever gives to binary files (png, zip, pdf, ...)."""
    binary: set[str] = set()
    textual: set[str] = set()
    tables = (extensions.EXTENSIONS, extensions.EXTENSIONS_NEED_BINARY_CHECK, extensions.NAMES)
    for table in tables:
        for tags in table.values():
            (binary if identify.BINARY in tags else textual).update(tags)
    return frozenset(binary - textual - GENERIC_TAGS)


def _empty(data: bytes) -> dict[str, object]:
    return {}


_TABLE: dict[str, Extractor] = {
    **dict.fromkeys(_binary_only_tags(), _empty),
    "binary": _empty,
    "symlink": _empty,
    **builtin_table(),
}


def register(kind: str, fn: Callable[[bytes], dict[str, object]]) -> None:
    """Use ``fn`` for ``kind`` from now on, replacing any built-in extractor for it."""
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind must be a non-empty string, not {kind!r}")
    if not callable(fn):
        raise TypeError(f"extractor for {kind!r} is not callable")
    _TABLE[kind] = fn


def extract(kind: str, data: bytes, *, max_bytes: int | None = None) -> dict[str, object]:
    if max_bytes is not None and len(data) > max_bytes:
        return {"skipped": "too large"}
    fn = _TABLE.get(kind, _fallback)
    try:
        result = fn(data)
    except Exception as e:  # input must never stop the pipeline (SPEC §6, §11)
        return {"error": f"{type(e).__name__}: {e}", "lines": count_lines(data)}
    _check_json(result, kind)
    return result


def _fallback(data: bytes) -> dict[str, object]:
    # An unknown kind: identify's own text test (control bytes in the first KiB) decides.
    if identify.is_text(io.BytesIO(data)):
        return {"lines": count_lines(data)}
    return {}


def _check_json(value: object, kind: str, where: str = "descriptor") -> None:
    """A registered extractor returning floats, tuples or None is a bug: say so loudly."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"extractor for {kind!r}: {where} has a non-string key {k!r}")
            _check_json(v, kind, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_json(v, kind, f"{where}[{i}]")
    elif not isinstance(value, (str, int, bool)):
        raise TypeError(f"extractor for {kind!r}: {where} is a {type(value).__name__}")
    if where == "descriptor" and not isinstance(value, dict):
        raise TypeError(f"extractor for {kind!r} returned a {type(value).__name__}, not a dict")
