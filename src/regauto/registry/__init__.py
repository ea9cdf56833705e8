"""The unified registry (seed phase 1): stored form, PromotionPatch and the single writer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from regauto.project import Project
    from regauto.registry.registry_writer_service import RegistryWriterService, WriteResult
    from regauto.registry.store import RegistryStore

PostWrite = Callable[["WriteResult"], None]
"""A step the writer runs after each write that changed the registry (the generated outputs'
refresh, SPEC §9).  What such a step does sits above the registry, so the layer that opens
the writer hands it in (``regauto.generators.post_write``); the registry never imports it."""


def open_store(project: Project) -> RegistryStore:
    from regauto.registry.store import RegistryStore

    return RegistryStore(project.registry_dir, project.state_dir)


def open_writer(project: Project, post_write: Sequence[PostWrite] = ()) -> RegistryWriterService:
    """The writer for ``project``, with its lock manager and configured retention, running
    ``post_write`` after each write that changed something."""
    from regauto.events.lock_manager import LockManager
    from regauto.registry.registry_writer_service import RegistryWriterService

    locks = LockManager(project.state_dir, timeout=project.config.lock_timeout_s)
    writer = RegistryWriterService(
        open_store(project), locks, keep_backups=project.config.backups,
        lock_timeout=project.config.lock_timeout_s,
    )
    writer.post_write_hooks.extend(post_write)
    return writer
