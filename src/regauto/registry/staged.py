"""The registry as git's index holds it (SPEC §3, "Two registries"): the staged ``meta.json``
and shards, read and written without touching the work tree.

Every call honours ``GIT_INDEX_FILE`` (the environment is inherited): ``git commit -a`` and
``git commit PATH`` run the commit hook on a temporary index, and that is the one the commit
records.  Reading costs one ``git ls-files -s`` (the listing) and one ``git cat-file
--batch`` (the shards asked for); writing, one ``git hash-object -w`` for all new blobs and
one ``git update-index --index-info`` for all entries.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from regauto import git, proc
from regauto.errors import CalledProcessError, GitError, RegistryFormatError
from regauto.registry.store import is_registry_file

ZERO_BLOB = "0" * 40


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


def token(files: dict[str, str]) -> str:
    """The compare-and-swap token of a staged registry: its files' blob ids, hashed (the
    work tree's registry_hash has the same role and form; the two are never compared)."""
    text = "".join(f"{n} {b}\n" for n, b in sorted(files.items()))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def read_texts(root: Path, folder: str, blobs: dict[str, str]) -> dict[str, str]:
    """The text of each staged file ``{name: blob}``."""
    data = git.cat_blobs(root, list(blobs.values()))
    out: dict[str, str] = {}
    for name, blob in blobs.items():
        try:
            out[name] = data[blob].decode("utf-8")
        except UnicodeDecodeError as e:
            line = data[blob][: e.start].count(b"\n") + 1
            raise RegistryFormatError(
                f"{folder}/{name} (staged):{line}: not valid UTF-8") from None
    return out


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
            out = _run(root, ("hash-object", "-w", "--no-filters", "--stdin-paths"),
                       "\n".join(temps).encode() + b"\n")
        ids = out.decode().split()
        if len(ids) != len(present):
            raise GitError(f"git hash-object returned {len(ids)} ids for {len(present)} files")
        blobs = dict(zip(present, ids, strict=True))
    lines = [(b"100644 " + blobs[p].encode() if p in blobs else b"0 " + ZERO_BLOB.encode())
             + b"\t" + p.encode("utf-8", "surrogateescape") for p in sorted(files)]
    if lines:
        _run(root, ("update-index", "-z", "--index-info"), b"\0".join(lines) + b"\0")
    return blobs


def _run(root: Path, args: tuple[str, ...], data: bytes) -> bytes:
    try:
        return proc.run(("git", *args), cwd=root, input=data)[1]
    except CalledProcessError as e:
        err = e.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed in {root}: {err[-1] if err else e.returncode}"
                       ) from e
