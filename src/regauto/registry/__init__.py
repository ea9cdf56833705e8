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
    """The writer for ``project``, with its lock manager and configured retention."""
    from regauto.events.lock_manager import LockManager
    from regauto.registry.registry_writer_service import RegistryWriterService

    locks = LockManager(project.state_dir, timeout=project.config.lock_timeout_s)
    return RegistryWriterService(
        open_store(project), locks, keep_backups=project.config.backups,
        lock_timeout=project.config.lock_timeout_s,
    )
