"""regauto.generators: the generated outputs (SPEC §9)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from regauto.project import Project
    from regauto.registry import PostWrite


def post_write(project: Project) -> list[PostWrite]:
    """What to hand ``registry.open_writer`` (or a pipeline) so that every registry write
    refreshes ``project``'s generated outputs; nothing when it configures none — and then
    the generators are not even imported (the commit hook's budget)."""
    if not project.config.generators:
        return []
    from regauto.generators.generator_orchestrator import GeneratorOrchestrator

    return [GeneratorOrchestrator(project).post_write_hook]
