"""``regauto hook …`` and ``regauto merge-driver …`` as ``regauto --help`` lists them.

Git runs these on every commit, checkout and merge, so ``regauto.__main__`` sends them to the
argparse front end in ``regauto.cli.git_entry`` before this typer app is even imported; these
entries exist so that ``--help`` shows them, and hand a call that does reach them (through
``regauto.cli.app.main``) to that same front end.
"""

from __future__ import annotations

import typer

from regauto.cli.context import STATE
from regauto.cli.options import prose

_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True,
                 "help_option_names": []}


def register(app: typer.Typer, panel: str) -> None:
    for name, fn in (("hook", hook_cmd), ("merge-driver", merge_driver_cmd)):
        app.command(name, rich_help_panel=panel, context_settings=_PASS_THROUGH,
                    add_help_option=False, help=prose(fn.__doc__))(fn)


def _entry(command: str, args: list[str] | None) -> int:
    from regauto.cli.git_entry import main

    front = ["--root", str(STATE.root)] if STATE.root is not None else []
    if STATE.config is not None:
        front += ["--config", str(STATE.config)]  # refused there, with the reason
    return main([*front, command, *(args or [])])


def hook_cmd(
    args: list[str] = typer.Argument(
        None, metavar="NAME [ARGS]...", show_default=False,
        help="pre-commit, post-checkout PREV NEW FLAG, or post-merge SQUASH.",
    ),
) -> int:
    """What the installed git hooks (or the pre-commit framework) call to keep the registry
    true on commit, checkout and merge; `regauto hook --help` lists the forms."""
    return _entry("hook", args)


def merge_driver_cmd(
    args: list[str] = typer.Argument(
        None, metavar="BASE OURS THEIRS PATH", show_default=False,
        help="What git passes as %O %A %B %P.",
    ),
) -> int:
    """The registry's merge driver, which git runs for each conflicting shard: it merges
    the two sides record by record."""
    return _entry("merge-driver", args)
