"""The per-file work of a large batch, done where the file is: read it, write its header,
hash it, extract its descriptor — in worker processes that read the files themselves.

A bootstrap of 100k files would otherwise hold every file's bytes in the main process and
pickle them to the workers (over a gigabyte); here the main process keeps hashes and a
worker gets a path.  A job reads the file as it is *now*: if it changed since the scan,
the result describes the new content (blob, size and descriptor always agree), and a file
that vanished or stopped being a regular file is reported, not guessed at.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regauto import git
from regauto.automation import descriptor_extractor, headers
from regauto.automation.tree import Skipped, read_regular
from regauto.events.suppression_manager import SuppressionManager

PARALLEL_MIN = 400  # below this a pool costs more than it saves
CHUNK = 32  # files per task: small enough that a suppression made at its start still holds
@dataclass(frozen=True)
class Job:
    path: str
    kind: str
    header: str | None = None  # a doc_id to write as the file's header first


@dataclass(frozen=True)
class Done:
    path: str
    blob: str = ""
    size: int = 0
    descriptor: dict[str, Any] | None = None  # None when not asked to describe
    error: str = ""  # set: nothing else is


@dataclass(frozen=True)
class Context:
    root: Path
    state_dir: Path
    max_bytes: int
    suppress_ms: int
    describe: bool = True


def write_header(full: Path, kind: str, doc: str, before_replace: Callable[[], None]) -> bytes:
    """Embed ``doc`` in the file's header atomically (temp file + rename, mode kept);
    returns the content now on disk."""
    current, mode = read_regular(full)
    new = headers.embed_header(kind, current, doc)
    if new is None or new == current:
        return current
    tmp = full.with_name(f".{full.name}.regauto-header")
    tmp.write_bytes(new)
    os.chmod(tmp, stat.S_IMODE(mode))
    before_replace()
    os.replace(tmp, full)
    return new


@functools.lru_cache(maxsize=4)
def _suppressor(state_dir: Path, pid: int) -> SuppressionManager:
    # One connection per process (keyed by pid: a forked worker must not use its parent's).
    return SuppressionManager(state_dir)


def run_chunk(ctx: Context, jobs: list[Job]) -> list[Done]:
    writes = [j.path for j in jobs if j.header is not None]
    if writes:  # one transaction per chunk, made just before its writes
        _suppressor(ctx.state_dir, os.getpid()).suppress_many(writes, ttl_ms=ctx.suppress_ms)
    return [run_one(ctx, j) for j in jobs]


def run_one(ctx: Context, job: Job) -> Done:
    full = ctx.root / job.path
    try:
        if job.header is not None:
            data = write_header(full, job.kind, job.header, lambda: None)
        else:
            data, _ = read_regular(full)
    except FileNotFoundError:
        return Done(job.path, error="vanished during sync")
    except Skipped as e:
        return Done(job.path, error=f"changed during sync: {e}")
    except OSError as e:
        return Done(job.path, error=f"cannot read or write: {e.strerror or e}")
    desc = (descriptor_extractor.extract(job.kind, data, max_bytes=ctx.max_bytes)
            if ctx.describe else None)
    return Done(job.path, git.blob_id(data), len(data), desc)


def run_all(
    ctx: Context, jobs: list[Job], progress: Callable[[int, int], None] | None = None
) -> Iterator[Done]:
    """Every job's result (in order), over all cores for a large batch."""
    chunks = [jobs[i:i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    n = 0
    if len(jobs) >= PARALLEL_MIN and (os.cpu_count() or 1) > 1:
        with ProcessPoolExecutor() as pool:
            for done in pool.map(functools.partial(run_chunk, ctx), chunks):
                yield from done
                n += len(done)
                if progress:
                    progress(n, len(jobs))
    else:
        for chunk in chunks:
            done = run_chunk(ctx, chunk)
            yield from done
            n += len(done)
            if progress:
                progress(n, len(jobs))
