"""The fast front end of ``regauto check``: what CI runs on every push.

The typer application costs ~0.1 s of CPU before any command runs (typer, click, rich
and the help machinery), a quarter of a warm check of 100k documents.  The common forms
of ``check`` — the global options ``-q``/``--quiet``, ``--root``, ``--config`` and
``--format`` before or after the name, and ``--format``, ``--diff``, ``--references``
and ``--base`` after it — are parsed here and printed by the same function the typer
command calls (``commands.check_here``).  Anything else (``--help``, ``-v``, ``--rev``,
``--staged``, a value typer would refuse, an option given twice) is left to the typer
application, which says what it always said.
"""

from __future__ import annotations

from pathlib import Path

from regauto import stages
from regauto.cli import boundary
from regauto.cli.context import STATE

_CHOICES: dict[str, tuple[str, ...] | None] = {
    "--root": None, "--config": None, "--format": ("text", "json", "github"),
    "--references": ("moved", "all"), "--base": None}
# Options of ``check`` itself: typer refuses them before the command's name.
_OWN = ("--diff", "--references", "--base")


def parse(argv: list[str]) -> dict[str, str | bool] | None:
    """The options of a plain ``check`` command line (names as given, ``-q`` as
    ``--quiet``); None when the typer application must read it."""
    got: dict[str, str | bool] = {}
    named = False
    rest = iter(argv)
    for arg in rest:
        name, eq, value = arg.partition("=")
        if arg == "check" and not named:
            named = True
        elif arg in ("-q", "--quiet"):
            got["--quiet"] = True
        elif arg == "--diff" and named:
            got[arg] = True
        elif name in _CHOICES and name not in got and (named or name not in _OWN):
            if not eq:
                value = next(rest, "")
            choices = _CHOICES[name]
            if not value or value.startswith("-") or (choices and value not in choices):
                return None
            got[name] = value
        else:
            return None
    return got if named else None


def main(argv: list[str]) -> int | None:
    """Run ``regauto check`` from ``argv``; None when it is not a form parsed here."""
    got = parse(argv)
    if got is None:
        return None
    STATE.reset()
    stages.enable(0)

    def run() -> int:
        from regauto.cli.commands.check_here import check_here

        if "--root" in got:
            STATE.root = Path(str(got["--root"]))
        if "--config" in got:
            STATE.config = Path(str(got["--config"]))
        STATE.quiet = bool(got.get("--quiet"))
        refs = got.get("--references")
        base = got.get("--base")
        return check_here(str(got.get("--format", "text")), bool(got.get("--diff")),
                          None if base is None else str(base),
                          None if refs is None else str(refs))

    return boundary.guarded(run)
