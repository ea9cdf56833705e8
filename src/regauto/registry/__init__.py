"""The unified registry (seed phase 1): stored form, PromotionPatch and the single writer."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from regauto.project import Project
    from regauto.registry.registry_writer_service import RegistryWriterService
    from regauto.registry.store import RegistryStore


def open_store(project: Project) -> RegistryStore:
    from regauto.registry.store import RegistryStore

    return RegistryStore(project.registry_dir, project.state_dir)


def open_writer(project: Project) -> RegistryWriterService:
    """The writer for ``project``, with its lock manager and configured retention, and the
    generator orchestrator's post-write hook when outputs are configured (SPEC §9)."""
    from regauto.events.lock_manager import LockManager
    from regauto.registry.registry_writer_service import RegistryWriterService

    locks = LockManager(project.state_dir, timeout=project.config.lock_timeout_s)
    writer = RegistryWriterService(
        open_store(project), locks, keep_backups=project.config.backups,
        lock_timeout=project.config.lock_timeout_s,
    )
    if project.config.generators:
        # Lazy: the generators sit above the registry; only a configured project pays for them.
        from regauto.generators.generator_orchestrator import GeneratorOrchestrator

        writer.post_write_hooks.append(GeneratorOrchestrator(project).post_write_hook)
    return writer
