"""Reading the registry and applying patches: ``hash``, ``patch``, ``show``, ``ls``, ``stats``."""

from __future__ import annotations

import json
import sys
from enum import Enum
from typing import Any, Optional

import typer
from rich.text import Text

from regauto.cli.context import STATE, out
from regauto.cli.options import chosen, command
from regauto.errors import BadInputError, UsageError
from regauto.project import Project
from regauto.textout import json_text, shown


class Fmt(str, Enum):
    text = "text"
    json = "json"


def register(app: typer.Typer, panel: str) -> None:
    for name, fn in (("show", show_cmd), ("ls", ls_cmd), ("stats", stats_cmd),
                     ("hash", hash_cmd)):
        command(app, name, fn, panel)


def register_patch(app: typer.Typer, panel: str) -> None:
    command(app, "patch", patch_cmd, panel)


def _format_option() -> Any:
    return typer.Option(None, "--format", show_default=False, help="text (default) or json.")


def hash_cmd() -> int:
    """Print the current registry_hash alone (for scripts building patches)."""
    from regauto.registry import reader

    print(reader.open_reader(STATE.project()).current_hash())
    return 0


_STDIN: list[str] = []  # the patch read from standard input, if any (see patch_cmd)


def patch_cmd(
    file: str = typer.Argument(..., help="A PromotionPatch as JSON, or - for standard input."),
) -> int:
    """Apply a PromotionPatch {base_hash, source, reason, changes|operations}."""
    from regauto import generators
    from regauto.registry import open_writer
    from regauto.registry.promotion_patch import PromotionPatch, read_text

    project = STATE.project()  # first: an uninitialised repository is refused before input
    where = "<stdin>" if file == "-" else file
    cap = project.config.max_patch_bytes
    # Bytes, decoded by read_text: sys.stdin's own decoding depends on the locale (strict
    # under a UTF-8 locale: a traceback; lossy under C) — a patch is UTF-8 JSON either way.
    if file == "-":
        # Read once per process: the boundary runs the command a second time after healing
        # a corrupt state database, and standard input is empty by then.
        if not _STDIN:
            _STDIN.append(read_text(sys.stdin.buffer, cap, where))
        text = _STDIN[0]
    else:
        try:
            with open(file, "rb") as f:
                text = read_text(f, cap, where)
        except OSError as e:
            raise BadInputError(f"{where}: cannot read: {e.strerror}") from None
    patch = PromotionPatch.loads(text, where)
    result = open_writer(project, generators.post_write(project)).apply(patch)
    if not STATE.quiet:
        msg = (f"applied: {result.records_changed} record(s) changed, "
               f"{len(result.shards_written)} file(s) written" if result.changed
               else "no change")
        print(msg, file=sys.stderr)
    print(result.new_hash)
    return 0


def show_cmd(
    key: str = typer.Argument(
        ..., metavar="DOC_ID|PATH", help="A doc_id, or a path relative to the current folder."),
    format: Optional[Fmt] = _format_option(),  # noqa: UP045 - typer needs Optional on 3.10
) -> int:
    """Show one registry record by doc_id or path."""
    format = chosen(format, Fmt)
    from regauto.registry import reader

    project = STATE.project()
    r = reader.open_reader(project)
    recs = r.find(_registry_key(project, key))
    if not recs:
        raise UsageError(f"{key}: no such doc_id or path in the registry")
    if format == Fmt.json:
        print(json_text(recs[0] if len(recs) == 1 else recs))
        return 0
    from rich.table import Table

    for rec in recs:
        t = Table(show_header=False, box=None)
        for k, v in rec.items():
            t.add_row(Text(k, style="bold"),
                      Text(json_text(v, indent=None) if not isinstance(v, str) else shown(v)))
        out().print(t)
    return 0


def _registry_key(project: Project, key: str) -> str:
    """A doc_id as given; a path relative to the current folder, as git reads one (the
    registry's own form when the current folder is outside the repository: ``--root``)."""
    from regauto.docid import DOC_ID_RE

    if DOC_ID_RE.match(key):
        return key
    try:
        return project.rel(key)
    except BadInputError:
        return key


def ls_cmd(
    format: Optional[Fmt] = _format_option(),  # noqa: UP045
    role: Optional[str] = typer.Option(  # noqa: UP045
        None, "--role", help="Only records with this role."),
) -> int:
    """List the registry's records."""
    format = chosen(format, Fmt)
    from regauto.registry import reader

    recs = sorted(reader.open_reader(STATE.project()).all_records(),
                  key=lambda r: str(r.get("path", "")))
    if role:
        recs = [r for r in recs if r.get("role") == role]
    if format == Fmt.json:
        print(json_text(recs, indent=1))
        return 0
    from rich.table import Table

    t = Table(title=f"{len(recs)} document(s)")
    for col in ("doc_id", "path", "kind", "role", "id_mode"):
        t.add_column(col, overflow="fold")
    for r in recs:
        t.add_row(*(Text(shown(str(r.get(c, ""))))
                    for c in ("doc_id", "path", "kind", "role", "id_mode")))
    out().print(t)
    return 0


def stats_cmd(format: Optional[Fmt] = _format_option()) -> int:  # noqa: UP045
    """Writer and queue statistics."""
    format = chosen(format, Fmt)
    from regauto.registry import reader, writer_stats

    project = STATE.project()
    r = reader.open_reader(project)
    data: dict[str, object] = {
        "registry": {"hash": r.current_hash(), "files": len(r.store.files())},
        "writer": writer_stats.load(project.state_dir),
    }
    from regauto.events.work_queue import WorkQueue

    with WorkQueue(project.state_dir) as q:
        data["queue"] = q.counts()
    if format == Fmt.json:
        print(json.dumps(data, indent=2, sort_keys=True))
        return 0
    from rich.table import Table

    t = Table(title="regauto stats")
    t.add_column("section")
    t.add_column("name")
    t.add_column("value")
    for section, values in data.items():
        assert isinstance(values, dict)
        for k, v in values.items():
            t.add_row(section, k, str(v))
    out().print(t)
    return 0
