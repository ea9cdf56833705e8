"""``regauto check`` and ``regauto fix`` (SPEC §8.1, §8.2): thin layers over the reconciler.

The JSON output of ``check --format json`` is documented in ``regauto.reconcile.report``.
Exit codes: 0 clean / repaired, 1 drift found (``check``, ``fix --dry-run``) or left by
``fix`` (a file it cannot repair: one line each says which and why), 2 a registry or
configuration that does not parse, 3 a lock or the registry stayed busy.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Optional

import typer

from regauto.cli.context import STATE, err, out, say
from regauto.cli.options import chosen, command


class CheckFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


class References(str, Enum):
    moved = "moved"
    all = "all"


def register(app: typer.Typer, panel: str) -> None:
    command(app, "check", check_cmd, panel)
    command(app, "fix", fix_cmd, panel)


def check_cmd(
    format: Optional[CheckFormat] = typer.Option(  # noqa: UP045 - typer needs Optional on 3.10
        None, "--format", show_default=False,
        help="text (a table), json (a stable list of {kind, doc_id, path, detail}) or "
        "github (::error annotations); default: text.",
    ),
    diff: bool = typer.Option(
        False, "--diff",
        help="Also show the registry lines fix would change (a unified diff; on stderr "
        "unless the format is text).",
    ),
    references: Optional[References] = typer.Option(  # noqa: UP045 - typer, Python 3.10
        None, "--references",
        help="broken_reference: moved (links to registered documents that moved; the "
        "default, or [check] references) or all (also links to paths that exist nowhere).",
    ),
) -> int:
    """Read-only: report every drift between the tree, the registry and the generated
    outputs; exit 1 if there is any."""
    from regauto.reconcile import report as rep
    from regauto.reconcile.reconciler import Reconciler

    format = chosen(format, CheckFormat)
    report = Reconciler(STATE.project()).check(
        diff=diff, references=references.value if references else None)
    if format == CheckFormat.json:
        sys.stdout.write(rep.to_json(report.drifts) + "\n")
    elif format == CheckFormat.github:
        sys.stdout.write(rep.to_github(report.drifts))
    elif not STATE.quiet or not report.clean:
        rep.print_text(out(), report)
    if diff and report.diff:
        (sys.stdout if format == CheckFormat.text else sys.stderr).write(report.diff)
    return 0 if report.clean else 1


def fix_cmd(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the plan and change nothing; exit 1 if there is any."
    ),
) -> int:
    """Repair every drift (through the pipeline and the single writer); running it again
    changes nothing.  A file it cannot repair (a name that is not UTF-8, say) gets one line
    saying why, and the exit code is 1."""
    from regauto.reconcile.reconciler import Reconciler
    from regauto.textout import shown

    report = Reconciler(STATE.project()).fix(dry_run=dry_run)
    for line in report.actions:
        print(line)
    # Not silenced by -q: it is why fix exits 1.
    verb = "cannot" if dry_run else "could not"
    for path, why in sorted(report.unrepaired.items()):
        sys.stderr.write(f"regauto: {verb} repair {shown(path)}: {shown(why)}\n")
    if dry_run:
        if report.clean and not report.actions:
            say("nothing to fix")
        return 0 if report.clean and not report.actions else 1
    if not report.actions and not report.unrepaired:
        say("nothing to fix: the registry matches the tree")
    elif report.repaired and report.actions:
        err().print(f"repaired {len(report.repaired)} drift(s)") if not STATE.quiet else None
    return 1 if report.unrepaired else 0
