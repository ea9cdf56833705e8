from __future__ import annotations

import ast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regauto.automation.headers import comment_style, embed_header, read_header_id

ID = "2026112621050001"
OTHER = "2026112621050002"


@pytest.mark.parametrize(
    ("kind", "before", "after"),
    [
        ("python", b"x = 1\n", b"# doc_id: ID\nx = 1\n"),
        (
            "python",
            b"#!/usr/bin/env python3\n# -*- coding: latin-1 -*-\nx = '\xe9'\n",
            b"#!/usr/bin/env python3\n# -*- coding: latin-1 -*-\n# doc_id: ID\nx = '\xe9'\n",
        ),
        ("python", b"# coding=utf-8\nx\n", b"# coding=utf-8\n# doc_id: ID\nx\n"),
        ("shell", b"#!/bin/sh", b"#!/bin/sh\n# doc_id: ID\n"),
        ("yaml", b"a: 1\r\nb: 2\r\n", b"# doc_id: ID\r\na: 1\r\nb: 2\r\n"),
        ("toml", b"", b"# doc_id: ID\n"),
        ("javascript", b"#!/usr/bin/env node\nf()\n", b"#!/usr/bin/env node\n// doc_id: ID\nf()\n"),
        ("go", b"// Package x.\npackage x\n", b"// doc_id: ID\n\n// Package x.\npackage x\n"),
        ("sql", b"select 1;\n", b"-- doc_id: ID\nselect 1;\n"),
        ("css", b"a {}\n", b"/* doc_id: ID */\na {}\n"),
        ("rst", b"Title\n=====\n", b".. doc_id: ID\n\nTitle\n=====\n"),
        (
            "xml",
            b'<?xml version="1.0"?>\n<a/>\n',
            b'<?xml version="1.0"?>\n<!-- doc_id: ID -->\n<a/>\n',
        ),
        (
            "dockerfile",
            b"# syntax=docker/dockerfile:1\nFROM python\n",
            b"# syntax=docker/dockerfile:1\n# doc_id: ID\nFROM python\n",
        ),
        ("markdown", b"# Title\n", b"<!-- doc_id: ID -->\n# Title\n"),
        ("markdown", b"---\ntitle: T\n---\nbody\n", b"---\ndoc_id: ID\ntitle: T\n---\nbody\n"),
        ("markdown", b"", b"<!-- doc_id: ID -->\n"),
    ],
)
def test_embed_places_the_header_where_the_language_allows(
    kind: str, before: bytes, after: bytes
) -> None:
    expected = after.replace(b"ID", ID.encode())
    assert embed_header(kind, before, ID) == expected
    assert read_header_id(kind, expected) == ID


def test_embedded_python_still_parses_with_its_docstring_and_encoding() -> None:
    src = '#!/usr/bin/env python\n# -*- coding: latin-1 -*-\n"""Café."""\n'.encode("latin-1")
    out = embed_header("python", src, ID)
    assert out is not None
    assert ast.get_docstring(ast.parse(out)) == "Café."


def test_bom_and_crlf_are_kept() -> None:
    out = embed_header("python", b"\xef\xbb\xbfx = 1\r\ny = 2\r\n", ID)
    assert out == b"\xef\xbb\xbf# doc_id: " + ID.encode() + b"\r\nx = 1\r\ny = 2\r\n"


def test_a_different_id_is_replaced_in_place() -> None:
    src = b"#!/bin/sh\n# doc_id: " + OTHER.encode() + b"\r\necho\n"
    out = embed_header("shell", src, ID)
    assert out == b"#!/bin/sh\n# doc_id: " + ID.encode() + b"\r\necho\n"
    assert read_header_id("shell", src) == OTHER


def test_markdown_front_matter_key_and_comment_are_both_read() -> None:
    fm = b"---\ntitle: x\ndoc_id: '" + ID.encode() + b"'\n---\n"
    assert read_header_id("markdown", fm) == ID
    assert embed_header("markdown", fm, OTHER) == fm.replace(
        b"doc_id: '" + ID.encode() + b"'", b"doc_id: " + OTHER.encode()
    )
    assert read_header_id("markdown", b"<!--doc_id:" + ID.encode() + b"-->\n") == ID


def test_invalid_or_placeholder_header_is_not_a_claim_and_gets_replaced() -> None:
    for src in (b"# doc_id: TODO\nx\n", b"# doc_id: 2026139999990001\nx\n", b"# doc_id:\nx\n"):
        assert read_header_id("python", src) is None
        assert embed_header("python", src, ID) == b"# doc_id: " + ID.encode() + b"\nx\n"


def test_hand_formatted_header_with_the_same_id_is_left_alone() -> None:
    src = b"#doc_id:" + ID.encode() + b"   \nx\n"
    assert embed_header("python", src, ID) is src


def test_only_the_top_of_the_file_is_read() -> None:
    src = b"x = 1\n" * 20 + b"# doc_id: " + ID.encode() + b"\n"
    assert read_header_id("python", src) is None
    indented = b"def f():\n    # doc_id: " + ID.encode() + b"\n"
    assert read_header_id("python", indented) is None


def test_kinds_without_comment_syntax_fall_back() -> None:
    for kind in ("json", "text", "binary", "png", "mdx", "csv"):
        assert comment_style(kind) is None
        assert embed_header(kind, b"{}", ID) is None
        assert read_header_id(kind, b"# doc_id: " + ID.encode()) is None


def test_bad_id_is_refused() -> None:
    with pytest.raises(ValueError, match="not a valid doc_id"):
        embed_header("python", b"", "123")


_KINDS = ["python", "shell", "yaml", "markdown", "go", "rst", "css", "xml", "dockerfile", "sql"]
_LINE = st.sampled_from(
    [b"", b"x = 1", b"#!/bin/sh", b"# -*- coding: utf-8 -*-", b"---", b"title: t", b"# H",
     b"<?xml version='1.0'?>", b"# syntax=x", b"\xff\xfe", b"# doc_id: " + OTHER.encode(),
     b"<!-- doc_id: junk -->", b"doc_id: 1"]
)
_FILES = st.tuples(
    st.lists(_LINE, max_size=8),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
    st.booleans(),
).map(lambda t: (b"\xef\xbb\xbf" if t[2] else b"") + t[1].join(t[0]) + (t[1] if t[3] else b""))
_IDS = st.integers(min_value=1, max_value=9999).map(lambda n: f"202601232247{n:04d}")


@given(kind=st.sampled_from(_KINDS), data=_FILES, doc_id=_IDS)
def test_embed_then_read_round_trips_and_is_idempotent(
    kind: str, data: bytes, doc_id: str
) -> None:
    once = embed_header(kind, data, doc_id)
    assert once is not None
    assert read_header_id(kind, once) == doc_id
    assert embed_header(kind, once, doc_id) == once
    assert once.startswith(b"\xef\xbb\xbf") == data.startswith(b"\xef\xbb\xbf")


@given(kind=st.sampled_from(_KINDS), data=_FILES, first=_IDS, second=_IDS)
def test_re_embedding_changes_only_the_header(
    kind: str, data: bytes, first: str, second: str
) -> None:
    a = embed_header(kind, data, first)
    assert a is not None
    b = embed_header(kind, a, second)
    assert b is not None
    assert read_header_id(kind, b) == second
    assert b.replace(second.encode(), first.encode()) == a
