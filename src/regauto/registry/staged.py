"""The registry as git's index holds it (SPEC §3, "Two registries"): the staged ``meta.json``
and shards, read and written without touching the work tree.

Every call honours ``GIT_INDEX_FILE`` (the environment is inherited): ``git commit -a`` and
``git commit PATH`` run the commit hook on a temporary index, and that is the one the commit
records.  Reading the shards asked for costs one ``git cat-file --batch`` (by index path,
no listing); writing blobs that are not in the work tree, one ``git hash-object -w`` for
all and one ``git update-index --index-info``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from regauto import git
from regauto.errors import GitError, RegistryFormatError
from regauto.registry.store import is_registry_file


def listing(root: Path, folder: str) -> dict[str, str]:
    """``{file name: blob}`` of the registry files staged directly in ``folder`` (a
    conflicted entry counts as ours, as ``git.ls_files_stage`` gives it)."""
    prefix = folder.rstrip("/") + "/"
    out: dict[str, str] = {}
    for path, entry in git.ls_files_stage(root, [prefix]).items():
        name = path[len(prefix):]
        if path.startswith(prefix) and is_registry_file(name):
            out[name] = entry.blob
    return out


def read(root: Path, folder: str, names: list[str]) -> dict[str, tuple[str, str] | None]:
    """``{name: (blob, text)}`` of the staged files ``names`` (None: not staged), read by
    their index paths (``:<path>``) in one ``git cat-file --batch``: no listing needed."""
    if not names:
        return {}
    base = folder.rstrip("/")
    query = "".join(f":{base}/{n}\n" for n in names).encode("utf-8", "surrogateescape")
    out = git.run("cat-file", "--batch", cwd=root, input=query)
    result: dict[str, tuple[str, str] | None] = {}
    pos = 0
    for n in names:
        nl = out.index(b"\n", pos)
        header = out[pos:nl].decode("utf-8", "surrogateescape").rsplit(" ", 2)
        pos = nl + 1
        if len(header) != 3 or header[1] != "blob":
            result[n] = None  # "missing" (or not a blob): nothing staged at that path
            continue
        size = int(header[2])
        data = out[pos:pos + size]
        pos += size + 1
        try:
            result[n] = (header[0], data.decode("utf-8"))
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            raise RegistryFormatError(f"{base}/{n} (staged):{line}: not valid UTF-8") from None
    return result


def explain(root: Path, folder: str, error: RegistryFormatError) -> RegistryFormatError:
    """``error`` (a staged registry file that does not parse) said plainly when a staged
    registry file is a symbolic link: ``:path`` reads a link's target as if it were the
    file's text, so its mode is looked at here, on the error path only."""
    prefix = folder.rstrip("/") + "/"
    links = sorted(p for p, e in git.ls_files_stage(root, [prefix]).items()
                   if e.mode == "120000" and p.startswith(prefix))
    if not links:
        return error
    named = [p for p in links if f"{p} (staged)" in str(error)] or links
    return RegistryFormatError(
        f"{named[0]} (staged) is a symbolic link (mode 120000 in the index), not a registry "
        f"file: remove it (`git rm {named[0]}`: the link, not what it points to), then "
        "`regauto fix`, `git add` and commit again")


def blobs(root: Path, folder: str, names: list[str]) -> dict[str, str]:
    """``{name: blob}`` of those of ``names`` that are staged (one ``git ls-files -s``)."""
    base = folder.rstrip("/")
    entries = git.ls_files_stage(root, [f"{base}/{n}" for n in names])
    return {n: entries[f"{base}/{n}"].blob for n in names if f"{base}/{n}" in entries}


def write(root: Path, folder: str, texts: dict[str, str | None], scratch: Path) -> dict[str, str]:
    """Stage ``texts`` (None: remove the entry) as ``folder``'s files; returns the new blob
    of each file written."""
    base = folder.rstrip("/")
    blobs = stage_files(root, {f"{base}/{n}": (None if t is None else t.encode("utf-8"))
                               for n, t in texts.items()}, scratch)
    return {p[len(base) + 1:]: b for p, b in blobs.items()}


def stage_files(root: Path, files: dict[str, bytes | None], scratch: Path) -> dict[str, str]:
    """Stage ``files`` (repository paths; None: remove the entry) without touching the work
    tree; returns the blob of each file written.  The blobs are written as they are
    (``--no-filters``: regauto's files are LF-only UTF-8 whatever the attributes say), all
    in one process, through temp files in ``scratch``."""
    present = sorted(p for p, d in files.items() if d is not None)
    blobs: dict[str, str] = {}
    if present:
        scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=scratch, prefix="staged-") as tmp:
            temps = []
            for i, p in enumerate(present):
                t = os.path.join(tmp, str(i))
                with open(t, "wb") as f:
                    f.write(files[p] or b"")
                temps.append(t)
            out = git.run("hash-object", "-w", "--no-filters", "--stdin-paths", cwd=root,
                          input="\n".join(temps).encode() + b"\n")
        ids = out.decode().split()
        if len(ids) != len(present):
            raise GitError(f"git hash-object returned {len(ids)} ids for {len(present)} files")
        blobs = dict(zip(present, ids, strict=True))
    git.set_index_entries(root, {p: ("100644", blobs[p]) if p in blobs else None
                                 for p in files})
    return blobs

