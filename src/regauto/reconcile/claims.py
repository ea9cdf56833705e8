"""What the check knows before it judges: the doc_id each file claims (``Claims``: a name
prefix, else a header, read once per blob and by a second process when there are many),
and the records already found up to date under this configuration (``Verified``)."""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Sequence

from regauto import __version__
from regauto.automation import classifier, headers
from regauto.automation.tree import MODE_EXEC, MODE_LINK
from regauto.project import Project
from regauto.reconcile import fanout
from regauto.reconcile.cache import Cache
from regauto.reconcile.tree_state import Doc, TreeState, read_head
from regauto.registry.records import Record

FANOUT_CLAIMS = 8_000  # header reads worth a second process (~0.15 s of them)


def fingerprint(project: Project) -> str:
    """What a judgement of a record depends on besides the record and its file."""
    return hashlib.sha256(f"{__version__}\0{project.config!r}".encode()).hexdigest()


class Verified:
    """Records found up to date with their file before, under this configuration: a record
    line and a file (path, mode, blob) seen together and judged once are not judged again.
    Keyed by a digest of everything the judgement reads, so it is never stale."""

    def __init__(self, project: Project) -> None:
        self.cache = Cache(project.state_dir, "records")
        self.fingerprint = fingerprint(project)
        data = self.cache.load()
        old = data.get("ok") if data.get("config") == self.fingerprint else None
        self.old: set[bytes] = set(old) if isinstance(old, (list, set)) else set()
        self.new: set[bytes] = set()

    @staticmethod
    def key(path: str, mode: str, rec: Record) -> bytes:
        text = "\0".join((path, mode, rec["doc_id"], rec["id_mode"], rec["kind"],
                          ",".join(rec["tags"]), rec["role"], rec["blob"], str(rec["size"])))
        return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=16).digest()

    def save(self) -> None:
        # A list, not a set: marshal sorts a set's items (reproducible output), which
        # costs ~0.15 s for 100k keys on every cold check.
        self.cache.replace({"config": self.fingerprint, "ok": list(self.new)})
        self.cache.save()


class Claims:
    """The doc_id a file claims (SPEC §4.2): a valid ``<id>_`` name prefix, else a header.
    Header claims are cached by (kind, blob): a file whose blob equals its record's is read
    at most once, ever."""

    def __init__(self, project: Project, tree: TreeState) -> None:
        self.tree = tree
        self.cache = Cache(project.state_dir, "claims")
        self.read: dict[tuple[str, str], str | None] = {}  # (path, kind): by prefetch

    def header(self, path: str, kind: str, doc: Doc) -> str | None:
        if doc.mode == MODE_LINK or headers.comment_style(kind) is None:
            return None
        key = f"{kind}\0{doc.blob}"
        hit = self.cache.get(key)
        if hit is not None:
            return hit or None
        if (path, kind) in self.read:
            return self.read[path, kind]
        data, verified = self.tree.head(path)
        found = headers.read_header_id(kind, data)
        if verified:
            self.cache.put(key, found or "")
        return found

    def prefetch(self, wanted: list[tuple[str, str, Doc]]) -> None:
        """Read the header claims ``header`` will be asked for, ``(path, kind, doc)``, at
        once: on a cold check that is most files (~75k at 100k documents), and a worker
        reads half of them (``fanout``)."""
        todo = [(p, kind, doc.blob) for p, kind, doc in wanted
                if doc.content is None and doc.mode != MODE_LINK
                and headers.comment_style(kind) is not None
                and self.cache.get(f"{kind}\0{doc.blob}") is None]
        root, started = str(self.tree.project.root), self.tree.started_ns
        with fanout.Helper(_claims_job, lambda theirs: (root, started, list(theirs)), todo,
                           worth_it=len(todo) >= FANOUT_CLAIMS, interleave=True) as helper:
            self._keep(helper.mine, _claims_of(root, started, helper.mine))
            if helper.theirs:
                answer = helper.answer()
                found = (marshal.loads(answer) if answer is not None
                         else _claims_of(root, started, helper.theirs))
                self._keep(helper.theirs, found)

    def _keep(self, items: Sequence[tuple[str, str, str]],
              found: list[tuple[str | None, bool]]) -> None:
        for (path, kind, blob), (claim, verified) in zip(items, found, strict=True):
            self.read[path, kind] = claim
            if verified:
                self.cache.put(f"{kind}\0{blob}", claim or "")

    def kind(self, path: str, doc: Doc) -> str:
        data = b"" if doc.mode == MODE_LINK else self.tree.head(path)[0][:1024]
        return classifier.classify_content(path, data, executable=doc.mode == MODE_EXEC,
                                           symlink=doc.mode == MODE_LINK).kind


def _claims_of(root: str, started_ns: int,
              items: Sequence[tuple[str, str, str]]) -> list[tuple[str | None, bool]]:
    """The header claim of each listed file ``(path, kind, blob)`` and whether it was read
    from a settled file (``tree_state.read_head``): ``Claims.header`` for many at once."""
    out: list[tuple[str | None, bool]] = []
    for path, kind, _ in items:
        data, verified = read_head(root, path, started_ns)
        out.append((headers.read_header_id(kind, data), verified))
    return out


def _claims_job(root: str, started_ns: int, items: list[tuple[str, str, str]]) -> bytes:
    return marshal.dumps(_claims_of(root, started_ns, items))
