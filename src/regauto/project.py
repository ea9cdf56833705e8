"""The repository regauto works on: its root, git dir, state dir and configuration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from regauto import config as config_mod
from regauto import git, pathguard
from regauto.errors import BadInputError, UsageError
from regauto.textout import shown

STATE_REL = ".regauto/state"  # the state dir outside git


class Project(NamedTuple):
    root: Path
    git_dir: Path | None
    state_dir: Path
    config: config_mod.Config

    @property
    def registry_dir(self) -> Path:
        return self.root / self.config.registry

    @property
    def is_git(self) -> bool:
        return self.git_dir is not None

    @property
    def initialised(self) -> bool:
        """``regauto init`` (or the user) has set this repository up: a ``regauto.toml``, a
        ``[tool.regauto]`` section or a registry folder exists.  Without one, every command but
        ``init`` refuses (issue 13): defaults alone must never rename or head files."""
        # "meta.json" is registry.records.META_NAME (a lower layer cannot import it).
        return self.config.source != "defaults" or (self.registry_dir / "meta.json").is_file()

    @classmethod
    def open(
        cls,
        root: Path | None = None,
        config_path: Path | None = None,
        *,
        found: git.RepoPaths | None = None,
    ) -> Project:
        """Find the repository containing ``root`` (default: the current directory).

        Outside git the given directory itself is the root and the state lives in
        ``.regauto/state/`` (SPEC §2).  ``found``: what :func:`git.discover` said already
        (the hooks ask once; a ``git rev-parse`` is a few ms of every commit).
        """
        start = (root or Path.cwd()).resolve()
        if not start.is_dir():
            raise UsageError(f"{start}: not a directory")
        if found is None:
            found = git.discover(start)
        if found is not None:
            top, git_dir = found.root.resolve(), found.git_dir.resolve()
            state = git_dir / "regauto"
        else:
            top, git_dir = start, None
            state = start / STATE_REL
        if config_path is not None and not config_path.is_absolute():
            config_path = Path.cwd() / config_path
        # Parsed TOML is cached in the state dir only inside .git (outside git the state dir
        # is checked below: never written through a symlink).
        cache = state if git_dir is not None else None
        cfg = config_mod.load(top, config_path, cache)
        _refuse_unconfigured_top(top, cfg)
        # Never written through a symlink: the registry folder (and outside git the state
        # dir) must be real folders of the repository, or absent.
        pathguard.check_folder(top, cfg.registry, "the registry path")
        if git_dir is None:
            pathguard.check_folder(top, STATE_REL, "the state path")
        if any(r.id_mode == "prefix" for r in cfg.rules):
            # Only prefix mode renames files, so only it needs the names the toolchains
            # hold on to; the commit hook of a repository without prefix rules skips
            # reading their configurations (and importing their parsers).
            from regauto import toolchains

            cfg = cfg._replace(never_rename=toolchains.named_files(top, cache))
        return cls(top, git_dir, state, cfg)

    def guard(self) -> pathguard.PathGuard:
        """A path guard for this repository (one per run: it caches folder checks) that
        keeps the registry folder and the state dir out of reach."""
        reserved = [self.config.registry]
        if self.state_dir.is_relative_to(self.root):
            reserved.append(self.state_dir.relative_to(self.root).as_posix())
        return pathguard.PathGuard(self.root, reserved)

    def rel(self, path: str | os.PathLike[str]) -> str:
        """``path`` (absolute, or relative to the current directory) as a checked repo path."""
        p = Path(path)
        absolute = p if p.is_absolute() else Path.cwd() / p
        absolute = Path(os.path.normpath(absolute))
        try:
            rel = absolute.relative_to(self.root).as_posix()
        except ValueError:
            raise BadInputError(f"{path}: outside the repository {self.root}") from None
        return check_rel(rel, what=str(path))


def _refuse_unconfigured_top(top: Path, cfg: config_mod.Config) -> None:
    """``/`` or the home folder is a regauto repository only with a config of its own:
    anything else would walk the whole file system and leave a state dir there."""
    if cfg.source != "defaults" or not (top == Path(top.anchor) or top == _home()):
        return
    raise UsageError(f"{top}: not a regauto repository (no regauto.toml); regauto does "
                     "not scan the whole file system or home folder")


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError):
        return None


def check_rel(rel: str, *, what: str = "path") -> str:
    """Validate a repository-relative POSIX path (SPEC §11): inside, and outside ``.git``."""
    if not isinstance(rel, str) or not rel or rel in (".", "/"):
        raise BadInputError(f"{what}: empty path")
    if "\0" in rel or ("\\" in rel and os.sep == "/" and rel.startswith("\\")):
        raise BadInputError(f"{what}: invalid character in path")
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        # git hands such names over as bytes; the registry is UTF-8 JSON and cannot hold them.
        raise BadInputError(
            f"{what}: file name '{shown(rel)}' is not valid UTF-8; rename it to register it"
        ) from None
    if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
        raise BadInputError(f"{what}: absolute path {rel!r}; paths must be relative")
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise BadInputError(f"{what}: path {rel!r} is not normalised or leaves the repository")
    if parts[0] == ".git":
        raise BadInputError(f"{what}: path {rel!r} is inside .git")
    return rel


# What ``check_rel`` refuses, as it appears in paths framed by NULs (``_framed``): an empty
# path or part, a "." or ".." part, a leading "/" or "\\", a first part ".git".
_REFUSED_IN_FRAME = ("\0\0", "\0/", "/\0", "//", "\0./", "/./", "/.\0", "\0.\0", "\0../",
                     "/../", "/..\0", "\0..\0", "\0.git/", "\0.git\0", "\0\\")


def rels_ok(rels: list[str]) -> bool:
    """True when ``check_rel`` accepts every path of ``rels``, checked in a few scans of
    one string rather than path by path (a cold check validates 100k).  False may also
    mean "ask ``check_rel`` about each": it refuses a leading backslash even off Windows."""
    if not rels:
        return True
    framed = "\0" + "\0".join(rels) + "\0"
    if framed.count("\0") != len(rels) + 1:
        return False  # a NUL inside a path
    try:
        framed.encode("utf-8")
    except UnicodeEncodeError:
        return False
    if any(bad in framed for bad in _REFUSED_IN_FRAME):
        return False
    # A second character ":" (an absolute Windows path, "C:..."), path by path.
    return all(len(r) < 2 or r[1] != ":" for r in rels)
