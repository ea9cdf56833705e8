"""The typer application: global options and the command groups, nothing else.

Each command lives in ``regauto.cli.commands.<module>`` as a thin layer: parse arguments,
call the library, print.  Errors surface through ``boundary.guarded``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

try:  # recent typer vendors click; older releases use click itself
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click import ClickException  # type: ignore[assignment]

from regauto import __version__
from regauto.cli import boundary
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


def _version(value: bool) -> None:
    if value:
        print(f"regauto {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global(
    root: Optional[Path] = typer.Option(  # noqa: UP045 - typer needs Optional on 3.10
        None, "--root", help="Repository root (default: the repository of the current directory)."
    ),
    config: Optional[Path] = typer.Option(  # noqa: UP045
        None, "--config", help="Configuration file (default: regauto.toml or pyproject.toml)."
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only results and errors."),
    verbose: int = typer.Option(0, "-v", "--verbose", count=True, help="More detail."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    STATE.root = root
    STATE.config = config
    STATE.quiet = quiet
    STATE.verbose = verbose
    STATE._project = None


def _register() -> None:
    from regauto.cli.commands import registry_cmds

    registry_cmds.register(app)
    for name in ("pipeline_cmds", "queue_cmds", "reconcile_cmds", "watch_cmds", "demo_cmd",
                 "generate_cmd", "trust_cmd"):
        try:
            mod = __import__(f"regauto.cli.commands.{name}", fromlist=["register"])
        except ModuleNotFoundError as e:
            if e.name != f"regauto.cli.commands.{name}":
                raise
            continue
        mod.register(app)


_register()


def main(argv: list[str]) -> int:
    command = typer.main.get_command(app)

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
