"""``regauto doctor``: is this clone set up right, and what to run if not."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Optional

import typer

from regauto.cli.context import STATE, out
from regauto.cli.options import chosen, command


class Fmt(str, Enum):
    text = "text"
    json = "json"


def register(app: typer.Typer, panel: str) -> None:
    command(app, "doctor", doctor_cmd, panel)


def doctor_cmd(
    format: Optional[Fmt] = typer.Option(  # noqa: UP045 - typer needs Optional on 3.10
        None, "--format", show_default=False, help="text (default) or json."),
) -> int:
    """Check that this clone is set up right — configuration, hooks, merge driver, git and
    Python versions, leftovers of an interrupted write, the queue, locks and the daemon —
    and print, for each problem, the command that fixes it; exit 1 if anything fails."""
    from regauto import doctor
    from regauto.textout import json_text

    report = doctor.run(STATE.root, STATE.config)
    if chosen(format, Fmt) == Fmt.json:
        sys.stdout.write(json_text(report.as_json(), indent=1) + "\n")
    else:
        console = out()
        for line in report.lines:
            if STATE.quiet and line.status == doctor.OK:
                continue
            console.print(line.text())
    return 1 if report.failed else 0
