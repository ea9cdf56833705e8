"""All of regauto's git in one module.

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
from dataclasses import dataclass
from pathlib import Path

from regauto import proc
from regauto.errors import CalledProcessError, GitError


def _git(*args: str, cwd: Path, check: bool = True, input: bytes | None = None) -> bytes:
    try:
        _, out, _ = proc.run(("git", *args), cwd=cwd, check=check, input=input)
    except CalledProcessError as e:
        err = e.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed in {cwd}: {err[-1] if err else e.returncode}") from e
    return out


def blob_id(data: bytes) -> str:
    """The git blob id of ``data``: what ``git hash-object`` prints (sha1 of the header + data)."""
    h = hashlib.sha1(b"blob %d\0" % len(data))
    h.update(data)
    return h.hexdigest()


@dataclass(frozen=True)
class RepoPaths:
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


@dataclass(frozen=True)
class IndexEntry:
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
        out = _git("--literal-pathspecs", "ls-files", "-s", "-z", "--", *paths, cwd=root)
    else:
        out = _git("ls-files", "-s", "-z", cwd=root)
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
    text = _git("ls-files", "-s", "-z", cwd=root).decode("utf-8", "surrogateescape")
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
    text = _git(*args, cwd=root).decode("utf-8", "surrogateescape")
    return [r for r in text.split("\0") if r]


def ls_files_untracked(root: Path) -> list[str]:
    """Untracked, not ignored files (``--exclude-standard``)."""
    out = _git("ls-files", "-o", "--exclude-standard", "-z", cwd=root)
    return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]


@dataclass(frozen=True)
class Change:
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
    out = _git("diff", "--cached", "-M", "--raw", "-z", "--no-abbrev", "--no-ext-diff", "--",
               cwd=root)
    return _parse_raw(out)


def changes_between(root: Path, old: str, new: str) -> list[Change]:
    out = _git("diff", "-M", "--raw", "-z", "--no-abbrev", "--no-ext-diff", old, new, "--",
               cwd=root)
    return _parse_raw(out)


@dataclass(frozen=True)
class StatusEntry:
    xy: str  # porcelain v1 status letters: index, then work tree ("??": untracked)
    path: str
    old_path: str | None = None  # a rename or copy git detected in the index


def status(root: Path) -> list[StatusEntry]:
    """Work-tree changes against the index (and the index against HEAD):
    ``git status --porcelain=v1 -z --untracked-files=all``, run with ``GIT_OPTIONAL_LOCKS=0``
    so that a read-only command never refreshes (rewrites) the index."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    cmd = ("git", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--renames")
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
    out = _git("cat-file", "--batch", cwd=root, input=("\n".join(uniq) + "\n").encode())
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


def show_file(root: Path, rev: str, path: str) -> bytes | None:
    """The content of ``path`` at ``rev`` (``""``: the index, stage 0), or None if absent."""
    rc, out, _ = proc.run(("git", "cat-file", "blob", f"{rev}:{path}"), cwd=root, check=False)
    return out if rc == 0 else None


def add(root: Path, paths: list[str]) -> None:
    """Stage ``paths`` (also their removal: ``-A``), honouring ``GIT_INDEX_FILE``."""
    if paths:
        _git("add", "-A", "--", *paths, cwd=root)


def stage_managed(root: Path, paths: list[str]) -> None:
    """Stage regauto's own files (registry shards, generated outputs) as they are in the
    work tree, including their removal, honouring ``GIT_INDEX_FILE``.

    ``git update-index --add --remove``, not ``git add``: the hook stages these on every
    commit, and ``git add`` also preloads the whole index, builds its name hash and diffs
    every entry — 20 ms of a 100k-file repository's commit for files named exactly.
    Ignore rules do not apply (these files are the registry, whatever a .gitignore says).
    """
    if paths:
        _git("update-index", "--add", "--remove", "--", *paths, cwd=root)


def update_index_blob(root: Path, path: str, data: bytes, mode: str = "100644") -> str:
    """Stage ``data`` as ``path`` without touching the work tree; returns the blob id."""
    blob = _git("hash-object", "-w", "--stdin", cwd=root, input=data).decode().strip()
    _git("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}", cwd=root)
    return blob


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
    _git("config", key, value, cwd=root)


def unstaged_paths(root: Path, paths: list[str]) -> list[str]:
    """Which of ``paths`` have work-tree changes not in the index."""
    if not paths:
        return []
    out = _git("diff", "--name-only", "-z", "--no-ext-diff", "--", *paths, cwd=root)
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


def env_without_git() -> dict[str, str]:
    """The environment minus ``GIT_*`` (for git commands aimed at another repository)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def index_move(root: Path, old: str, new: str, mode: str, blob: str) -> None:
    """Record a rename in the index only (the work tree was renamed already)."""
    _git("update-index", "--add", "--cacheinfo", f"{mode},{blob},{new}", cwd=root)
    _git("update-index", "--force-remove", "--", old, cwd=root)


def rev_exists(root: Path, rev: str) -> bool:
    rc, _, _ = proc.run(("git", "rev-parse", "-q", "--verify", rev), cwd=root, check=False)
    return rc == 0


def merge_base(root: Path, a: str, b: str) -> str | None:
    """The best common ancestor of ``a`` and ``b``; None when they share no history."""
    rc, out, _ = proc.run(("git", "merge-base", a, b), cwd=root, check=False)
    return out.decode().strip() or None if rc == 0 else None


def first_parent_commits(root: Path, paths: list[str], limit: int) -> list[str]:
    """The newest ``limit`` commits on HEAD's first-parent line that changed ``paths``
    (against their first parent), newest first.  A merge is compared with the branch it
    was made on, so it shows what it brought in.  Raises GitError without a HEAD commit."""
    out = _git("log", "--first-parent", "--format=%H", f"--max-count={limit}", "--no-ext-diff",
               "HEAD", "--", *(f":(literal){p}" for p in paths), cwd=root)
    return out.decode().split()


def files_at(root: Path, wanted: list[tuple[str, str]]) -> list[bytes | None]:
    """The content of each ``(commit, path)`` — None where that commit has no such file —
    read in one ``git cat-file --batch`` process."""
    if not wanted:
        return []
    if any("\n" in p for _, p in wanted):
        raise GitError("git cat-file --batch cannot name a path holding a newline")
    names = "".join(f"{rev}:{path}\n" for rev, path in wanted)
    out = _git("cat-file", "--batch", cwd=root, input=names.encode("utf-8", "surrogateescape"))
    result: list[bytes | None] = []
    pos = 0
    for _ in wanted:
        nl = out.index(b"\n", pos)
        header = out[pos:nl].split(b" ")
        if header[-1] in (b"missing", b"ambiguous"):
            result.append(None)
            pos = nl + 1
            continue
        size = int(header[2])
        # A tree or a submodule at that path is no file of ours.
        result.append(out[nl + 1 : nl + 1 + size] if header[1] == b"blob" else None)
        pos = nl + 1 + size + 1
    return result


def merge_file(base: bytes, ours: bytes, theirs: bytes) -> bytes | None:
    """Three-way merge of one file's contents as git merges a file (``git merge-file``, the
    same xdiff merge ``git merge`` uses); None when the sides conflict or git cannot merge
    them (binary content).  Runs nothing that takes the index lock: a merge driver may call
    it while git holds that lock."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="regauto-merge-") as tmp:
        names = []
        for label, data in (("ours", ours), ("base", base), ("theirs", theirs)):
            p = Path(tmp) / label
            p.write_bytes(data)
            names.append(str(p))
        rc, out, _ = proc.run(("git", "merge-file", "-p", "-q", *names), check=False)
    return out if rc == 0 else None


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


def commit_of(root: Path, rev: str) -> str | None:
    """The commit ``rev`` names (full id), or None when it names no commit."""
    rc, out, _ = proc.run(("git", "rev-parse", "-q", "--verify", f"{rev}^{{commit}}"), cwd=root,
                          check=False)
    return out.decode().strip() or None if rc == 0 else None


def index_commit(root: Path) -> str:
    """A dangling commit whose tree is the index (what ``git commit`` would record now).
    Raises GitError while the index holds a conflict."""
    tree = _git("write-tree", cwd=root).decode().strip()
    env = {**os.environ, "GIT_AUTHOR_NAME": "regauto", "GIT_AUTHOR_EMAIL": "regauto@localhost",
           "GIT_COMMITTER_NAME": "regauto", "GIT_COMMITTER_EMAIL": "regauto@localhost"}
    _, out, _ = proc.run(("git", "commit-tree", tree, "-m", "regauto check --staged"), cwd=root,
                         env=env)
    return out.decode().strip()


def worktree_add(root: Path, where: Path, commit: str) -> None:
    """Check ``commit`` out, detached, in a new linked work tree at ``where``.  No hooks run
    (a post-checkout hook is the user's business, not a check's) and no ``GIT_*`` variable
    of a hook we may be running in reaches the new work tree."""
    env = env_without_git()
    proc.run(("git", "-c", "core.hooksPath=/dev/null", "worktree", "add", "--quiet", "--detach",
              str(where), commit), cwd=root, env=env)


def worktree_remove(root: Path, where: Path) -> None:
    """Remove a linked work tree made by :func:`worktree_add`, and its administrative files."""
    env = env_without_git()
    proc.run(("git", "worktree", "remove", "--force", str(where)), cwd=root, env=env, check=False)
    proc.run(("git", "worktree", "prune"), cwd=root, env=env, check=False)


def tree_paths(root: Path, commit: str, folder: str) -> list[str]:
    """The files (blobs) under ``folder`` in ``commit``'s tree, repository-relative."""
    out = _git("ls-tree", "-r", "-z", "--name-only", commit, "--", f"{folder}/", cwd=root)
    return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]
