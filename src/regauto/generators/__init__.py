"""regauto.generators: the generated outputs (SPEC §9)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from regauto.project import Project
    from regauto.registry import PostWrite
    from regauto.registry.registry_writer_service import WriteResult


def post_write(project: Project) -> list[PostWrite]:
    """What to hand ``registry.open_writer`` (or a pipeline, a queue runner) so that every
    registry write refreshes ``project``'s generated outputs; nothing when it configures
    none — and then the generators are not even imported (the commit hook's budget)."""
    if not project.config.generators:
        return []
    return [functools.partial(_refresh, project)]


def _refresh(project: Project, result: WriteResult) -> None:
    # A new orchestrator for each write: a long-lived holder (the watcher) keeps no reader
    # or input cache of an older registry.
    from regauto.generators.generator_orchestrator import GeneratorOrchestrator

    GeneratorOrchestrator(project).post_write_hook(result)
