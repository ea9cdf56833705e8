"""How ``regauto check`` and ``regauto fix`` print a report.

``--format json`` — the stable, documented output
--------------------------------------------------

A JSON array (UTF-8, one document, ``indent=2``), one object per drift, sorted by
``kind``, then ``path``::

    [
      {
        "kind": "untracked",
        "doc_id": null,
        "path": "docs/notes.md",
        "detail": "not in the registry; fix registers it with a new id"
      }
    ]

- ``kind`` (string): one of ``untracked``, ``missing``, ``moved``, ``modified``,
  ``misnamed``, ``header_missing``, ``header_mismatch``, ``duplicate_id``,
  ``duplicate_path``, ``invalid_record``, ``excluded``, ``noncanonical``,
  ``stale_output``, ``edited_output`` (SPEC §8.2), ``broken_reference`` (issue 13: the
  path is the referring file, the detail names the line and the target); with ``--base REF``
  also ``id_changed`` (a path recorded under another id than in REF; ``doc_id`` is the id it
  has now) and ``id_lost`` (an id of REF gone while its document remains; ``doc_id`` is REF's
  id, ``path`` where the document is now);
- ``doc_id`` (string of 16 digits, or ``null``): the document's id — for ``moved`` the id
  that moves, for ``duplicate_id`` the contested id, ``null`` when there is none (a new
  file, a registry file, a generated output);
- ``path`` (string): repository-relative, ``/``-separated: the document (for ``moved``, its
  new path; for ``missing``, the recorded one), the registry file (``noncanonical``, and
  ``invalid_record`` when the record names no usable path), or the generated output.  A
  name whose bytes are not UTF-8 carries each such byte as the escape ``\\udcNN`` (Python's
  ``surrogateescape``: ``os.fsencode(path)`` gives the file system's bytes back), so the
  output is always valid UTF-8; text and ``github`` output spell it ``\\xNN``;
- ``detail`` (string): one line for humans — what is wrong and what ``regauto fix`` does.
  Its wording is not part of the contract.

An empty array means clean (exit 0); a non-empty one exits 1.  New fields may be added to
the objects; existing ones keep their name and meaning.

``--format github``: one ``::error file=<path>,title=regauto <kind>::<detail>`` workflow
command per drift.  ``--format text``: a table grouped by kind and a last line naming the
command that repairs it all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from regauto.reconcile.drift import Drift, Report, sort_drifts
from regauto.textout import json_text, shown, undecodable_shown

if TYPE_CHECKING:
    from rich.console import Console

FIX_COMMAND = "regauto fix"


def to_json(drifts: list[Drift]) -> str:
    return json_text([d.to_json() for d in sort_drifts(drifts)])


def _gh_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(s: str) -> str:
    return _gh_data(s).replace(":", "%3A").replace(",", "%2C")


def to_github(drifts: list[Drift]) -> str:
    lines = []
    for d in sort_drifts(drifts):
        ident = f" ({d.doc_id})" if d.doc_id else ""
        # Workflow commands escape their own line breaks (%0A): only undecodable bytes here.
        path, detail = undecodable_shown(d.path), undecodable_shown(d.detail)
        lines.append(f"::error file={_gh_prop(path)},title={_gh_prop('regauto ' + d.kind)}"
                     f"::{_gh_data(detail + ident)}")
    return "".join(line + "\n" for line in lines)


def print_text(console: Console, report: Report, last_line: str | None = None) -> None:
    """The table; ``last_line`` replaces the closing advice (default: run ``regauto fix``)."""
    if report.clean:
        console.print("regauto check: clean — the registry matches the tree")
        return
    # Imported here: CI's formats (json, github) and a quiet clean check never need rich.
    from rich.table import Table
    from rich.text import Text

    table = Table(title="registry drift", show_lines=False)
    for col in ("kind", "path", "doc_id", "detail"):
        table.add_column(col, overflow="fold")
    for kind, items in report.by_kind().items():
        for n, d in enumerate(items):
            # Text, not markup: a file named "[bold]a.md" is shown as it is.
            table.add_row(kind if n == 0 else "", Text(shown(d.path)), d.doc_id or "-",
                          Text(shown(d.detail)))
        table.add_section()
    console.print(table)
    console.print(last_line or f"{len(report.drifts)} drift(s) found; run `{FIX_COMMAND}` to "
                  f"repair them (`{FIX_COMMAND} --dry-run` shows the plan)")
