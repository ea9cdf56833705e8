"""``regauto generate [NAME…] [--check]``: render the generated outputs (SPEC §9)."""

from __future__ import annotations

from typing import Optional

import typer

from regauto.cli.context import STATE, say
from regauto.cli.options import command


def register(app: typer.Typer, panel: str) -> None:
    command(app, "generate", generate_cmd, panel)


def generate_cmd(
    names: Optional[list[str]] = typer.Argument(  # noqa: UP045 - typer needs Optional on 3.10
        None, metavar="NAME", help="Generators to run (default: all configured)."
    ),
    check: bool = typer.Option(
        False, "--check",
        help="Write nothing: list stale or hand-edited outputs and exit 1 if there are any.",
    ),
) -> int:
    """Render the generated outputs from the registry (only those whose inputs changed)."""
    from regauto.generators.generator_orchestrator import GeneratorOrchestrator

    project = STATE.project()
    if not project.config.generators and not names:
        say("no generators configured (add a [[generators]] table to the configuration)")
        return 0
    orch = GeneratorOrchestrator(project)
    if check:
        drifts = orch.check(names=names)
        for d in drifts:
            print(f"{d.path}: {d.kind} ({d.name}): {d.detail}; run: regauto generate {d.name}")
        if not drifts:
            say("generated outputs are up to date")
        return 1 if drifts else 0
    results = orch.generate(names=names)
    for r in results:
        if r.changed:
            say(f"generated {r.path} ({r.name})")
    if not any(r.changed or r.skipped for r in results):
        say("generated outputs are up to date")
    return 0
