"""git's history: revisions, commits, files at a commit, three-way file merges and the
temporary work trees ``check --rev`` uses.  Part of the one git module (``regauto.git``
re-exports every name here)."""

from __future__ import annotations

import os
from pathlib import Path

from regauto import proc
from regauto.errors import GitError
from regauto.git.runner import run


def show_file(root: Path, rev: str, path: str) -> bytes | None:
    """The content of ``path`` at ``rev`` (``""``: the index, stage 0), or None if absent."""
    rc, out, _ = proc.run(("git", "cat-file", "blob", f"{rev}:{path}"), cwd=root, check=False)
    return out if rc == 0 else None


def env_without_git() -> dict[str, str]:
    """The environment minus ``GIT_*`` (for git commands aimed at another repository)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


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
    out = run("log", "--first-parent", "--format=%H", f"--max-count={limit}", "--no-ext-diff",
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
    out = run("cat-file", "--batch", cwd=root, input=names.encode("utf-8", "surrogateescape"))
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


def commit_of(root: Path, rev: str) -> str | None:
    """The commit ``rev`` names (full id), or None when it names no commit."""
    rc, out, _ = proc.run(("git", "rev-parse", "-q", "--verify", f"{rev}^{{commit}}"), cwd=root,
                          check=False)
    return out.decode().strip() or None if rc == 0 else None


def index_commit(root: Path) -> str:
    """A dangling commit whose tree is the index (what ``git commit`` would record now).
    Raises GitError while the index holds a conflict."""
    tree = run("write-tree", cwd=root).decode().strip()
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
    out = run("ls-tree", "-r", "-z", "--name-only", commit, "--", f"{folder}/", cwd=root)
    return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]


def tree_entries(root: Path, rev: str, paths: list[str]) -> dict[str, tuple[str, str]]:
    """``{path: (mode, blob)}`` of the files ``paths`` in ``rev``'s tree (absent: left out)."""
    if not paths:
        return {}
    out = run("--literal-pathspecs", "ls-tree", "-z", rev, "--", *paths, cwd=root)
    entries: dict[str, tuple[str, str]] = {}
    for rec in out.split(b"\0"):
        meta, _, path = rec.partition(b"\t")
        fields = meta.decode().split(" ")
        if len(fields) == 3 and fields[1] == "blob":
            entries[path.decode("utf-8", "surrogateescape")] = (fields[0], fields[2])
    return entries
