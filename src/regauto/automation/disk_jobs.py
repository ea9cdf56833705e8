"""The per-file work of a large batch, done where the file is: read it, write its header,
hash it, extract its descriptor — in worker processes that read the files themselves.

A bootstrap of 100k files would otherwise hold every file's bytes in the main process and
pickle them to the workers (over a gigabyte); here the main process keeps hashes and a
worker gets a path.  A job reads the file as it is *now*: if it changed since the scan,
the result describes the new content (blob, size and descriptor always agree), and a file
that vanished or stopped being a regular file is reported, not guessed at.
"""

from __future__ import annotations

import errno
import functools
import gc
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from regauto import git, safe_replace, worker_lifetime
from regauto.automation import classifier, descriptor_extractor, headers
from regauto.automation.tree import Skipped, WorkTree, read_regular
from regauto.events.suppression_manager import SuppressionManager
from regauto.pathguard import PathGuard

PARALLEL_MIN = 400  # below this a pool costs more than it saves
CHUNK = 32  # files per task: small enough that a suppression made at its start still holds


class Job(NamedTuple):
    path: str
    kind: str
    header: str | None = None  # a doc_id to write as the file's header first


class Done(NamedTuple):
    path: str
    blob: str = ""
    size: int = 0
    descriptor: dict[str, Any] | None = None  # None when not asked to describe
    error: str = ""  # set: nothing else is


class Context(NamedTuple):
    root: Path
    state_dir: Path
    max_bytes: int
    suppress_ms: int
    describe: bool = True


def temp_dir(state_dir: Path) -> Path:
    """Where header rewrites make their temp files (see ``write_header``)."""
    folder = state_dir / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Scanned(NamedTuple):
    """What the pipeline keeps of a file after reading it once (see ``scan_one``)."""

    path: str
    mode: str = ""  # "": the path does not exist
    size: int = 0
    blob: str = ""
    cls: classifier.Classification | None = None
    claim: str | None = None  # the id its header claims, when ``header_read``
    header_read: bool = False
    link: bytes | None = None  # a symlink's text (kept: it is short)
    skipped: str = ""


def scan_one(tree: WorkTree, path: str) -> Scanned:
    """Read a file once: its hash, size, classification and header claim."""
    try:
        c = tree.read_document(path)
    except Skipped as e:
        return Scanned(path, skipped=str(e))
    if c is None:
        return Scanned(path)
    if c.symlink:
        return Scanned(path, c.mode, c.size, c.blob, link=c.data)
    cls = classifier.classify_content(path, c.head, executable=c.executable)
    if headers.comment_style(cls.kind) is None:
        return Scanned(path, c.mode, c.size, c.blob, cls)
    claim = headers.read_header_id(cls.kind, c.data)
    return Scanned(path, c.mode, c.size, c.blob, cls, claim, header_read=True)


def _scan_chunk(root: Path, paths: list[str]) -> list[Scanned]:
    tree = WorkTree(root)  # one path guard per chunk: each folder is checked once
    return [scan_one(tree, p) for p in paths]


def scan_all(root: Path, paths: list[str]) -> Iterator[Scanned]:
    """``scan_one`` of every path (in order), over all cores for a large batch."""
    chunks = [paths[i:i + CHUNK * 4] for i in range(0, len(paths), CHUNK * 4)]
    yield from _map(functools.partial(_scan_chunk, root), chunks, len(paths))


def _worker_init() -> None:
    # The objects a worker inherits from the pipeline are never garbage: leave them out of
    # every collection (and their pages unshared).  Parsing allocates in bursts of objects
    # that live as long as one file's tree: collect young objects less often.
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def _map(fn: Callable[[list[Any]], list[Any]], chunks: list[list[Any]], n: int,
         progress: Callable[[int, int], None] | None = None) -> Iterator[Any]:
    done = 0
    if n >= PARALLEL_MIN and (os.cpu_count() or 1) > 1:
        # Imported here: it costs ~12 ms and small batches (the hook) never fork.
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(initializer=worker_lifetime.initializer(_worker_init)) as pool:
            for out in pool.map(fn, chunks):
                yield from out
                done += len(out)
                if progress:
                    progress(done, n)
    else:
        for chunk in chunks:
            out = fn(chunk)
            yield from out
            done += len(out)
            if progress:
                progress(done, n)


def write_header(
    full: Path, kind: str, doc: str, before_replace: Callable[[], None],
    tmp_dir: Path | None = None,
) -> bytes:
    """Embed ``doc`` in the file's header atomically (temp file + rename, mode kept);
    returns the content now on disk.  A file that changes meanwhile is left as it is and
    raises ``safe_replace.ChangedError`` (see that module).

    The temp file is made in ``tmp_dir`` when given (the state dir's ``tmp/``): creating a
    file in one directory over and over costs a fifth of creating one next to each target
    (measured on ext4: 0.06 vs 0.3 ms — the inode allocator looks for room near each
    directory), and a crash leaves no stray file in the user's tree.  On another file
    system (``EXDEV``) it falls back to a temp file next to the target.
    """
    current, mode = read_regular(full)
    new = headers.embed_header(kind, current, doc)
    if new is None or new == current:
        return current
    try:
        if tmp_dir is not None:
            try:
                safe_replace.replace_if_unchanged(full, current, new, mode, tmp_dir,
                                                  before_replace)
                return new
            except OSError as e:
                if e.errno != errno.EXDEV:
                    raise
        safe_replace.replace_if_unchanged(full, current, new, mode, full.parent,
                                          before_replace)
    except safe_replace.NotRegularError as e:
        raise Skipped(str(e)) from None
    return new


@functools.lru_cache(maxsize=4)
def _suppressor(state_dir: Path, pid: int) -> SuppressionManager:
    # One connection per process (keyed by pid: a forked worker must not use its parent's).
    return SuppressionManager(state_dir)


GROUP_BYTES = 32 << 20  # new contents held at once before their replacements are made


def run_chunk(ctx: Context, jobs: list[Job]) -> list[Done]:
    """Each job's result; the header writes of a group of jobs are made together (their
    temp files synced at once, see ``safe_replace.Swaps.replace_many``)."""
    writes = [j.path for j in jobs if j.header is not None]
    tmp = None
    if writes:  # one transaction per chunk, made just before its writes
        _suppressor(ctx.state_dir, os.getpid()).suppress_many(writes, ttl_ms=ctx.suppress_ms)
        tmp = temp_dir(ctx.state_dir)
    guard = PathGuard(ctx.root)
    swaps = safe_replace.Swaps()
    done: list[Done] = []
    try:
        group: list[tuple[Job, _Prepared]] = []
        held = 0
        for job in jobs:
            prepared = _prepare(ctx, job, tmp, guard)
            group.append((job, prepared))
            if isinstance(prepared, safe_replace.Replacement):
                held += len(prepared.new) + len(prepared.expected)
            if held >= GROUP_BYTES:
                done += _finish_group(ctx, group, swaps)
                group, held = [], 0
        done += _finish_group(ctx, group, swaps)
    finally:
        undone = set(swaps.settle())
    return [Done(d.path, error=safe_replace.CHANGED) if ctx.root / d.path in undone else d
            for d in done]


_Prepared = Done | bytes | safe_replace.Replacement  # failed, content as is, header to write


def _prepare(ctx: Context, job: Job, tmp_dir: Path | None, guard: PathGuard) -> _Prepared:
    """Read the job's file; the replacement its header needs, if any."""
    why = guard.problem(job.path)
    if why is not None:  # a folder on the way became a symlink since the scan
        return Done(job.path, error=f"changed during sync: {why}")
    full = ctx.root / job.path
    try:
        current, mode = read_regular(full)
    except (OSError, Skipped) as e:
        return _failed(job.path, e)
    if job.header is None:
        return current
    new = headers.embed_header(job.kind, current, job.header)
    if new is None or new == current:
        return current
    return safe_replace.Replacement(full, current, new, mode, tmp_dir or full.parent)


def _finish_group(ctx: Context, group: list[tuple[Job, _Prepared]],
                  swaps: safe_replace.Swaps) -> list[Done]:
    """Make the group's replacements, then describe each file as it now is."""
    todo = [p for _, p in group if isinstance(p, safe_replace.Replacement)]
    failed = swaps.replace_many(todo) if todo else {}
    # Temp files on another file system than the target (EXDEV): next to the target.
    again = [r.elsewhere(r.full.parent) for r in todo
             if _is_exdev(failed.get(r.full)) and r.folder != r.full.parent]
    if again:
        for r in again:
            del failed[r.full]
        failed.update(swaps.replace_many(again))
    out = []
    for job, p in group:
        if isinstance(p, Done):
            out.append(p)
            continue
        if isinstance(p, safe_replace.Replacement):
            if p.full in failed:
                out.append(_failed(job.path, failed[p.full]))
                continue
            p = p.new
        desc = (descriptor_extractor.extract(job.kind, p, max_bytes=ctx.max_bytes)
                if ctx.describe else None)
        out.append(Done(job.path, git.blob_id(p), len(p), desc))
    return out


def _is_exdev(e: Exception | None) -> bool:
    return isinstance(e, OSError) and e.errno == errno.EXDEV


def _failed(path: str, e: Exception) -> Done:
    """The result of a job whose file could not be read or replaced."""
    if isinstance(e, FileNotFoundError):
        return Done(path, error="vanished during sync")
    if isinstance(e, (Skipped, safe_replace.NotRegularError)):
        return Done(path, error=f"changed during sync: {e}")
    if isinstance(e, OSError):
        return Done(path, error=f"cannot read or write: {e.strerror or e}")
    return Done(path, error=str(e))  # safe_replace.ChangedError


def run_all(
    ctx: Context, jobs: list[Job], progress: Callable[[int, int], None] | None = None
) -> Iterator[Done]:
    """Every job's result (in order), over all cores for a large batch."""
    chunks = [jobs[i:i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    yield from _map(functools.partial(run_chunk, ctx), chunks, len(jobs), progress)
