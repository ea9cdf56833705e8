"""Markdown descriptors (SPEC §6), without a Markdown or YAML library.

Keys, each present only when the document has that thing (``lines`` always):

- ``title``: the front matter's ``title:`` when it is a one-line scalar, else the first level-1
  heading;
- ``headings``: heading texts in document order (ATX ``#`` and setext underlines, not inside
  fenced code), at most ``MAX_HEADINGS``, each at most ``MAX_TEXT`` characters;
- ``front_matter``: sorted top-level keys of the YAML front matter (``---`` on line 1 up to a
  closing ``---`` or ``...``); ``[]`` for an empty front matter block;
- ``lines``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from regauto.automation.extractors.text import count_lines

KINDS = ("markdown", "mdx")
MAX_HEADINGS = 100
MAX_TEXT = 200

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# A top-level YAML key: not indented, not a comment or list item; may be quoted.
_KEY = re.compile(r"""^(?:"([^"]+)"|'([^']+)'|([^\s#'"\-?:][^:]*?))[ \t]*:(?:[ \t]|$)""")


def front_matter_end(lines: Sequence[bytes]) -> int | None:
    """Index of the closing fence of YAML front matter starting on line 0, else None.

    ``lines`` may keep their line ends and a leading BOM on the first one is ignored.  Shared
    with the header writer, so that both agree on what front matter is.
    """
    if not lines or lines[0].removeprefix(b"\xef\xbb\xbf").rstrip() != b"---":
        return None
    for i in range(1, len(lines)):
        if lines[i].rstrip() in (b"---", b"..."):
            return i
    return None


def front_matter_key(line: str) -> str | None:
    m = _KEY.match(line)
    if not m:
        return None
    return (m.group(1) or m.group(2) or m.group(3)).strip()


def extract(data: bytes) -> dict[str, object]:
    raw_lines = data.removeprefix(b"\xef\xbb\xbf").splitlines()
    keys: list[str] | None = None
    title: str | None = None
    body_start = 0
    end = front_matter_end(raw_lines)
    if end is not None:
        found: set[str] = set()
        for raw in raw_lines[1:end]:
            line = raw.decode("utf-8", errors="replace")
            key = front_matter_key(line)
            if key is None:
                continue
            found.add(key)
            if key == "title" and title is None:
                title = _scalar(line.split(":", 1)[1])
        keys = sorted(found)
        body_start = end + 1
    headings = _headings([raw.decode("utf-8", errors="replace") for raw in raw_lines[body_start:]])
    if title is None:
        title = next((text for level, text in headings if level == 1 and text), None)

    out: dict[str, object] = {}
    if title:
        out["title"] = _clip(title)
    if headings:
        out["headings"] = [_clip(text) for _, text in headings[:MAX_HEADINGS]]
    if keys is not None:
        out["front_matter"] = keys
    out["lines"] = count_lines(data)
    return out


def _headings(lines: list[str]) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    fence: str | None = None
    previous_plain: str | None = None  # a paragraph line that a setext underline may promote
    for line in lines:
        fm = _FENCE.match(line)
        if fence is not None:
            if fm and fm.group(1)[0] == fence[0] and len(fm.group(1)) >= len(fence):
                fence = None
            continue
        if fm:
            fence = fm.group(1)
            previous_plain = None
            continue
        atx = _ATX.match(line)
        if atx:
            found.append((len(atx.group(1)), (atx.group(2) or "").strip()))
            previous_plain = None
            continue
        setext = _SETEXT.match(line)
        if setext and previous_plain is not None:
            found.append((1 if setext.group(1)[0] == "=" else 2, previous_plain))
            previous_plain = None
            continue
        previous_plain = _paragraph_text(line)
    return found


def _paragraph_text(line: str) -> str | None:
    """The text of a line that could be a setext heading's content, else None."""
    if not line.strip() or line.startswith(("    ", "\t")):
        return None
    text = line.strip()
    if text.startswith((">", "- ", "* ", "+ ", "|", "<")) or _SETEXT.match(line):
        return None
    return text


def _scalar(value: str) -> str | None:
    value = value.strip()
    if not value or value[0] in "|>[{&*!#":
        return None  # block scalar, flow collection, anchor...: not a one-line title
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    else:
        value = value.split(" #", 1)[0].strip()  # a trailing comment
    return value or None


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
