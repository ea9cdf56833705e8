"""Which paths a command means: every document, the registry's paths, and command-line
arguments as checked repository paths (a folder stands for what is under it)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from regauto import docid
from regauto.automation.tree import list_documents
from regauto.errors import BadInputError
from regauto.project import Project
from regauto.registry.reader import open_reader
from regauto.registry.shard_lines import line_key


def all_paths(project: Project) -> list[str]:
    """Every included document plus every path the registry records (to notice deletions)."""
    docs = list_documents(project.root, project.config, project.is_git)
    return sorted(set(docs) | set(recorded_paths(project)))


def recorded_paths(project: Project) -> list[str]:
    """Every path the registry records, read from the lines' canonical prefixes (a full
    parse of 100k records would cost seconds and hundreds of MB for a list of names); a
    shard with a line of another shape is parsed whole, with its errors."""
    reader = open_reader(project)
    reader.current_hash()  # finishes or rolls back an interrupted write first
    store = reader.store
    out: list[str] = []
    for name in store.shard_names():
        keys = [line_key(ln) for ln in (store.read_text(name) or "").split("\n") if ln]
        if all(k is not None for k in keys):
            out.extend(k[0] for k in keys if k is not None)
        else:
            out.extend(r["path"] for r in store.read_shard(name).records
                       if isinstance(r.get("path"), str))
    return out


def _prefixed_away(full: Path) -> bool:
    """Did regauto rename this file to carry its id (``<id>_<name>`` beside it)?  Another
    regauto process (a concurrent sync, the commit hook) may have done so after the user
    named the file: the name was right, and the file is no typo."""
    try:
        names = os.listdir(full.parent)
    except OSError:
        return False
    # The inverse of file_renamer.prefixed_name: a valid id prefix, then the given name.
    return any(n[17:] == full.name and docid.claimed_by_name(n) is not None for n in names)


def rel_paths(project: Project, args: Iterable[str], *, strict: bool = False,
              unknown: list[str] | None = None) -> list[str]:
    """Command-line paths (relative to the cwd, or absolute) as checked repo paths.

    A folder stands for the documents under it *and* the records under it, so that
    ``sync docs`` notices a file deleted or moved out of ``docs/``; so does a folder that
    no longer exists.  ``.`` is the current directory, not the repository root.

    With ``strict`` (``regauto sync``), an included path that does not exist and that the
    registry records neither at nor under it — unless regauto itself renamed it to carry
    its id (``_prefixed_away``) — is *unknown*: a typo, or a deletion another process has
    registered already.  Every argument unknown: ``BadInputError`` naming them, before
    anything is processed (nothing to do but a mistake to report).  Some: they are added
    to ``unknown`` for the caller to name, and the others are processed.  An excluded path is not
    regauto's business, there or not: it is left out as the pipeline always leaves it."""
    out: list[str] = []
    docs: list[str] | None = None
    recorded: list[str] | None = None
    args = list(args)
    missing: list[str] = []
    for a in args:
        absolute = Path(os.path.normpath(Path.cwd() / a))
        rel = "" if absolute == project.root else project.rel(a)
        full = project.root / rel if rel else project.root
        prefix = rel + "/" if rel else ""
        try:
            is_dir = full.is_dir() and not full.is_symlink()
        except OSError as e:  # e.g. a name longer than the file system allows
            raise BadInputError(f"{a}: {e.strerror}") from None
        if not is_dir:
            out.append(rel)
            if os.path.lexists(full):
                continue
        if recorded is None:
            recorded = recorded_paths(project)
        under = [p for p in recorded if p.startswith(prefix)]
        out.extend(under)
        if is_dir:
            if docs is None:
                docs = list_documents(project.root, project.config, project.is_git)
            out.extend(d for d in docs if d.startswith(prefix))
        elif (strict and not under and rel not in recorded
              and project.config.is_included(rel) and not _prefixed_away(full)):
            missing.append(a)
    if missing and len(missing) == len(args):
        raise BadInputError(f"{', '.join(missing)}: no such file, and no record in the registry")
    if unknown is not None:
        unknown.extend(missing)
    return out
