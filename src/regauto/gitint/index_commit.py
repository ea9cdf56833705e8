"""The commit hook's registry and generated outputs live in the index (SPEC §3, "Two
registries"): the pipeline plans against the staged registry and writes it
(``registry.index_registry``), the outputs are rendered from the staged registry and
staged, and the work tree follows only where it was equal to the index.

Under the pre-commit framework the work tree *is* the index while the hook runs (its stash
of unstaged changes is set aside): every staged file is written to the work tree too, so
``git diff`` stays as it was, and the stash's sections for those files are rebased
(``stash_rebase``) so that the framework's restore gives each its work-tree version back.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from regauto import git
from regauto.gitint import framework_stash, stash_rebase
from regauto.pathguard import read_regular
from regauto.project import Project
from regauto.registry import staged
from regauto.registry.index_registry import IndexReader, IndexWriter, open_index_registry


class Staging(NamedTuple):
    """The index's registry for one hook run, and the framework's stash (if any) it runs under."""

    reader: IndexReader
    writer: IndexWriter
    stash: str | None  # the framework's patch file; "" nothing stashed; None no framework

    @property
    def registry(self) -> tuple[IndexReader, IndexWriter]:
        return self.reader, self.writer


def open_staging(project: Project) -> Staging:
    stash = framework_stash.stash_file()
    if stash is None:
        reader, writer = open_index_registry(project)
        return Staging(reader, writer, stash)
    # Under the framework's commit hook the work tree is the index checked out (no
    # registry file differs now); the user's unstaged edits are those of its stash.
    patch = framework_stash.framework_stash() or b""
    reader, writer = open_index_registry(
        project, lambda: (), lambda paths: framework_stash.stashed_paths(patch, paths))
    return Staging(reader, writer, stash)


def finish(project: Project, st: Staging, *, outputs: bool = False) -> list[str]:
    """After the pipeline: the generated outputs re-rendered from the staged registry and
    staged (written to the work tree where it held the staged version), and the framework's
    stash rebased onto every file staged.  Returns the outputs staged.

    The outputs are rendered when this run staged a registry file, or with ``outputs``
    whatever it staged: after a merge, rebase or cherry-pick the staged output is ours'
    text (its merge driver keeps it), rendered from a registry the merge has moved past."""
    reg = st.reader.reg
    if not reg.changed and not outputs:
        return []
    folder = project.config.registry.rstrip("/")
    changed = {f"{folder}/{n}": (_enc(old), _enc(new)) for n, (old, new) in reg.changed.items()}
    rendered = _outputs(project, st) if project.config.outputs else {}
    changed.update(rendered)
    if st.stash and changed:
        prefix = f"{folder}/"

        def adjust(path: str, mine: bytes | None) -> bytes | None:
            if not path.startswith(prefix):
                return mine
            text = reg.follow(path[len(prefix):], None if mine is None
                              else mine.decode("utf-8", "replace"))
            return None if text is None else text.encode("utf-8")

        stash_rebase.rebase(st.stash, changed, adjust)
    if changed:
        _record_partial(project, changed)
    return sorted(rendered)


def _record_partial(project: Project, changed: dict[str, tuple[bytes | None, bytes | None]],
                    ) -> None:
    """``git commit PATH``: git keeps the user's own index apart from the one written here,
    and the post-commit hook brings it up to date from this record (``partial_commit``)."""
    if temporary_index(project) is not None:  # blob ids computed only then
        record_staged(project, {p: (_blob(old), _blob(new)) for p, (old, new) in changed.items()})


def record_staged(project: Project, blobs: dict[str, tuple[str | None, str | None]]) -> None:
    """The commit hook staged ``{path: (blob before, blob after)}`` (None: no entry) into
    the index: as ``finish`` does for the registry and outputs, under ``git commit PATH``
    the post-commit hook brings the user's own index up to date from this record.  Every
    other file the hook stages (headers, renames, references, ``.gitattributes``) comes
    through here."""
    index = temporary_index(project)
    if index is not None and blobs:
        from regauto.gitint import partial_commit

        partial_commit.record(project, index, blobs)


def note_staged(blobs: dict[str, tuple[str | None, str | None]], path: str,
                before: str | None, after: str | None) -> None:
    """Add one staged file to ``blobs`` for ``record_staged``; a path staged twice keeps
    its first ``before``."""
    blobs[path] = (blobs[path][0] if path in blobs else before, after)


def temporary_index(project: Project) -> str | None:
    """The index file of this commit when it is not the repository's own (nor git's lock of
    it, which ``git commit -a``/``-i`` use and then keep): ``git commit PATH``'s."""
    index = os.environ.get("GIT_INDEX_FILE")
    if not index or project.git_dir is None:
        return None
    path = os.path.realpath(os.path.join(project.root, index))
    own = os.path.realpath(os.path.join(project.git_dir, "index"))
    return None if path in (own, own + ".lock") else path


def _enc(text: str | None) -> bytes | None:
    return None if text is None else text.encode("utf-8")


def _blob(data: bytes | None) -> str | None:
    return None if data is None else git.blob_id(data)


def _outputs(project: Project, st: Staging) -> dict[str, tuple[bytes | None, bytes | None]]:
    from regauto.generators.generator_orchestrator import GeneratorOrchestrator, write_output

    outs = project.config.outputs
    entries = git.ls_files_stage(project.root, outs)
    blobs = git.cat_blobs(project.root, [e.blob for e in entries.values()])
    current = {p: (blobs[entries[p].blob] if p in entries else None) for p in outs}
    texts = GeneratorOrchestrator(project).render_for(st.reader.snapshot(), current)
    new = {p: t.encode("utf-8", "surrogateescape") for p, t in texts.items()}
    new = {p: d for p, d in new.items() if d != current[p]}
    if not new:
        return {}
    staged.stage_files(project.root, dict(new), project.state_dir)
    for p in new:
        try:
            now: bytes | None = read_regular(project.root / p)[0]
        except FileNotFoundError:
            now = None
        except OSError:
            continue
        # Not staged yet: the work tree's copy is regauto's own rendering.
        if now == current[p] or current[p] is None:
            write_output(project, p, texts[p])
    return {p: (current[p], d) for p, d in new.items()}
