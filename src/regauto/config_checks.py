"""The checks a configuration value must pass beyond its type (SPEC §5, §9, §11).

- **Paths** (``registry``, each generator's ``output``) are repository-relative POSIX paths
  written in one spelling only: no ``.``/``..`` or empty segments, no ``.git`` component at
  any depth, no NUL, no leading or trailing blanks.  ``./reg`` and ``reg`` name one folder, but
  every comparison regauto makes (the built-in excludes, "is this path the registry?") is a
  comparison of strings: a second spelling lets the registry or an output register itself,
  and ``fix`` never converges.  Refusing beats normalising: the file says what it means.
- **Numbers** are finite and inside a range that a working setup can use.  ``nan`` compares
  false with everything, so a ``nan`` timeout waits for ever; a lease of 10**18 s overflows
  the clock arithmetic it feeds.
- **Outputs** may not name the configuration, the registry (or a folder holding it), the
  state dir, each other (the same file, or one inside the other), nor an existing file that
  regauto did not generate (:func:`check_outputs_on_disk`; the decision is in RUNBOOK).

Every refusal is a :class:`ConfigError` naming the file and the key (exit 2).
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from regauto.errors import ConfigError
from regauto.textout import shown

# What a generated output's marker line carries (``generators.marker``): the token, or in
# JSON the top-level key.  A file at an output path with neither was not written by regauto.
GENERATED_TOKEN = "regauto-generated"
JSON_MARKER_KEY = "_regauto"
_SIGNS = (GENERATED_TOKEN.encode(), f'"{JSON_MARKER_KEY}":'.encode())
CONFIG_FILES = ("regauto.toml", "pyproject.toml")
STATE_DIR_OUTSIDE_GIT = ".regauto/state"
DAY_S = 86_400.0
WEEK_S = 7 * DAY_S

# key -> (lowest, highest) for every number in the configuration.
RANGES: dict[str, tuple[float, float]] = {
    "max_file_bytes": (1, 1 << 40),
    "max_patch_bytes": (1, 1 << 40),
    "backups": (1, 10_000),
    "cas_retries": (1, 1_000),
    "lock_timeout_s": (0.001, DAY_S),
    "watch.min_age_ms": (0, DAY_S * 1000),
    "watch.samples": (1, 100),
    "watch.sample_interval_ms": (0, 60_000),
    "watch.suppress_ms": (0, DAY_S * 1000),
    "watch.reconcile_every_s": (0, WEEK_S),
    "watch.debounce_ms": (0, 60_000),
    "queue.max_attempts": (1, 1_000),
    "queue.lease_s": (0.001, WEEK_S),
}


def err(src: str, key: str, msg: str) -> ConfigError:
    # shown(): a TOML key may hold a newline ("a\nb" = 1); the error stays one line.
    return ConfigError(shown(f"{src}: key '{key}': {msg}"))


def number(src: str, key: str, value: float) -> float:
    """``value`` if finite and inside ``RANGES[key]``, else the error naming the range."""
    low, high = RANGES[key]
    if not math.isfinite(value):
        raise err(src, key, f"must be a finite number, not {value}")
    if not low <= value <= high:
        raise err(src, key, f"must be between {_num(low)} and {_num(high)}, not {_num(value)}")
    return value


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def safe_rel(src: str, key: str, value: str, *, folder: bool = False) -> str:
    """``value`` as a repository-relative path in its one spelling, else exit 2.

    ``folder``: one trailing ``/`` is allowed (``registry = "meta/reg/"``) and dropped."""
    p = value[:-1] if folder and value.endswith("/") and len(value) > 1 else value
    why = _path_problem(p)
    if why:
        raise err(src, key, f"{value!r} {why}")
    return p


def _path_problem(p: str) -> str | None:
    if not p:
        return "is empty"
    if "\0" in p or any(ord(c) < 0x20 for c in p):
        return "contains a NUL or control character"
    if p != p.strip():
        return "has leading or trailing blanks"
    if p.startswith("/") or "\\" in p or (len(p) > 1 and p[1] == ":"):
        return "must be a relative path inside the repository, with '/' between folders"
    parts = p.split("/")
    if any(s in ("", ".", "..") for s in parts):
        return "must be written without '.', '..' or empty segments (e.g. 'a/b', not './a//b')"
    if any(s.casefold() == ".git" for s in parts):
        return "is inside a .git folder"
    return None


def check_registry(src: str, registry: str) -> str:
    """The registry folder may not hold, or lie in, the state folder used outside git."""
    if _inside(registry, STATE_DIR_OUTSIDE_GIT) or _inside(STATE_DIR_OUTSIDE_GIT, registry):
        raise err(src, "registry", f"{registry!r} overlaps regauto's state folder "
                                   f"{STATE_DIR_OUTSIDE_GIT!r}")
    return registry


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


def check_outputs(src: str, outputs: Sequence[tuple[str, str]], registry: str) -> None:
    """Static checks of ``(key, output)`` pairs: not the config, the registry, the state
    dir, nor another output (the same file, or one inside the other)."""
    seen: list[tuple[str, str]] = []
    for key, out in outputs:
        if out in CONFIG_FILES:
            raise err(src, key, f"{out!r} is a configuration file; choose another output")
        if _inside(out, registry) or _inside(registry, out):
            raise err(src, key, f"{out!r} overlaps the registry folder {registry!r}")
        if _inside(out, STATE_DIR_OUTSIDE_GIT):
            raise err(src, key, f"{out!r} is inside regauto's state folder")
        for other_key, other in seen:
            if _inside(out, other) or _inside(other, out):
                raise err(src, key, f"{out!r} collides with {other_key} ({other!r}); "
                                    "give each generator its own file")
        seen.append((key, out))


def check_outputs_on_disk(src: str, root: Path, outputs: Sequence[tuple[str, str]]) -> None:
    """An output may not name an existing file regauto did not generate: a document (or
    any file of the user's) would be overwritten by the next ``generate``/``fix``."""
    for key, out in outputs:
        why = _occupied(root / out)
        if why:
            raise err(src, key, f"{out!r} {why}; choose another output, or move that "
                                "file away first")


def _occupied(path: Path) -> str | None:
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        return f"cannot be checked ({e.strerror})"
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if not stat.S_ISREG(st.st_mode):
        return "is an existing folder or special file"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            head = f.read(4096)
    except OSError as e:
        return f"cannot be read ({e.strerror})"
    # The marker is on line 1 (line 2 in JSON); a merge conflict can push it down a little.
    top = b"\n".join(head.splitlines()[:5])
    if not any(sign in top for sign in _SIGNS):
        return "names an existing file that regauto did not generate (a document?)"
    return None
