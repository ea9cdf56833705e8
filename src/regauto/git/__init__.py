"""All of regauto's git in one module (``history`` holds revisions, commits and work trees;
``run`` the one way git is called; every name is reachable here).

Output is read with ``-z`` and split on NUL so any file name survives; paths are always
passed after ``--``; ``--no-ext-diff`` and ``--no-renames``/``-M`` are explicit so a user's
diff config cannot change what we parse.  Environment: regauto runs inside git hooks, where
git exports ``GIT_INDEX_FILE`` (``git commit -a`` / ``git commit PATH`` use a temporary
index) — that variable must reach our git calls, so the environment is inherited as is.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import NamedTuple

from regauto import proc
from regauto.errors import CalledProcessError, GitError
from regauto.git import history
from regauto.git.runner import run

# The history half lives in ``history``; its names are this module's too (one git module).
commit_of = history.commit_of
env_without_git = history.env_without_git
files_at = history.files_at
first_parent_commits = history.first_parent_commits
index_commit = history.index_commit
merge_base = history.merge_base
merge_file = history.merge_file
rev_exists = history.rev_exists
show_file = history.show_file
tree_entries = history.tree_entries
tree_paths = history.tree_paths
worktree_add = history.worktree_add
worktree_remove = history.worktree_remove


def blob_id(data: bytes) -> str:
    """The git blob id of ``data``: what ``git hash-object`` prints (sha1 of the header + data)."""
    h = hashlib.sha1(b"blob %d\0" % len(data))
    h.update(data)
    return h.hexdigest()


class RepoPaths(NamedTuple):
    root: Path
    git_dir: Path


def discover(start: Path) -> RepoPaths | None:
    """The work-tree root and git dir containing ``start``; None outside any repository."""
    try:
        _, out, _ = proc.run(
            ("git", "rev-parse", "--show-toplevel", "--absolute-git-dir"), cwd=start
        )
    except CalledProcessError:
        return None
    lines = out.decode("utf-8", "surrogateescape").splitlines()
    if len(lines) < 2 or not lines[0]:
        return None  # a bare repository or inside .git: no work tree to manage
    return RepoPaths(Path(lines[0]), Path(lines[1]))


class IndexEntry(NamedTuple):
    mode: str
    blob: str
    stage: int
    path: str


def ls_files_stage(root: Path, paths: list[str] | None = None) -> dict[str, IndexEntry]:
    """The index: ``{path: entry}`` (stage 0 entries; conflicted paths keep stage 2, 'ours').

    With ``paths``, only those (literal pathspecs): the hook asks for a few of 100k entries.
    """
    if paths is not None:
        if not paths:
            return {}
        out = run("--literal-pathspecs", "ls-files", "-s", "-z", "--", *paths, cwd=root)
    else:
        out = run("ls-files", "-s", "-z", cwd=root)
    entries: dict[str, IndexEntry] = {}
    for rec in out.split(b"\0"):
        if not rec:
            continue
        meta, _, path_b = rec.partition(b"\t")
        mode, blob, stage = meta.decode().split(" ")
        path = path_b.decode("utf-8", "surrogateescape")
        e = IndexEntry(mode, blob, int(stage), path)
        if e.stage in (0, 2) or path not in entries:
            entries[path] = e
    return entries


_LS_ENTRY = re.compile(r"(\d{6}) ([0-9a-f]{40,64}) (\d)\t([^\0]*)\0")


def index_blobs(root: Path) -> tuple[dict[str, tuple[str, str]], set[str]]:
    """The index as ``{path: (mode, blob)}`` for merged entries, and the unmerged paths:
    ``git ls-files -s -z`` parsed by one regex over the whole output (a third of the time
    of ``ls_files_stage`` on a 100k-entry index)."""
    text = run("ls-files", "-s", "-z", cwd=root).decode("utf-8", "surrogateescape")
    merged: dict[str, tuple[str, str]] = {}
    unmerged: set[str] = set()
    for mode, blob, stage, path in _LS_ENTRY.findall(text):
        if stage == "0":
            merged[path] = (mode, blob)
        else:
            unmerged.add(path)
    return merged, unmerged


def index_lines(root: Path, paths: list[str] | None = None) -> list[str]:
    """``git ls-files -s -z`` records as text, ``"<mode> <blob> <stage>\t<path>"`` (of
    ``paths`` only, when given): the cheapest form to compare whole listings as sets."""
    args: tuple[str, ...] = ("ls-files", "-s", "-z")
    if paths is not None:
        args += ("--", *(f":(literal){p}" for p in paths))
    text = run(*args, cwd=root).decode("utf-8", "surrogateescape")
    return [r for r in text.split("\0") if r]


def ls_files_untracked(root: Path) -> list[str]:
    """Untracked, not ignored files (``--exclude-standard``)."""
    out = run("ls-files", "-o", "--exclude-standard", "-z", cwd=root)
    return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]


class Change(NamedTuple):
    status: str  # A, M, D, R (renamed: old_path set), C, T
    path: str
    old_path: str | None = None
    mode: str | None = None  # the new side's mode and blob (None for a deletion)
    blob: str | None = None


def _parse_raw(out: bytes) -> list[Change]:
    """``git diff --raw -z --no-abbrev`` output: ``:old_mode new_mode old new STATUS``, NUL,
    the path (two paths for a rename or copy)."""
    parts = out.split(b"\0")
    changes: list[Change] = []
    i = 0
    while i < len(parts):
        head = parts[i].decode()
        if not head.startswith(":"):
            i += 1
            continue
        _, new_mode, _, new_blob, status = head[1:].split(" ")
        code = status[0]
        mode = None if code == "D" else new_mode
        blob = None if code == "D" else new_blob
        if code in "RC":
            old = parts[i + 1].decode("utf-8", "surrogateescape")
            new = parts[i + 2].decode("utf-8", "surrogateescape")
            changes.append(Change(code, new, old, mode, blob))
            i += 3
        else:
            path = parts[i + 1].decode("utf-8", "surrogateescape")
            changes.append(Change(code, path, None, mode, blob))
            i += 2
    return changes


def staged_changes(root: Path) -> list[Change]:
    """What the commit will record: ``git diff --cached -M --raw -z`` against HEAD.

    ``--raw`` (the name-status with modes and blob ids) also tells the staged blobs, so the
    hook need not list the index again.
    """
    # No commit named: git compares with HEAD, or with the empty tree on an unborn branch
    # (the first commit), which saves the hook a ``rev-parse HEAD`` per run.
    out = run("diff", "--cached", "-M", "--raw", "-z", "--no-abbrev", "--no-ext-diff", "--",
               cwd=root)
    return _parse_raw(out)


def changes_between(root: Path, old: str, new: str) -> list[Change]:
    out = run("diff", "-M", "--raw", "-z", "--no-abbrev", "--no-ext-diff", old, new, "--",
               cwd=root)
    return _parse_raw(out)


class StatusEntry(NamedTuple):
    xy: str  # porcelain v1 status letters: index, then work tree ("??": untracked)
    path: str
    old_path: str | None = None  # a rename or copy git detected in the index


def status(root: Path, paths: list[str] | None = None, *,
           ignored: bool = False) -> list[StatusEntry]:
    """Work-tree changes against the index (and the index against HEAD):
    ``git status --porcelain=v1 -z --untracked-files=all``, run with ``GIT_OPTIONAL_LOCKS=0``
    so that a read-only command never refreshes (rewrites) the index.  ``paths``: under
    those only; ``ignored``: ignored files too (``!!``)."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    cmd: tuple[str, ...] = ("git", "status", "--porcelain=v1", "-z", "--untracked-files=all",
                            "--renames", *(["--ignored"] if ignored else []))
    if paths is not None:
        cmd += ("--", *(f":(literal){p}" for p in paths))
    try:
        _, out, _ = proc.run(cmd, cwd=root, env=env)
    except CalledProcessError as e:
        err = e.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git status failed in {root}: {err[-1] if err else e.returncode}") from e
    parts = out.split(b"\0")
    entries: list[StatusEntry] = []
    i = 0
    while i < len(parts):
        rec = parts[i]
        i += 1
        if len(rec) < 4:
            continue
        xy = rec[:2].decode()
        path = rec[3:].decode("utf-8", "surrogateescape")
        old = None
        if xy[0] in "RC":
            old = parts[i].decode("utf-8", "surrogateescape")
            i += 1
        entries.append(StatusEntry(xy, path, old))
    return entries


def cat_blobs(root: Path, blobs: list[str]) -> dict[str, bytes]:
    """Read many blobs in one ``git cat-file --batch`` process."""
    if not blobs:
        return {}
    uniq = sorted(set(blobs))
    out = run("cat-file", "--batch", cwd=root, input=("\n".join(uniq) + "\n").encode())
    result: dict[str, bytes] = {}
    pos = 0
    for b in uniq:
        nl = out.index(b"\n", pos)
        header = out[pos:nl].decode().split(" ")
        if len(header) < 3 or header[1] == "missing":
            raise GitError(f"git object {b} is missing")
        size = int(header[2])
        result[b] = out[nl + 1 : nl + 1 + size]
        pos = nl + 1 + size + 1
    return result


def add(root: Path, paths: list[str]) -> None:
    """Stage ``paths`` (also their removal: ``-A``), honouring ``GIT_INDEX_FILE``."""
    if paths:
        run("add", "-A", "--", *paths, cwd=root)


def stage_managed(root: Path, paths: list[str]) -> None:
    """Stage regauto's own files (registry shards, generated outputs) as they are in the
    work tree, including their removal, honouring ``GIT_INDEX_FILE``.

    ``git update-index --add --remove``, not ``git add``: the hook stages these on every
    commit, and ``git add`` also preloads the whole index, builds its name hash and diffs
    every entry — 20 ms of a 100k-file repository's commit for files named exactly.
    Ignore rules do not apply (these files are the registry, whatever a .gitignore says).
    """
    if paths:
        run("update-index", "--add", "--remove", "--", *paths, cwd=root)


def update_index_blob(root: Path, path: str, data: bytes, mode: str = "100644") -> str:
    """Stage ``data`` as ``path`` without touching the work tree; returns the blob id."""
    blob = run("hash-object", "-w", "--stdin", cwd=root, input=data).decode().strip()
    run("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}", cwd=root)
    return blob


def set_index_entries(root: Path, entries: dict[str, tuple[str, str] | None]) -> None:
    """Set each path's index entry to ``(mode, blob)`` (None: remove it) in one
    ``git update-index --index-info``; the work tree is not touched."""
    lines = [(f"{e[0]} {e[1]}" if e is not None else "0 " + "0" * 40).encode()
             + b"\t" + p.encode("utf-8", "surrogateescape") for p, e in sorted(entries.items())]
    if lines:
        run("update-index", "-z", "--index-info", cwd=root, input=b"\0".join(lines) + b"\0")


def config_get(root: Path, key: str) -> str | None:
    rc, out, _ = proc.run(("git", "config", "--get", key), cwd=root, check=False)
    return out.decode().strip() if rc == 0 else None


def version() -> tuple[int, ...]:
    """git's version as numbers (``git version 2.39.2`` -> ``(2, 39, 2)``); ``()`` when no
    git runs or its answer has no version in it."""
    try:
        _, out, _ = proc.run(("git", "--version"))
    except (CalledProcessError, OSError):
        return ()
    m = re.search(rb"(\d+)\.(\d+)(?:\.(\d+))?", out)
    return tuple(int(g) for g in m.groups() if g is not None) if m else ()


def index_entries(git_dir: Path) -> int:
    """How many entries the index holds, from its header (``DIRC``, version, count) — no
    process and no parse of the entries; 0 when there is no index."""
    try:
        with open(git_dir / "index", "rb") as f:
            head = f.read(12)
    except OSError:
        return 0
    return int.from_bytes(head[8:12], "big") if head[:4] == b"DIRC" else 0


def config_set(root: Path, key: str, value: str) -> None:
    run("config", key, value, cwd=root)


def unstaged_paths(root: Path, paths: list[str]) -> list[str]:
    """Which of ``paths`` have work-tree changes not in the index."""
    if not paths:
        return []
    out = run("diff", "--name-only", "-z", "--no-ext-diff", "--", *paths, cwd=root)
    return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]


def in_progress(git_dir: Path) -> str | None:
    """'rebase' / 'merge' / 'index.lock' when git is busy in this repository, else None."""
    if (git_dir / "rebase-merge").exists() or (git_dir / "rebase-apply").exists():
        return "rebase"
    if (git_dir / "MERGE_HEAD").exists():
        return "merge"
    if (git_dir / "index.lock").exists():
        return "index.lock"
    return None


def index_move(root: Path, old: str, new: str, mode: str, blob: str) -> None:
    """Record a rename in the index only (the work tree was renamed already)."""
    set_index_entries(root, {new: (mode, blob), old: None})


def files_mentioning(root: Path, words: list[str], pathspecs: list[str], *,
                     untracked: bool = True) -> list[str] | None:
    """Work-tree files (tracked — in the index —, and with ``untracked`` those not ignored)
    under ``pathspecs`` that contain any of ``words`` as plain text: ``git grep``, many times
    faster than reading them all.  None when git cannot tell (the caller reads the files)."""
    args = ["grep", "-l", "-z", "-I", "-F", "--no-color"] + (["--untracked"] if untracked
                                                               else [])
    for w in words:
        args += ["-e", w]
    rc, out, _ = proc.run(("git", *args, "--", *pathspecs), cwd=root, check=False)
    if rc not in (0, 1):
        return None
    return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]
