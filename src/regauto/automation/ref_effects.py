"""Rewrite the references to files regauto renamed (issue 13): the effect, not the parsing.

:func:`plan` scans the files that may refer (Markdown, reST, ``mkdocs.yml``) and says what
would change; :func:`apply` writes it.  A file is replaced only if its bytes are still those
that were scanned (re-checked just before the replace, the temp file synced), through
``safe_replace``, the helper header writes use.

Never rewritten: excluded files, and files a rule pins to ``registry`` mode other than the
catch-all ``**/*`` (vendored, generated and fixture code is never modified, not even to
repair a link).
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from regauto import git, safe_replace, toolchains
from regauto.automation import references
from regauto.automation.tree import list_documents
from regauto.config import Config
from regauto.project import Project

# Where references live (git pathspecs; ``*.md`` matches at any depth).
PATHSPECS = [":(icase)*.md", ":(icase)*.markdown", ":(icase)*.rst", "mkdocs.yml",
             "mkdocs.yaml"]


@dataclass(frozen=True)
class Rewrite:
    """One reference re-pointed: in ``path`` on ``line``, ``old`` became ``new`` because
    ``target`` moved to ``new_target``."""

    path: str
    line: int
    old: str
    new: str
    target: str
    new_target: str

    def describe(self) -> str:
        return f"rewrote {self.path}:{self.line}: {self.old} -> {self.new}"


@dataclass
class FilePlan:
    path: str
    before: bytes
    after: bytes
    rewrites: list[Rewrite]


def may_rewrite(config: Config, path: str) -> bool:
    if not config.is_included(path) or not references.can_refer(path):
        return False
    rule = config.rule_for(path)
    return not (rule.id_mode == "registry" and rule.match.strip("/") != "**/*")


def srcdirs(root: Path) -> list[str]:
    """The Sphinx source folders, deepest first (for ``/absolute`` document names)."""
    dirs = [tc.source_dir for tc in toolchains.detect(root) if tc.kind == "sphinx"]
    return sorted(dirs, key=len, reverse=True)


def srcdir_of(path: str, dirs: list[str]) -> str:
    for d in dirs:
        if not d or path.startswith(d + "/"):
            return d
    return ""


def plan_file(path: str, data: bytes, moved: Mapping[str, str], srcdir: str = "") -> FilePlan:
    refs = references.scan(path, data, srcdir)
    after, done = references.rewrite(data, refs, moved)
    rewrites = [Rewrite(path, r.line, r.written, new, r.target, references.target_of(r, moved)
                        or "") for r, new in done]
    return FilePlan(path, data, after, rewrites)


def names_of(moved: Iterable[str]) -> list[str]:
    """What any reference to these paths contains: the file name without its suffix (a
    Sphinx document name drops it), and its percent-encoded form where that differs."""
    out: dict[str, None] = {}
    for old in moved:
        stem = posixpath.splitext(posixpath.basename(old))[0]
        out[stem] = None
        out[quote(stem)] = None
    return list(out)


def candidates(project: Project, moved: Iterable[str], *, untracked: bool = True,
               staged: Mapping[str, bool] | None = None) -> list[str]:
    """The documents that may refer to ``moved``: those mentioning one of their names, else
    every document that can hold references.  ``untracked=False`` (the hook): what the
    commit will hold, from the reference index (``ref_index``; ``staged``: the staged
    changes, if the caller has them); otherwise, and when the index cannot tell, the work
    tree's files through ``git grep``."""
    words = names_of(moved)
    if project.is_git and words and not untracked:
        from regauto.automation import ref_index

        indexed = ref_index.mentioning(project.root, project.state_dir, words, staged)
        if indexed is not None:
            return indexed
    if project.is_git and words:
        found = git.files_mentioning(project.root, words, PATHSPECS, untracked=untracked)
        if found is not None:
            return found
    docs = list_documents(project.root, project.config, project.is_git)
    return [p for p in docs if references.can_refer(p)]


def plan(root: Path, config: Config, candidates: Iterable[str], moved: Mapping[str, str],
         read: Callable[[str], bytes | None] | None = None) -> list[FilePlan]:
    """The rewrites ``moved`` (old path -> new path) calls for in ``candidates``.  A file
    that was itself moved is read at its new path (its references are relative to it)."""
    if not moved:
        return []
    dirs = srcdirs(root)
    out = []
    renamed = dict(moved)
    words = [w.encode("utf-8", "surrogateescape") for w in names_of(moved)]
    for path in sorted(set(candidates)):
        if not may_rewrite(config, path):
            continue
        data = read(path) if read is not None else _read(root / path)
        if data is None or not any(w in data for w in words):
            continue
        fp = plan_file(path, data, renamed, srcdir_of(path, dirs))
        if fp.rewrites:
            out.append(fp)
    return out


def _read(full: Path) -> bytes | None:
    try:
        if not stat.S_ISREG(os.lstat(full).st_mode):
            return None
        return full.read_bytes()
    except OSError:
        return None


def replace_if_unchanged(full: Path, expected: bytes, new: bytes,
                         before_replace: Callable[[], None] | None = None) -> bool:
    """Replace ``full``'s content by ``new`` (mode kept) if it is still ``expected``, through
    the same durable, re-checked replace a header write uses (``safe_replace``); False, and
    nothing changed, if someone wrote it meanwhile or it is no longer a regular file."""
    try:
        st = os.lstat(full)
        if not stat.S_ISREG(st.st_mode):
            return False
        safe_replace.replace_if_unchanged(full, expected, new, stat.S_IMODE(st.st_mode),
                                          full.parent, before_replace or (lambda: None))
    except (safe_replace.ChangedError, safe_replace.NotRegularError, FileNotFoundError):
        return False
    return True


def apply(root: Path, plans: list[FilePlan],
          before_replace: Callable[[str], None] | None = None) -> tuple[list[Rewrite], list[str]]:
    """Write ``plans``; returns the rewrites made and the files left alone (changed
    meanwhile)."""
    done: list[Rewrite] = []
    left: list[str] = []
    for fp in plans:
        hook = (lambda p=fp.path: before_replace(p)) if before_replace is not None else None
        if replace_if_unchanged(root / fp.path, fp.before, fp.after, hook):
            done.extend(fp.rewrites)
        else:
            left.append(fp.path)
    return done, left
