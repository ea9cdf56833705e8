"""Reading the registry and applying patches: ``hash``, ``patch``, ``show``, ``ls``, ``stats``."""

from __future__ import annotations

import json
import sys
from enum import Enum

import typer
from rich.text import Text

from regauto.cli.context import STATE, out
from regauto.errors import BadInputError, UsageError
from regauto.textout import json_text, shown


class Fmt(str, Enum):
    text = "text"
    json = "json"


def register(app: typer.Typer) -> None:
    app.command("hash")(hash_cmd)
    app.command("patch")(patch_cmd)
    app.command("show")(show_cmd)
    app.command("ls")(ls_cmd)
    app.command("stats")(stats_cmd)


def hash_cmd() -> int:
    """Print the current registry_hash alone (for scripts building patches)."""
    from regauto.registry import reader

    print(reader.open_reader(STATE.project()).current_hash())
    return 0


def patch_cmd(
    file: str = typer.Argument(..., help="A PromotionPatch as JSON, or - for standard input."),
) -> int:
    """Apply a PromotionPatch {base_hash, source, reason, changes|operations}."""
    from regauto.registry import open_writer
    from regauto.registry.promotion_patch import PromotionPatch, read_text

    project = STATE.project()
    where = "<stdin>" if file == "-" else file
    cap = project.config.max_patch_bytes
    # Bytes, decoded by read_text: sys.stdin's own decoding depends on the locale (strict
    # under a UTF-8 locale: a traceback; lossy under C) — a patch is UTF-8 JSON either way.
    if file == "-":
        text = read_text(sys.stdin.buffer, cap, where)
    else:
        try:
            with open(file, "rb") as f:
                text = read_text(f, cap, where)
        except OSError as e:
            raise BadInputError(f"{where}: cannot read: {e.strerror}") from None
    patch = PromotionPatch.loads(text, where)
    result = open_writer(project).apply(patch)
    if not STATE.quiet:
        msg = (f"applied: {result.records_changed} record(s) changed, "
               f"{len(result.shards_written)} file(s) written" if result.changed
               else "no change")
        print(msg, file=sys.stderr)
    print(result.new_hash)
    return 0


def show_cmd(
    key: str = typer.Argument(..., help="A doc_id or a path."),
    format: Fmt = typer.Option(Fmt.text, "--format", help="text or json."),
) -> int:
    """Show one registry record by doc_id or path."""
    from regauto.registry import reader

    project = STATE.project()
    r = reader.open_reader(project)
    recs = r.find(key)
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


def ls_cmd(
    format: Fmt = typer.Option(Fmt.text, "--format", help="text or json."),
    role: str = typer.Option(None, "--role", help="Only records with this role."),
) -> int:
    """List the registry's records."""
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


def stats_cmd(format: Fmt = typer.Option(Fmt.text, "--format", help="text or json.")) -> int:
    """Writer and queue statistics."""
    from regauto.registry import reader, writer_stats

    project = STATE.project()
    r = reader.open_reader(project)
    data: dict[str, object] = {
        "registry": {"hash": r.current_hash(), "files": len(r.store.files())},
        "writer": writer_stats.load(project.state_dir),
    }
    try:
        from regauto.events.work_queue import WorkQueue

        q = WorkQueue(project.state_dir)
        data["queue"] = q.counts()
        q.close()
    except ImportError:
        data["queue"] = {}
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
