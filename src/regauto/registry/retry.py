"""Retrying a compare-and-swap conflict: re-read, recompute, bounded attempts with jitter."""

from __future__ import annotations

import time
from collections.abc import Callable

from regauto.errors import CASConflict
from regauto.registry.promotion_patch import PromotionPatch
from regauto.registry.registry_writer_service import RegistryWriterService, WriteResult


def apply_with_retry(
    writer: RegistryWriterService,
    compute: Callable[[str], PromotionPatch | None],
    *,
    attempts: int = 8,
    base_delay: float = 0.01,
) -> WriteResult | None:
    """Call ``compute(current_hash)`` and apply its patch; on a conflict start over.

    ``compute`` must re-read whatever it depends on: it is called again with the new hash.
    Returns None when ``compute`` decides there is nothing to do.  After ``attempts``
    conflicts the last :class:`CASConflict` propagates (exit 3).
    """
    for attempt in range(attempts):
        base = writer.current_hash()
        patch = compute(base)
        if patch is None:
            return None
        try:
            return writer.apply(patch)
        except CASConflict:
            if attempt == attempts - 1:
                raise
            # Full jitter, doubling: spreads competing writers so one of them wins soon.
            import random  # only on a conflict: most runs never need it

            time.sleep(random.uniform(0, base_delay * (2**attempt)))
    raise AssertionError("unreachable")
