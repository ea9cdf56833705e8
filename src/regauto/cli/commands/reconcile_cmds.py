"""``regauto check`` and ``regauto fix`` (SPEC §8.1, §8.2): thin layers over the reconciler.

The JSON output of ``check --format json`` is documented in ``regauto.reconcile.report``.
Exit codes: 0 clean / repaired, 1 drift found (``check``, ``fix --dry-run``) or left by
``fix`` (a file it cannot repair: one line each says which and why), 2 a registry or
configuration that does not parse, 3 a lock or the registry stayed busy.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import TYPE_CHECKING, Optional

import typer

from regauto.cli.context import STATE, err, say
from regauto.cli.options import chosen, command

if TYPE_CHECKING:
    from regauto.project import Project
    from regauto.reconcile.drift import Report


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
    rev: Optional[str] = typer.Option(  # noqa: UP045
        None, "--rev", metavar="REV", show_default=False,
        help="Check a commit's tree instead of the work tree (no checkout of yours is "
        "touched): what check says in a fresh clone at REV.",
    ),
    staged: bool = typer.Option(
        False, "--staged", help="Check the index: what `git commit` would record now."
    ),
    base: Optional[str] = typer.Option(  # noqa: UP045
        None, "--base", metavar="REF", show_default=False,
        help="Also check that ids are permanent: report id_changed/id_lost against REF's "
        "registry (a pull request's base branch).",
    ),
) -> int:
    """Read-only: report every drift between the tree, the registry and the generated
    outputs; exit 1 if there is any."""
    format = chosen(format, CheckFormat)
    if rev is not None or staged:
        from regauto.cli.commands.check_rev import check_commit

        return check_commit(STATE.project(), rev, staged=staged, format=format.value,
                            diff=diff, base=base)
    from regauto.cli.commands.check_here import check_here

    return check_here(format.value, diff, base, references.value if references else None)


def fix_cmd(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the plan and change nothing; exit 1 if there is any."
    ),
    base: Optional[str] = typer.Option(  # noqa: UP045
        None, "--base", metavar="REF", show_default=False,
        help="Also give back the ids REF recorded (registry mode) where they were changed "
        "or lost: ids are permanent.",
    ),
) -> int:
    """Repair every drift (through the pipeline and the single writer); running it again
    changes nothing.  A file it cannot repair (a name that is not UTF-8, say) gets one line
    saying why, and the exit code is 1."""
    from regauto.reconcile.reconciler import Reconciler
    from regauto.textout import shown

    project = STATE.project()
    report = Reconciler(project).fix(dry_run=dry_run)
    if base is not None:
        _fix_base(project, base, report, dry_run)
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


def _fix_base(project: Project, base: str, report: Report, dry_run: bool) -> None:
    """``fix --base``: after the ordinary repair (the registry is healthy then), the ids."""
    from regauto.reconcile import base_ids

    if dry_run:
        found = base_ids.check(project, base)
        report.drifts += found.drifts
        report.actions += [f"would fix {d.kind} {d.path}: {d.detail}" for d in found.drifts
                           if d.path not in found.unrepaired]
        unrepaired = found.unrepaired
    else:
        lines, unrepaired = base_ids.restore(project, base)
        report.actions += lines
    report.unrepaired.update(unrepaired)
