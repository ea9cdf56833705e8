"""The pipeline's records (SPEC §5): what a file is (classification, id_mode, role), what it
claims, and its record with its descriptor.

:func:`id_mode` is the one rule for the id_mode a file gets; the reconciler's plan asks it
too, so ``check`` and ``sync`` never part ways.  :class:`Recorder` keeps what a batch has
learnt (classes, header claims, descriptors by kind and blob) across the attempts of one
run, and extracts descriptors — by disk jobs for work-tree files (they read the files
themselves), else from the bytes at hand, over all cores for a large batch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable
from typing import Any, NamedTuple

from regauto import stages, worker_lifetime
from regauto.automation import classifier, descriptor_extractor, disk_jobs, file_renamer, headers
from regauto.automation.tree import Content, DiskFile, FileContent
from regauto.config import Config
from regauto.project import Project
from regauto.registry.records import Record

PARALLEL_MIN = 400


class Item(NamedTuple):
    """A file of the batch, classified."""

    path: str
    content: Content
    cls: classifier.Classification
    mode: str  # the id_mode the file ends up with
    role: str


def id_mode(config: Config, path: str, kind: str, tags: Collection[str], size: int, *,
            symlink: bool, wanted: str | None, rename: bool | None) -> str:
    """The id_mode a file gets: the mode its rule wants (``wanted``, else ``registry``)
    where the file can carry it — never for a symlink or binary content; ``prefix`` only
    for a name that may be renamed (``rename``: its rule's setting) and has room for the
    prefix; ``header`` only for a kind with comments, within ``max_file_bytes``."""
    mode = wanted or "registry"
    if symlink or kind in ("binary", "symlink") or "binary" in tags:
        return "registry"
    if mode == "prefix" and (
        rename is False or file_renamer.never_renamed(path, config.never_rename)
        or not file_renamer.prefix_fits(path)
    ):
        return "registry"
    if mode == "header" and (headers.comment_style(kind) is None or size > config.max_file_bytes):
        return "registry"
    return mode


class Recorder:
    def __init__(self, project: Project, *, describe: bool = True,
                 progress: Callable[[int, int], None] | None = None) -> None:
        """``describe=False``: records get empty descriptors (a dry run that only compares
        records: whether a record changes never depends on its descriptor)."""
        self.project = project
        self.config = project.config
        self.describe = describe
        self.progress = progress
        self.descriptors: dict[tuple[str, str], dict[str, Any]] = {}  # (kind, blob) ->
        self.classes: dict[tuple[str, str, str], classifier.Classification] = {}
        self.header_ids: dict[tuple[str, str], str | None] = {}  # (kind, blob) -> claim
        self.pending: dict[str, str] = {}  # path -> doc_id: header left to a disk job
        self.failed: dict[str, str] = {}  # path -> why its disk job failed

    def start(self, recorded: Iterable[Record]) -> None:
        """A new attempt.  A descriptor is a function of the kind and the content: a file
        whose blob is the recorded one is not parsed again (a no-op sync of 100k files
        reads and hashes, nothing more)."""
        self.pending.clear()
        self.failed.clear()
        for rec in recorded:
            kind, blob, desc = rec.get("kind"), rec.get("blob"), rec.get("descriptor")
            if isinstance(kind, str) and isinstance(blob, str) and isinstance(desc, dict):
                self.descriptors.setdefault((kind, blob), desc)

    def classify(self, c: Content) -> Item:
        key = (c.path, c.mode, c.blob)
        cls = self.classes.get(key)
        if cls is None:
            cls = classifier.classify_content(c.path, c.head, executable=c.executable,
                                              symlink=c.symlink)
            self.classes[key] = cls
        rule = self.config.rule_for(c.path)
        mode = id_mode(self.config, c.path, cls.kind, cls.tags, c.size, symlink=c.symlink,
                       wanted=rule.id_mode, rename=rule.rename)
        return Item(c.path, c, cls, mode, rule.role or cls.role)

    def claim(self, it: Item) -> str | None:
        """The id the file claims: its name's prefix, else its header."""
        claimed = file_renamer.claimed_prefix_id(it.path)
        if claimed is None and not it.content.symlink and headers.comment_style(it.cls.kind):
            claimed = self.header_id(it)
        return claimed

    def header_id(self, it: Item) -> str | None:
        key = (it.cls.kind, it.content.blob)
        if key not in self.header_ids:
            self.header_ids[key] = headers.read_header_id(it.cls.kind, it.content.data)
        return self.header_ids[key]

    def records(self, items: list[tuple[str, Item, str]],
                contents: dict[str, Content | None]) -> list[Record]:
        """The records of ``items`` (path, item, doc_id), after the pending headers are
        written; a file whose disk job failed is left out (in ``failed``).  ``contents``
        is updated with what each file now holds."""
        fresh = self._disk_work(items, contents)
        todo = {(it.cls.kind, it.content.blob): it.content.data for _, it, _ in items
                if isinstance(it.content, FileContent)
                and (it.cls.kind, it.content.blob) not in self.descriptors}
        if self.describe:
            self._extract_all(todo)
        else:
            self.descriptors.update({key: {} for key in todo})
        out = []
        for path, it, doc in items:
            if path in self.failed:
                continue
            content = fresh.get(path, it.content)
            out.append({
                "path": path,
                "doc_id": doc,
                "id_mode": it.mode,
                "kind": it.cls.kind,
                "tags": sorted(it.cls.tags),
                "role": it.role,
                "blob": content.blob,
                "size": content.size,
                "descriptor": self.descriptors[(it.cls.kind, content.blob)],
            })
        return out

    def _disk_work(self, items: list[tuple[str, Item, str]],
                   contents: dict[str, Content | None]) -> dict[str, DiskFile]:
        """Pending headers and descriptors of work-tree files, by disk jobs that read the
        files themselves; returns the content each file now has."""
        jobs = []
        for path, it, _ in items:
            c = it.content
            if not isinstance(c, DiskFile):
                continue
            key = (it.cls.kind, c.blob)
            if not self.describe:
                self.descriptors.setdefault(key, {})
            if path in self.pending or key not in self.descriptors:
                jobs.append(disk_jobs.Job(path, it.cls.kind, self.pending.get(path)))
        if not jobs:
            return {}
        ctx = disk_jobs.Context(self.project.root, self.project.state_dir,
                                self.config.max_file_bytes, self.config.watch.suppress_ms,
                                self.describe)
        kinds = {j.path: j.kind for j in jobs}
        fresh: dict[str, DiskFile] = {}
        for done in disk_jobs.run_all(ctx, jobs, self.progress):
            doc = self.pending.pop(done.path, None)
            if done.error:
                self.failed[done.path] = done.error
                continue
            old = contents[done.path]
            assert old is not None
            new = DiskFile(self.project.root, done.path, old.mode, done.size, done.blob)
            contents[done.path] = fresh[done.path] = new  # what a retry starts from
            key = (kinds[done.path], done.blob)
            self.descriptors[key] = done.descriptor if done.descriptor is not None else {}
            if doc is not None:
                self.header_ids[key] = doc
        return fresh

    @stages.timed("extract descriptors")
    def _extract_all(self, todo: dict[tuple[str, str], bytes]) -> None:
        limit = self.config.max_file_bytes
        keys = list(todo)
        args = [(k[0], todo[k], limit) for k in keys]
        if len(args) >= PARALLEL_MIN and (os.cpu_count() or 1) > 1:
            chunk = max(50, len(args) // ((os.cpu_count() or 2) * 4))
            # Imported here: it costs ~12 ms and small batches (the hook) never fork.
            from concurrent.futures import ProcessPoolExecutor
            with ProcessPoolExecutor(initializer=worker_lifetime.initializer()) as pool:
                for n, (key, desc) in enumerate(
                    zip(keys, pool.map(_extract_one, args, chunksize=chunk), strict=True)
                ):
                    self.descriptors[key] = desc
                    if self.progress and n % 200 == 0:
                        self.progress(n, len(keys))
        else:
            for n, (key, arg) in enumerate(zip(keys, args, strict=True)):
                self.descriptors[key] = _extract_one(arg)
                if self.progress and n % 200 == 0:
                    self.progress(n, len(keys))
        if self.progress:
            self.progress(len(keys), len(keys))


def _extract_one(arg: tuple[str, bytes, int]) -> dict[str, Any]:
    kind, data, limit = arg
    return descriptor_extractor.extract(kind, data, max_bytes=limit)
