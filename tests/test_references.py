"""Finding and rewriting intra-repository references (issue 13): every kind, byte for byte."""

from __future__ import annotations

from pathlib import Path

from regauto.automation.references import rewrite, scan

MARKDOWN = b"""# Title

See [the guide](guide.md#install "Guide title") and ![a diagram](img/a%20b.png).
Also [by reference][r], `[code](guide.md)` in a code span and <https://example.org>.
An [external](https://example.org/guide.md) and an [anchor](#title) link.

```python
[not a link](guide.md)
```

    [indented code](guide.md)

```{toctree}
:maxdepth: 2

guide
Decisions <adr/0001-use-x>
```

```{include} ../README.md
```

The role {doc}`adr/0001-use-x` and {doc}`a title <guide>`.

[r]: adr/0001-use-x.md#context "Title"
"""

MOVED = {"docs/adr/0001-use-x.md": "docs/adr/2026000000000001_0001-use-x.md",
         "docs/guide.md": "docs/user-guide.md"}


def spans(path: str, data: bytes, srcdir: str = "") -> list[tuple[int, str, str, bytes]]:
    return [(r.line, r.kind, r.target, data[r.start:r.end]) for r in scan(path, data, srcdir)]


def test_markdown_references_with_lines_and_exact_spans() -> None:
    assert spans("docs/index.md", MARKDOWN, "docs") == [
        (3, "link", "docs/guide.md", b"guide.md"),
        (3, "image", "docs/img/a b.png", b"img/a%20b.png"),
        (16, "toctree", "docs/guide", b"guide"),
        (17, "toctree", "docs/adr/0001-use-x", b"adr/0001-use-x"),
        (20, "include", "README.md", b"../README.md"),
        (23, "doc", "docs/adr/0001-use-x", b"adr/0001-use-x"),
        (23, "doc", "docs/guide", b"guide"),
        (25, "definition", "docs/adr/0001-use-x.md", b"adr/0001-use-x.md"),
    ]


def test_markdown_rewrite_changes_only_the_paths() -> None:
    new, done = rewrite(MARKDOWN, scan("docs/index.md", MARKDOWN, "docs"), MOVED)
    assert len(done) == 6
    expected = (MARKDOWN
                .replace(b"(guide.md#install", b"(user-guide.md#install")
                .replace(b"\nguide\n", b"\nuser-guide\n")
                .replace(b"<adr/0001-use-x>", b"<adr/2026000000000001_0001-use-x>")
                .replace(b"`adr/0001-use-x`", b"`adr/2026000000000001_0001-use-x`")
                .replace(b"<guide>`", b"<user-guide>`")
                .replace(b"[r]: adr/0001-use-x.md#", b"[r]: adr/2026000000000001_0001-use-x.md#"))
    assert new == expected
    # code spans, fenced and indented code, URLs and anchors are left alone
    assert b"`[code](guide.md)`" in new and b"[not a link](guide.md)" in new
    assert b"[indented code](guide.md)" in new


RST = b""".. doc_id: 2026000000000009

Index
=====

.. toctree::
   :maxdepth: 2
   :caption: Contents

   guide
   Decisions <adr/0001-use-x>
   /api/reference

See :doc:`guide` and :doc:`the decision <adr/0001-use-x>`.

.. include:: ../README.rst
.. literalinclude:: ../src/pkg/mod.py
.. image:: img/arch.png
.. figure:: /img/big.png

An example, not a reference::

   :doc:`guide`

.. code-block:: rst

   .. include:: guide.rst

A `hyperlink <guide.html>`_, a `file <adr/0001-use-x.rst>`_, a `target <name_>`_.
"""


def test_rst_references() -> None:
    assert spans("docs/index.rst", RST, "docs") == [
        (10, "toctree", "docs/guide", b"guide"),
        (11, "toctree", "docs/adr/0001-use-x", b"adr/0001-use-x"),
        (12, "toctree", "docs/api/reference", b"/api/reference"),
        (14, "doc", "docs/guide", b"guide"),
        (14, "doc", "docs/adr/0001-use-x", b"adr/0001-use-x"),
        (16, "include", "README.rst", b"../README.rst"),
        (17, "literalinclude", "src/pkg/mod.py", b"../src/pkg/mod.py"),
        (18, "image", "docs/img/arch.png", b"img/arch.png"),
        (19, "figure", "docs/img/big.png", b"/img/big.png"),
        (29, "link", "docs/guide.html", b"guide.html"),
        (29, "link", "docs/adr/0001-use-x.rst", b"adr/0001-use-x.rst"),
    ]


def test_rst_rewrite_of_docnames_whatever_the_suffix() -> None:
    moved = {"docs/adr/0001-use-x.rst": "docs/adr/2026000000000001_0001-use-x.rst",
             "docs/api/reference.rst": "docs/api/2026000000000002_reference.rst",
             "docs/img/big.png": "docs/img/2026000000000003_big.png"}
    new, done = rewrite(RST, scan("docs/index.rst", RST, "docs"), moved)
    assert [(r.line, text) for r, text in done] == [
        (11, "adr/2026000000000001_0001-use-x"),
        (12, "/api/2026000000000002_reference"),
        (14, "adr/2026000000000001_0001-use-x"),
        (19, "/img/2026000000000003_big.png"),
        (29, "adr/2026000000000001_0001-use-x.rst"),
    ]
    assert new.count(b"2026000000000001") == 3 and b"Decisions <adr/2026" in new
    assert new.replace(b"2026000000000001_", b"").replace(b"2026000000000002_", b"").replace(
        b"2026000000000003_", b"") == RST


NAV = b"""site_name: Example
docs_dir: 'site-src'
nav:
  - Home: index.md
  - "User guide": guide.md   # a comment
  - Decisions:
      - adr/0001-use-x.md
      - 'Use Y': 'adr/0002-use-y.md'
  - External: https://example.org/x.md
theme:
  name: mkdocs
"""


def test_mkdocs_nav() -> None:
    assert spans("mkdocs.yml", NAV) == [
        (4, "nav", "site-src/index.md", b"index.md"),
        (5, "nav", "site-src/guide.md", b"guide.md"),
        (7, "nav", "site-src/adr/0001-use-x.md", b"adr/0001-use-x.md"),
        (8, "nav", "site-src/adr/0002-use-y.md", b"adr/0002-use-y.md"),
    ]
    new, _ = rewrite(NAV, scan("mkdocs.yml", NAV),
                     {"site-src/adr/0002-use-y.md": "site-src/adr/2026000000000002_0002-use-y.md"})
    assert new == NAV.replace(b"'adr/0002", b"'adr/2026000000000002_0002")


def test_crlf_non_utf8_and_leaving_the_repository() -> None:
    data = b"caf\xe9 [a](../../outside.md) [b](sub/b.md)\r\n[c]: sub/b.md\r\n"
    refs = scan("docs/x.md", data)
    assert [(r.line, r.target) for r in refs] == [(1, "docs/sub/b.md"), (2, "docs/sub/b.md")]
    new, done = rewrite(data, refs, {"docs/sub/b.md": "docs/sub/2026000000000001_b.md"})
    assert new == data.replace(b"sub/b.md", b"sub/2026000000000001_b.md")
    assert len(done) == 2


def test_other_files_hold_no_references() -> None:
    assert scan("src/mod.py", b"# see [x](docs/a.md)\n") == []


def test_definitions_inside_code_are_not_references() -> None:
    data = b"```\n[r]: guide.md\n```\n\n    [s]: guide.md\n\n[t]: guide.md\n"
    assert [(r.line, r.kind) for r in scan("docs/x.md", data)] == [(7, "definition")]


def test_a_reference_rewrite_never_replaces_a_file_changed_since_its_scan(
        tmp_path: Path) -> None:
    from regauto.automation import ref_effects

    doc = tmp_path / "README.md"
    doc.write_bytes(b"[a](a.md)\n")
    doc.chmod(0o640)
    assert not ref_effects.replace_if_unchanged(doc, b"[a](old.md)\n", b"[a](b.md)\n")
    assert doc.read_bytes() == b"[a](a.md)\n"  # edited since the scan: left as it is
    assert ref_effects.replace_if_unchanged(doc, b"[a](a.md)\n", b"[a](b.md)\n")
    assert doc.read_bytes() == b"[a](b.md)\n" and doc.stat().st_mode & 0o777 == 0o640
    link = tmp_path / "link.md"
    link.symlink_to(doc)
    assert not ref_effects.replace_if_unchanged(link, b"[a](b.md)\n", b"x\n")
    assert link.is_symlink() and doc.read_bytes() == b"[a](b.md)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "link.md"]  # no temp
