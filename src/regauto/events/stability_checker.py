"""Stability checker (SPEC §8.5, §10): is a file done being written?

A file is *settled* when it is older than ``min_age_ms`` (its mtime) and its
``(size, mtime_ns, inode)`` did not change across ``samples`` stats taken
``sample_interval_ms`` apart.  The age rule catches a writer that pauses between writes;
the samples catch one whose writes keep the mtime coarse (1–2 s granularity on some
filesystems) and an editor's save-by-rename (a new inode).

A file whose mtime lies in the future (copied from a machine with a skewed clock, or
``touch -d``) would never be "old enough"; its age is then proven by watching it instead:
unchanged across a window of ``min_age_ms``.

A file that never settles is not waited on forever: :meth:`wait_settled` gives up at its
timeout and says so, and the caller reports it instead of processing a half-written file.
Paths are not followed through symlinks: a symlink is recorded as a link, so its own stat
is what must settle.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

# An mtime this far ahead of the clock cannot be the trace of a write that just happened.
FUTURE_SLACK_NS = 2_000_000_000


@dataclass(frozen=True)
class Signature:
    size: int
    mtime_ns: int
    inode: int


def signature(path: Path) -> Signature | None:
    """The file's (size, mtime_ns, inode), or ``None`` when it does not exist."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return Signature(st.st_size, st.st_mtime_ns, st.st_ino)


class StabilityChecker:
    def __init__(
        self,
        min_age_ms: int = 500,
        samples: int = 2,
        sample_interval_ms: int = 100,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if min_age_ms < 0 or samples < 1 or sample_interval_ms < 0:
            raise ValueError("min_age_ms and sample_interval_ms must be >= 0, samples >= 1")
        self.min_age_ns = min_age_ms * 1_000_000
        self.samples = samples
        self.interval_s = sample_interval_ms / 1000
        self._sleep = sleep

    def is_settled(self, path: Path) -> bool:
        """Old enough and unchanged across the samples; a missing file is not settled."""
        return path in self.settled([path])

    def settled(self, paths: Iterable[Path]) -> set[Path]:
        """The settled ones among ``paths``, sampling them together (one sleep per sample,
        not one per file: a batch of a thousand files costs the same wait as one)."""
        first = {p: signature(p) for p in paths}
        now = time.time_ns()
        young: set[Path] = set()
        watch_for_age: set[Path] = set()
        for p, sig in first.items():
            if sig is None:
                continue
            age = now - sig.mtime_ns
            if age < -FUTURE_SLACK_NS:
                watch_for_age.add(p)
            elif age < self.min_age_ns:
                young.add(p)
        candidates = {p: s for p, s in first.items() if s is not None and p not in young}
        if not candidates:
            return set()
        window_s = self.interval_s * (self.samples - 1)
        extra_s = self.min_age_ns / 1e9 - window_s if watch_for_age else 0.0
        for _ in range(self.samples - 1):
            self._sleep(self.interval_s)
            candidates = _unchanged(candidates)
        if extra_s > 0:
            self._sleep(extra_s)
            later = _unchanged({p: candidates[p] for p in watch_for_age if p in candidates})
            candidates = {
                p: s for p, s in candidates.items() if p not in watch_for_age or p in later
            }
        return set(candidates)

    def wait_settled(self, path: Path, timeout_s: float) -> bool:
        """Wait until ``path`` settles; ``False`` if it vanished or did not settle in time."""
        deadline = time.monotonic() + timeout_s
        while True:
            sig = signature(path)
            if sig is None:
                return False
            # Sleep until the file would be old enough rather than polling, but never past
            # the deadline: a file that keeps changing is reported, not waited for.
            young_for_s = (sig.mtime_ns + self.min_age_ns - time.time_ns()) / 1e9
            if 0 < young_for_s <= FUTURE_SLACK_NS / 1e9 + self.min_age_ns / 1e9:
                left = deadline - time.monotonic()
                if young_for_s > left:
                    return False
                self._sleep(young_for_s)
                continue
            if self.is_settled(path):
                return True
            if time.monotonic() >= deadline:
                return False
            self._sleep(min(self.interval_s or 0.01, max(0.0, deadline - time.monotonic())))


def _unchanged(candidates: dict[Path, Signature]) -> dict[Path, Signature]:
    return {p: s for p, s in candidates.items() if signature(p) == s}
