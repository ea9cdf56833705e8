"""Which repository-defined generator code this clone may run (SPEC §9, README "Security").

``python`` and ``command`` generators are code the repository defines: a branch that adds
one to ``regauto.toml`` would otherwise run it on the machine of everyone who checks the
branch out.  So, as direnv and mise do with ``.envrc`` and ``mise.toml``:

- they run only when this clone has **trusted the current definitions**: ``regauto trust``
  records a hash of them in the state dir; a change to any of them (or to a repository file
  a definition names directly: the ``python`` module's file, a script in ``command``) gives
  another hash, which is untrusted until ``regauto trust`` is run again;
- ``REGAUTO_TRUST=1`` in the environment trusts whatever is configured (a CI job that
  chooses to);
- inside :func:`no_repository_code` (the post-checkout and post-merge hooks) they never run,
  trusted or not: a checkout or a merge brings in code nobody has looked at yet;
- built-in generators are regauto's own code and always run.

A generator that may not run is skipped: its output is left as it is, so ``check`` reports
it stale.  One line says so, once per process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from regauto.config import Config, Generator

ENV = "REGAUTO_TRUST"
TRUST_FILE = "trusted-generators"
MAX_REMEMBERED = 64  # hashes kept: switching between a few branches does not re-ask
_HEX64 = re.compile(r"[0-9a-f]{64}")

# Who forbade repository code in this process (innermost last).  Process-wide, not a
# ContextVar: a hook process forbids it for every thread the writer might render from.
_forbidden: list[str] = []
_said: set[str] = set()


def is_custom(gen: Generator) -> bool:
    return gen.python is not None or gen.command is not None


def custom(config: Config) -> list[Generator]:
    return [g for g in config.generators if is_custom(g)]


def definitions_hash(config: Config, root: Path) -> str:
    """The hash ``regauto trust`` records: every custom generator's definition and the
    content of the repository files the definitions name directly."""
    items = []
    for g in sorted(custom(config), key=lambda g: g.name):
        items.append({
            "name": g.name, "output": g.output, "python": g.python,
            "command": list(g.command) if g.command is not None else None,
            "files": {rel: _file_hash(root / rel) for rel in _named_files(g, root)},
        })
    text = json.dumps(items, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _named_files(gen: Generator, root: Path) -> list[str]:
    """Repository files a definition names: ``pkg/mod.py`` or ``pkg/mod/__init__.py`` for
    ``python = "pkg.mod:f"``; each relative ``command`` word that is a file in the tree."""
    if gen.python is not None:
        base = gen.python.partition(":")[0].replace(".", "/")
        words = [f"{base}.py", f"{base}/__init__.py"]
    else:
        words = list(gen.command or ())
    out = []
    for w in words:
        rel = os.path.normpath(w) if w and not os.path.isabs(w) else ""
        if rel and not rel.startswith("..") and _is_file(root / rel):
            out.append(Path(rel).as_posix())
    return out


def _is_file(path: Path) -> bool:
    try:  # a command word may be a long script, or hold a NUL: not a file name then
        return path.is_file()
    except (OSError, ValueError):
        return False


def _file_hash(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as e:  # unreadable now: a different hash from any readable content
        return f"unreadable: {e.strerror}"


def _trust_file(state_dir: Path) -> Path:
    return state_dir / TRUST_FILE


def trusted_hashes(state_dir: Path) -> list[str]:
    try:
        text = _trust_file(state_dir).read_text(encoding="ascii", errors="replace")
    except OSError:
        return []
    return [ln for ln in text.split() if _HEX64.fullmatch(ln)]


def record_trust(config: Config, root: Path, state_dir: Path) -> str:
    """``regauto trust``: remember the current definitions' hash (atomically)."""
    digest = definitions_hash(config, root)
    kept = [h for h in trusted_hashes(state_dir) if h != digest][-(MAX_REMEMBERED - 1):]
    state_dir.mkdir(parents=True, exist_ok=True)
    path = _trust_file(state_dir)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text("".join(f"{h}\n" for h in [*kept, digest]), encoding="ascii")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return digest


def env_trusts() -> bool:
    return os.environ.get(ENV) == "1"


def is_trusted(config: Config, root: Path, state_dir: Path) -> bool:
    """Are the current custom definitions trusted here (environment or ``regauto trust``)?"""
    if not custom(config) or env_trusts():
        return True
    return definitions_hash(config, root) in trusted_hashes(state_dir)


@contextlib.contextmanager
def no_repository_code(where: str) -> Iterator[None]:
    """Within: no custom generator runs, trusted or not (``where`` names who asked)."""
    _forbidden.append(where)
    try:
        yield
    finally:
        _forbidden.pop()


def blocked(config: Config, root: Path, state_dir: Path,
            gens: Sequence[Generator]) -> list[Generator]:
    """Which of ``gens`` may not run now; says why once per process."""
    wanted = [g for g in gens if is_custom(g)]
    if not wanted:
        return []
    where = _forbidden[-1] if _forbidden else None
    if where is None and is_trusted(config, root, state_dir):
        return []
    names = ", ".join(f"'{g.name}'" for g in wanted)
    if where is not None:
        _say(f"{where} runs no repository code: generator(s) {names} not run; their "
             "output is stale until `regauto generate`")
    else:
        _say(f"generator(s) {names} not trusted: run `regauto trust` (or set {ENV}=1) to "
             "let them run; their output is stale meanwhile")
    return wanted


def _say(msg: str) -> None:
    if msg not in _said:
        _said.add(msg)
        sys.stderr.write(f"regauto: {msg}\n")
