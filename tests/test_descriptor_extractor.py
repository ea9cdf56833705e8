from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regauto.automation import descriptor_extractor
from regauto.automation.descriptor_extractor import extract, register

PY_MODULE = b'''#!/usr/bin/env python
"""Parse widgets.

Longer text that is not the summary.
"""
from __future__ import annotations

import os.path
import sys, json
from collections import abc
from . import sibling
from .pkg import thing

try:
    import ujson
except ImportError:
    ujson = None

__all__ = ["Widget", "parse"]


class Widget:
    def render(self, out): ...
    def _private(self): ...
    def __repr__(self): ...

    @property
    def size(self): ...

    @size.setter
    def size(self, v): ...


class _Hidden:
    pass


def parse(text, /, strict=False, *rest, limit, mode="x", **options):
    import re  # not top level
    return text


async def fetch(url):
    pass


def _helper():
    pass
'''


def test_python_descriptor() -> None:
    d = extract("python", PY_MODULE)
    assert d == {
        "summary": "Parse widgets.",
        "classes": [{"name": "Widget", "methods": ["render", "size"]}],
        "functions": [
            "parse(text, /, strict=..., *rest, limit, mode=..., **options)",
            "async fetch(url)",
        ],
        "imports": ["__future__", "collections", "json", "os", "sys", "ujson"],
        "all": ["Widget", "parse"],
        "lines": PY_MODULE.count(b"\n"),
    }


def test_python_keys_are_left_out_when_absent() -> None:
    assert extract("python", b"x = 1") == {"lines": 1}
    assert extract("python", b"") == {"lines": 0}
    assert extract("python", b"__all__ = []\n") == {"all": [], "lines": 1}
    assert extract("python", b"__all__ = names()\n") == {"lines": 1}


def test_python_keyword_only_and_redefinitions() -> None:
    src = b"def f(*, a, b=1): ...\ndef f(x): ...\ndef g(a, b=2, /): ...\n"
    assert extract("python", src)["functions"] == ["f(x)", "g(a, b=..., /)"]


def test_syntax_error_is_recorded_not_raised() -> None:
    d = extract("python", b"x = 1\ndef broken(:\n    pass\n")
    assert d == {"error": "SyntaxError: invalid syntax (line 2)", "lines": 3}


@pytest.mark.parametrize(
    "data",
    [
        b"x = 1\x00\n",  # NUL byte
        b"# -*- coding: ascii -*-\nx = '\xff'\n",  # bytes the declared encoding can't decode
        b"x = '\xff\xfe'\n",  # not UTF-8
        b"(" * 300 + b")" * 300,  # nested too deep
        b"s = '\\d'\n",  # invalid escape: a warning, never printed or raised
    ],
)
def test_weird_python_never_raises(data: bytes) -> None:
    d = extract("python", data)
    assert isinstance(d["lines"], int)
    json.dumps(d)


def test_python_with_bom_and_crlf() -> None:
    d = extract("python", b'\xef\xbb\xbf"""Hi."""\r\ndef f():\r\n    pass\r\n')
    assert d == {"summary": "Hi.", "functions": ["f()"], "lines": 3}


MD = b"""---
title: "Design: notes"
tags: [a, b]
  nested: no
# comment: no
author: me
---
# Not the title because front matter has one

Setext heading
--------------

```python
# not a heading
```

### Third ###
"""


def test_markdown_descriptor() -> None:
    assert extract("markdown", MD) == {
        "title": "Design: notes",
        "headings": ["Not the title because front matter has one", "Setext heading", "Third"],
        "front_matter": ["author", "tags", "title"],
        "lines": MD.count(b"\n"),
    }


def test_markdown_title_is_the_first_h1_without_front_matter() -> None:
    d = extract("markdown", b"Intro\n\n## Sub\n# Main\n# Second\n")
    assert d == {"title": "Main", "headings": ["Sub", "Main", "Second"], "lines": 5}


def test_markdown_unclosed_front_matter_is_a_thematic_break() -> None:
    assert extract("markdown", b"---\n# Title\n") == {
        "title": "Title",
        "headings": ["Title"],
        "lines": 2,
    }


def test_markdown_headings_are_capped() -> None:
    data = b"".join(b"## h%d\n" % i for i in range(500))
    d = extract("markdown", data)
    assert isinstance(d["headings"], list) and len(d["headings"]) == 100


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        ("text", b"a\nb\nc", {"lines": 3}),
        ("text", b"", {"lines": 0}),
        ("yaml", b"a: 1\n", {"lines": 1}),  # no extractor of its own: text fallback
        ("binary", b"\x00\x01", {}),
        ("symlink", b"", {}),
        ("png", b"\x89PNG\r\n", {}),  # a binary format even if the bytes look like text
        ("unknown-kind", b"\x00\x01\x02", {}),
    ],
)
def test_other_kinds(kind: str, data: bytes, expected: dict[str, object]) -> None:
    assert extract(kind, data) == expected


def test_too_large_is_skipped() -> None:
    assert extract("python", b"x" * 11, max_bytes=10) == {"skipped": "too large"}
    assert extract("python", b"x = 1", max_bytes=5) == {"lines": 1}


@pytest.fixture
def restore_table() -> Iterator[None]:
    saved = dict(descriptor_extractor._TABLE)
    yield
    descriptor_extractor._TABLE.clear()
    descriptor_extractor._TABLE.update(saved)


@pytest.mark.usefixtures("restore_table")
def test_register_a_new_kind() -> None:
    register("toml", lambda data: {"tables": data.count(b"["), "lines": 1})
    assert extract("toml", b"[a]\n") == {"tables": 1, "lines": 1}


@pytest.mark.usefixtures("restore_table")
def test_a_failing_extractor_does_not_stop_the_pipeline() -> None:
    def boom(data: bytes) -> dict[str, object]:
        raise UnicodeDecodeError("utf-8", data, 0, 1, "bad")

    register("toml", boom)
    d = extract("toml", b"\xff\n")
    assert d["lines"] == 1 and str(d["error"]).startswith("UnicodeDecodeError")


@pytest.mark.usefixtures("restore_table")
def test_non_json_output_is_a_bug_reported_loudly() -> None:
    register("toml", lambda data: {"ratio": 0.5})
    with pytest.raises(TypeError, match=r"descriptor\.ratio is a float"):
        extract("toml", b"")


_JSON_TYPES = (dict, list, str, int, bool)


def _only_json_types(value: object) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _only_json_types(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_only_json_types(v) for v in value)
    return isinstance(value, _JSON_TYPES)


@given(
    kind=st.sampled_from(["python", "markdown", "text", "rst", "png", "c"]),
    data=st.one_of(
        st.binary(max_size=300),
        st.text(alphabet=st.sampled_from("#-=`'\":_ \n\r\tabcdef()[],.\\x01é"), max_size=300)
        .map(lambda s: s.encode("utf-8")),
    ),
)
def test_any_input_gives_a_deterministic_json_descriptor(kind: str, data: bytes) -> None:
    first = extract(kind, data)
    assert first == extract(kind, bytes(data))
    assert _only_json_types(first)
    assert json.loads(json.dumps(first)) == first
