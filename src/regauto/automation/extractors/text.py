"""Plain text: only the line count (SPEC §6, "Other text: lines")."""

from __future__ import annotations

KINDS = ("text",)


def count_lines(data: bytes) -> int:
    """Lines as an editor shows them: a last line without a newline still counts."""
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def extract(data: bytes) -> dict[str, object]:
    return {"lines": count_lines(data)}
