"""``regauto trust``: let this clone run the configured ``python``/``command`` generators."""

from __future__ import annotations

import typer

from regauto.cli.context import STATE, say
from regauto.cli.options import command


def register(app: typer.Typer, panel: str) -> None:
    command(app, "trust", trust_cmd, panel)


def trust_cmd() -> int:
    """Trust the current python/command generator definitions in this clone (asked again
    whenever they change; REGAUTO_TRUST=1 trusts in CI)."""
    from regauto.generators import custom, trust

    project = STATE.project()
    gens = trust.custom(project.config)
    if not gens:
        say("no python or command generators configured: nothing to trust")
        return 0
    trust.record_trust(project.config, project.root, project.state_dir)
    for g in gens:
        print(f"trusted {g.name} -> {g.output}: {custom.describe(g)}")
    return 0
