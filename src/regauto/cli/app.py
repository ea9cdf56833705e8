"""The typer application: global options and the command groups, nothing else.

Each command lives in ``regauto.cli.commands.<module>`` as a thin layer: parse arguments,
call the library, print.  Errors surface through ``boundary.guarded``.
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Optional

import typer

try:  # recent typer vendors click; older releases use click itself
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click import ClickException  # type: ignore[assignment]

from regauto import __version__, stages
from regauto.cli import boundary, options
from regauto.cli.context import STATE

app = typer.Typer(
    name="regauto",
    help="Keep a repository's unified registry true: every document gets a permanent "
    "16-digit doc_id, a classification and a descriptor.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# The groups of ``regauto --help``, in the order a user meets them.
DAILY = "Daily"
READING = "Reading the registry"
LIVE = "Live mode"
GIT = "Git integration (what git calls)"
TOOLS = "Tools"


def _version(value: bool) -> None:
    if value:
        print(f"regauto {__version__}")
        raise typer.Exit(0)


class _Format(str, Enum):
    text = "text"
    json = "json"
    github = "github"


def _global(
    format: Optional[_Format] = typer.Option(  # noqa: UP045 - typer needs Optional on 3.10
        None, "--format", rich_help_panel=options.GLOBAL_PANEL, show_default=False,
        help="Output format of the reading commands (their own --format, given here).",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    STATE.format = format.value if format is not None else None


def _register() -> None:
    from regauto.cli.commands import (
        demo_cmd,
        doctor_cmd,
        generate_cmd,
        git_entry_cmds,
        pipeline_cmds,
        queue_cmds,
        reconcile_cmds,
        registry_cmds,
        trust_cmd,
        watch_cmds,
    )

    app.callback()(options.shared(_global))
    pipeline_cmds.register(app, DAILY)
    reconcile_cmds.register(app, DAILY)
    generate_cmd.register(app, DAILY)
    registry_cmds.register(app, READING)
    watch_cmds.register(app, LIVE)
    queue_cmds.register(app, LIVE)
    git_entry_cmds.register(app, GIT)
    registry_cmds.register_patch(app, TOOLS)
    doctor_cmd.register(app, TOOLS)
    trust_cmd.register(app, TOOLS)
    demo_cmd.register(app, TOOLS)


_register()


def main(argv: list[str]) -> int:
    STATE.reset()
    stages.enable(0)  # a -v of an earlier run in this process must not carry over
    command = typer.main.get_command(app)
    options.flags_without_types(command)

    def run() -> int:
        try:
            rv = command.main(args=argv, prog_name="regauto", standalone_mode=False)
        except typer.Exit as e:
            return int(e.exit_code or 0)
        except typer.Abort:
            sys.stderr.write("regauto: aborted\n")
            return 130
        except ClickException as e:
            e.show()
            return 2
        return int(rv) if isinstance(rv, int) else 0

    return boundary.guarded(run)
