"""The stored registry: a folder of ``meta.json`` and up to 256 JSON Lines shards (SPEC §3).

Reading only: the single writer (``registry_writer_service``) is the only code that changes
these files.  The ``registry_hash`` is the sha256 of the manifest ``<name> <sha256>\\n`` over
the folder's files; per-file hashes are cached in the state dir keyed by (size, mtime_ns,
ctime_ns, inode), so computing the hash of a 100k-document registry costs 256 ``stat`` calls,
not a 40 MB read.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regauto import jsonload
from regauto.errors import RegistryFormatError
from regauto.pathguard import read_owned, regular_or_absent
from regauto.registry.records import META_NAME, META_TEXT, SHARD_RE, Record
from regauto.registry.shard_lines import ShardLines, key_of, parse_line

HASH_CACHE = "hash-cache.json"
# (state dir, registry dir) -> the hash cache as this process last read or wrote it.
_MEM_CACHE: dict[tuple[str, str], dict[str, list[Any]]] = {}
TMP_MARK = ".regauto-tmp"


@dataclass
class Shard:
    """One parsed shard.  ``lines`` keeps each record's original text so that a record this
    write does not touch (even an invalid one) is written back exactly as it was."""

    name: str
    records: list[Record] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    text: str = ""


def is_registry_file(name: str) -> bool:
    return name == META_NAME or SHARD_RE.fullmatch(name) is not None


class RegistryStore:
    def __init__(self, reg_dir: Path, state_dir: Path) -> None:
        self.dir = reg_dir
        self.state_dir = state_dir

    # -- listing and hashing ---------------------------------------------------------------
    def files(self) -> list[str]:
        """Registry file names present, in name order (``meta.json`` and shards)."""
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if is_registry_file(n))

    def shard_names(self) -> list[str]:
        return [n for n in self.files() if n != META_NAME]

    def temp_files(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.dir) if TMP_MARK in n)
        except FileNotFoundError:
            return []

    def manifest(self) -> dict[str, str]:
        """``{file name: hex sha256}``; a missing ``meta.json`` counts as the canonical one
        (a folder that does not exist yet is the empty registry)."""
        cache = self._load_cache()
        out: dict[str, str] = {}
        dirty = False
        for name in self.files():
            p = self.dir / name
            st = regular_or_absent(p, "registry file")
            if st is None:
                continue
            key = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
            hit = cache.get(name)
            if hit is not None and hit[:4] == key:
                out[name] = hit[4]
                continue
            digest = hashlib.sha256(read_owned(p, "registry file") or b"").hexdigest()
            cache[name] = [*key, digest]
            out[name] = digest
            dirty = True
        if META_NAME not in out:
            out[META_NAME] = hashlib.sha256(META_TEXT.encode()).hexdigest()
        stale = [n for n in cache if n not in out]
        for n in stale:
            del cache[n]
        if dirty or stale:
            self._save_cache(cache)
        return dict(sorted(out.items()))

    def registry_hash(self, manifest: dict[str, str] | None = None) -> str:
        return hash_of_manifest(self.manifest() if manifest is None else manifest)

    def _load_cache(self) -> dict[str, list[Any]]:
        # Every entry is checked against a fresh stat before use, so the copy this process
        # read (or wrote) last is as good as the file: read the file once per process, not
        # on each of the several hashes a hook run computes.
        key = (str(self.state_dir), str(self.dir))
        mem = _MEM_CACHE.get(key)
        if mem is not None:
            return dict(mem)
        files: dict[str, list[Any]] = {}
        try:
            data = jsonload.loads((self.state_dir / HASH_CACHE).read_text())
            if isinstance(data, dict) and data.get("dir") == str(self.dir):
                stored = data.get("files")
                files = stored if isinstance(stored, dict) else {}
        except (OSError, ValueError):
            pass
        _MEM_CACHE[key] = dict(files)
        return files

    def _save_cache(self, cache: dict[str, list[Any]]) -> None:
        # A cache: written atomically but not fsynced; losing it only costs a re-hash.
        _MEM_CACHE[(str(self.state_dir), str(self.dir))] = dict(cache)
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.state_dir / f"{HASH_CACHE}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps({"dir": str(self.dir), "files": cache}))
            os.replace(tmp, self.state_dir / HASH_CACHE)
        except OSError:
            pass

    # -- reading ---------------------------------------------------------------------------
    def read_text(self, name: str) -> str | None:
        data = read_owned(self.dir / name, "registry file")  # never through a symlink
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            raise RegistryFormatError(
                f"{self.display(name)}:{line}: not valid UTF-8"
            ) from None

    def display(self, name: str) -> str:
        return str(self.dir / name)

    def read_shard(self, name: str) -> Shard:
        """Parse one shard.  A line that is not a JSON object is a format error naming the
        file and line; a JSON object that is not a valid record is kept (the reconciler
        reports it as ``invalid_record``)."""
        text = self.read_text(name)
        shard = Shard(name)
        if text is None:
            return shard
        shard.text = text
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        try:
            # One json.loads over the whole shard is several times faster than one per line.
            parsed = json.loads("[" + ",".join(lines) + "]") if lines else []
            # Malformed lines can re-join into the right number of values (``{}, {}`` then
            # ``[1`` / ``2]``); any non-object sends us to the line-by-line parse, which
            # blames the right line.
            if len(parsed) != len(lines) or not all(isinstance(r, dict) for r in parsed):
                raise ValueError("line count")
        except (ValueError, RecursionError):  # the line-by-line parse names the line
            display = self.display(name)
            parsed = [parse_line(display, i + 1, ln) for i, ln in enumerate(lines)]
        shard.records = parsed
        shard.lines = lines
        return shard

    def read_shard_lines(self, name: str, verified: bool, ordered: bool = False) -> ShardLines:
        """The shard ``name`` for the writer.  ``verified``: this exact content was parsed
        whole before (the id index holds its hash), so lines are parsed on demand, and
        ``ordered`` (the index says so too) lets the writer edit it by binary search;
        otherwise every line is parsed now (a malformed one is an error naming file and
        line, as in :meth:`read_shard`)."""
        display = self.display(name)
        if not verified:
            shard = self.read_shard(name)
            return ShardLines(name, shard.text, display, parsed=dict(enumerate(shard.records)),
                              _lines=shard.lines, _keys=[key_of(r) for r in shard.records])
        text = self.read_text(name) or ""
        return ShardLines(name, text, display, ordered=ordered and text.endswith("\n"))

    def read_meta_problem(self) -> str | None:
        """None when ``meta.json`` is absent or canonical, else what is wrong with it."""
        text = self.read_text(META_NAME)
        if text is None or text == META_TEXT:
            return None
        try:
            data = jsonload.loads(text)
        except ValueError:
            return f"{self.display(META_NAME)}: malformed JSON"
        if data != json.loads(META_TEXT):
            return f"{self.display(META_NAME)}: unsupported registry ({text.strip()[:80]})"
        return f"{self.display(META_NAME)}: not in canonical form"

    def load_all(self) -> list[Record]:
        """Every record of every shard (duplicates and invalid records included)."""
        out: list[Record] = []
        with gc_paused():
            for name in self.shard_names():
                out.extend(self.read_shard(name).records)
        return out


FREEZE_AFTER = 200_000  # new container objects; a full load of 100k records makes ~700k


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector while loading many records.

    JSON makes no reference cycles, but every few hundred new dicts trigger a collection
    that walks all the live ones: loading 100k records took 2.3 s with it, 0.7 s without.
    And the first collection after re-enabling it would still walk them all once (0.6 s):
    after a large load the survivors are moved to the permanent generation
    (``gc.freeze``), which cyclic collections skip — plain reference counting still frees
    them.  Process-wide; nesting and threads are safe (only the outermost pauser
    re-enables)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_count()[0] > FREEZE_AFTER:
                gc.freeze()
            gc.enable()


def hash_of_manifest(manifest: dict[str, str]) -> str:
    text = "".join(f"{name} {digest}\n" for name, digest in sorted(manifest.items()))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
