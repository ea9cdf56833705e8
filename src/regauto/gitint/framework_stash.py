"""What the pre-commit framework set aside before running the commit hook: its patch of
unstaged changes (``staged_files_only``), read instead of diffing the index."""

from __future__ import annotations

import os

STASH_MAX_AGE_S = 3600


def framework_stash() -> bytes | None:
    """Under the pre-commit framework's commit hook: the patch of unstaged changes it set
    aside before running hooks (``b""`` when there were none); None elsewhere.

    The framework (``staged_files_only``) saves ``git diff`` of the unstaged changes to
    ``<its cache>/patch<time>-<its pid>`` and checks out the index, so the work tree equals
    the index while the hook runs; after the hooks it applies the patch again.  The hook
    reads the patch itself (cheaper than a diff of the whole index: ~25 ms at 100k files),
    and rebases it (:func:`rebase`) where it staged a file the patch changes.
    ``GIT_INDEX_FILE`` tells a commit (git sets it for the hook) from ``pre-commit run
    --files``/``--all-files``, which does not stash.
    """
    path = stash_file()
    if not path:
        return None if path is None else b""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def stash_file() -> str | None:
    """The framework's patch file of this commit (see :func:`framework_stash`); ``""``
    when nothing was stashed; None when not under the framework's commit hook."""
    if os.environ.get("PRE_COMMIT") != "1" or "GIT_INDEX_FILE" not in os.environ:
        return None
    home = os.environ.get("PRE_COMMIT_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pre-commit")
    suffix = f"-{os.getppid()}"  # the framework runs the hook as its direct child
    newest: tuple[int, str] | None = None
    try:
        names = os.listdir(home)
    except OSError:
        return None  # not where we expected the framework: fall back to git
    for name in names:
        if name.startswith("patch") and name.endswith(suffix):
            stamp = name[len("patch"):-len(suffix)]
            if stamp.isdigit() and (newest is None or int(stamp) > newest[0]):
                newest = (int(stamp), name)
    import time

    if newest is None or newest[0] < time.time() - STASH_MAX_AGE_S:
        return ""  # nothing was stashed: the work tree equals the index
    return os.path.join(home, newest[1])


def stashed_paths(patch: bytes, paths: list[str]) -> list[str]:
    """Which of ``paths`` (files, or folders: the registry) the stashed patch changes."""
    changed = {
        line[len(b"diff --git a/"):].split(b" b/", 1)[0].decode("utf-8", "surrogateescape")
        for line in patch.splitlines() if line.startswith(b"diff --git a/")
    }
    return sorted(c for c in changed if any(c == p or c.startswith(p + "/") for p in paths))
