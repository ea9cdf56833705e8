"""``regauto demo [DIR]``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from regauto.cli.options import command


def register(app: typer.Typer, panel: str) -> None:
    command(app, "demo", demo_cmd, panel)


def demo_cmd(
    dir: Optional[Path] = typer.Argument(  # noqa: UP045 - typer needs Optional on 3.10
        None, help="Where to build the demo repository (default: a temporary one, removed after)."
    ),
) -> int:
    """Build a throwaway repository and walk through the whole flow, step by step."""
    from regauto.demo import run_demo

    return run_demo(dir, print)
