"""TOML files read on every command, parsed once per content.

Every hook run reads ``regauto.toml`` (or ``pyproject.toml``); importing ``tomllib`` and
parsing costs more than the rest of reading the configuration.  So the parsed table is
kept as JSON in the state dir, keyed by the file's path and a hash of its bytes: a file
whose bytes changed is parsed again, and a table JSON cannot hold exactly (dates, times,
NaN) is never cached.  The cache is only a cache: unreadable, it is a miss; unwritable,
it is skipped.  Errors are those of ``tomllib.loads`` on the file's decoded bytes, as
``tomllib.load`` raises them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from regauto import jsonload

CACHE_NAME = "toml-cache.json"
MAX_FILES = 8  # regauto.toml, pyproject.toml and the odd --config: a handful


def load(path: Path, cache_dir: Path | None = None) -> dict[str, Any]:
    """The table in the TOML file at ``path``; ``cache_dir``: where the cache lives (the
    state dir; None: no cache)."""
    raw = path.read_bytes()
    if cache_dir is None:
        return _parse(raw)
    key, digest = str(path), hashlib.sha256(raw).hexdigest()
    files = _read_cache(cache_dir / CACHE_NAME)
    hit = files.get(key)
    if isinstance(hit, list) and len(hit) == 2 and hit[0] == digest and isinstance(hit[1],
                                                                                  dict):
        return hit[1]
    table = _parse(raw)
    _write_cache(cache_dir, files, key, [digest, table])
    return table


def _parse(raw: bytes) -> dict[str, Any]:
    return _tomllib().loads(raw.decode())


def decode_error() -> type[ValueError]:
    """``tomllib.TOMLDecodeError`` (imported only when a caller must name it)."""
    error: type[ValueError] = _tomllib().TOMLDecodeError
    return error


def _tomllib() -> Any:
    """``tomllib`` (``tomli`` before 3.11), imported on a cache miss only."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    return tomllib


def _read_cache(file: Path) -> dict[str, Any]:
    try:
        data = jsonload.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return files if isinstance(files, dict) else {}


def _write_cache(cache_dir: Path, files: dict[str, Any], key: str, entry: list[Any]) -> None:
    try:
        text = json.dumps(entry, allow_nan=False)
        if json.loads(text) != entry:
            return  # not held exactly (a table whose values JSON cannot represent)
    except (TypeError, ValueError):
        return
    files = {k: v for k, v in files.items() if k != key}
    files[key] = entry
    files = dict(list(files.items())[-MAX_FILES:])
    if not cache_dir.is_dir():
        return  # made by the commands that keep state; a cache never creates it
    tmp = cache_dir / f"{CACHE_NAME}.{os.getpid()}.tmp"
    try:
        tmp.write_text(json.dumps({"files": files}, allow_nan=False), encoding="utf-8")
        os.replace(tmp, cache_dir / CACHE_NAME)
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            tmp.unlink()
