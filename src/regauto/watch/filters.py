"""Watcher filters (SPEC §8.5): which file events are worth a look.

Each filter is a small callable ``(change, path) -> bool`` that watchfiles calls for every
raw event (``True``: keep it), so they compose by chaining.  They run before anything
touches the queue, so they must be cheap: no stat, no registry read — names only.

What is dropped here never reaches the work queue:

- editor and tool temp files (vim's swap files and its ``4913`` write test, Emacs
  ``#name#``/``.#name`` lock files and ``name~`` backups, JetBrains safe-write files,
  ``*.tmp``, LibreOffice locks) and regauto's own temp files (``.name.regauto-*``);
- ``.git`` at any depth, the state dir, the registry folder, generated outputs and the
  config's ``exclude`` patterns — the registry and the outputs are regauto's own writes,
  so watching them would loop (SPEC §9).

Whether an *included* file is a document is decided later (``Config.is_included``, in the
pipeline), because a directory event must get through to be walked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence

from watchfiles import Change

from regauto.globmatch import matches_any
from regauto.project import Project

TEMP_NAME_PATTERNS: tuple[str, ...] = (
    r"\.sw[a-p]$",  # vim swap files: .name.swp, .swo, …
    r"^4913$",  # vim's "can I write here?" probe
    r"~$",  # backups: name~ (vim, Emacs, gedit)
    r"^\.#",  # Emacs lock links
    r"^#.*#$",  # Emacs auto-save
    r"\.tmp$",
    r"\.___jb_(?:tmp|old|bak)___$",  # JetBrains safe write
    r"^\.~lock\..*#$",  # LibreOffice
    r"^\.goutputstream-",  # GTK save-by-rename
    r"\.crdownload$",
    r"^\.DS_Store$",
    r"^\..*\.regauto-",  # regauto's own temp files (header writes, renames)
    r"\.regauto-tmp",
)


class TempFileFilter:
    """Drop events for editor/tool temp files, judged by the file name alone."""

    def __init__(self, patterns: Sequence[str] = TEMP_NAME_PATTERNS) -> None:
        self._regex = re.compile("|".join(f"(?:{p})" for p in patterns))

    def __call__(self, change: Change, path: str) -> bool:
        return self._regex.search(os.path.basename(path)) is None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ProjectFilter:
    """Drop events outside the repository, in ``.git``, the state dir, the registry, the
    generated outputs and the config's excludes."""

    def __init__(self, project: Project) -> None:
        self.root = str(project.root)
        self._prefix = self.root.rstrip(os.sep) + os.sep
        self._ignored_dirs = tuple(
            str(d).rstrip(os.sep) for d in (project.state_dir, project.registry_dir)
        )
        config = project.config
        self._excludes = (*config.builtin_excludes(), *config.exclude)
        # "d/**" does not match "d" itself: the event for an excluded folder (created,
        # moved in, removed) is dropped by testing a name inside it against these.
        self._folder_excludes = tuple(p for p in self._excludes if p.endswith("/**"))

    def rel(self, path: str) -> str | None:
        """The repository-relative POSIX path of an absolute event path, or None."""
        if not path.startswith(self._prefix):
            return None
        return path[len(self._prefix):].replace(os.sep, "/")

    def __call__(self, change: Change, path: str) -> bool:
        if any(path == d or path.startswith(d + os.sep) for d in self._ignored_dirs):
            return False
        rel = self.rel(path)
        if rel is None or not rel or ".git" in rel.split("/"):
            return False
        return not (
            matches_any(self._excludes, rel) or matches_any(self._folder_excludes, rel + "/x")
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={self.root!r})"


class AllOf:
    """Keep an event only when every filter keeps it."""

    def __init__(self, filters: Iterable[TempFileFilter | ProjectFilter]) -> None:
        self.filters = tuple(filters)

    def __call__(self, change: Change, path: str) -> bool:
        return all(f(change, path) for f in self.filters)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.filters))})"

