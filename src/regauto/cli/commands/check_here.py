"""``regauto check`` of the work tree: the reconciler's report, printed in a format.

Free of typer: both the typer command (``reconcile_cmds.check_cmd``) and the fast front
end CI runs (``regauto.cli.check_entry``) print through this one function, so the two
cannot part ways.
"""

from __future__ import annotations

import sys

from regauto.cli.context import STATE, out


def check_here(format: str, diff: bool, base: str | None, references: str | None) -> int:
    """Check the work tree and print the report in ``format`` (text, json or github);
    0 when clean, 1 when there is drift."""
    from regauto.reconcile import base_ids, uncommitted
    from regauto.reconcile import drift as D
    from regauto.reconcile import report as rep
    from regauto.reconcile.reconciler import Reconciler

    project = STATE.project()
    report = Reconciler(project).check(diff=diff, references=references)
    last = None
    if base is not None:
        report.drifts = D.sort_drifts(report.drifts + base_ids.check(project, base).drifts)
        last = (f"{len(report.drifts)} drift(s) found; run `regauto fix --base {base}` to "
                "repair them")
    elif format == "text" and uncommitted.only_uncommitted(project, report.drifts):
        last = uncommitted.line(len(report.drifts))
    if format == "json":
        sys.stdout.write(rep.to_json(report.drifts) + "\n")
    elif format == "github":
        sys.stdout.write(rep.to_github(report.drifts))
    elif not STATE.quiet or not report.clean:
        rep.print_text(out(), report, last)
    if diff and report.diff:
        (sys.stdout if format == "text" else sys.stderr).write(report.diff)
    return 0 if report.clean else 1
