"""GeneratorOrchestrator: renders the generated outputs from the registry (SPEC §9).

``check`` is the write path without the write (STYLE habit 7): both decide, per output, from
the same state — the output's marker (``marker``) against the input hash the registry gives
now (``inputs``) — so ``check`` is clean exactly when ``generate`` would change nothing.

Decisions:

- **What the marker holds.**  The input hash of the *projected* data (the fields the output
  shows, see ``inputs``) and the checksum of the body — no registry_hash.  An output is a pure
  function of what it shows: a registry change that does not touch it leaves the file
  byte-for-byte alone (no marker-only rewrites, no churn in commits, no merge conflicts on
  a marker line), and two repositories with equal registries have identical outputs.  The
  cheap "registry unchanged" path is the state dir's per-shard cache instead: an unchanged
  registry is checked without reading a shard.
- **One drift per output.**  Missing → ``stale_output``; no readable marker, or a body that
  no longer matches its checksum → ``edited_output`` (it wins over stale: repairing it
  discards a hand edit, which the user should hear about); else a changed input hash →
  ``stale_output``.
- **Who overwrites a hand edit.**  ``generate`` (and ``fix``) do: that is the repair.  The
  post-write hook does not: it runs behind the user's back (the watcher, a hook), so it only
  regenerates outputs whose inputs changed and which nobody edited; an edited output waits
  for ``check`` to report it.
- **Custom generators are never run by ``check``**: the input hash says whether they would
  be.  ``generate`` and the post-write hook run them only where ``trust`` allows (a clone
  that trusted the current definitions, never a checkout or merge hook); the others are
  skipped, their outputs left stale.  ``generate`` writes every output it could render,
  then fails once, naming the generator(s) that failed.
- **No regressions under concurrency.**  Rendering runs outside any lock (a ``command``
  may itself call ``regauto``); the writes happen under the registry lock and only if the
  registry is still the one rendered from, else it re-reads and re-renders (a bounded
  number of times, then :class:`GeneratorConflict`, exit 3).  So a slow renderer can never
  overwrite a newer output with an older one.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from regauto import durable
from regauto.config import Generator
from regauto.errors import EXIT_CONFLICT, RegautoError, UsageError
from regauto.generators import custom, marker, trust
from regauto.generators.builtins import BUILTINS
from regauto.generators.custom import GeneratorError
from regauto.generators.inputs import InputHasher, Inputs
from regauto.pathguard import NotRegular, read_regular
from regauto.project import Project
from regauto.registry.reader import Snapshot, open_reader
from regauto.registry.records import Record, sort_key

if TYPE_CHECKING:
    from regauto.registry.registry_writer_service import WriteResult

__all__ = [
    "GenerateResult",
    "GeneratorConflict",
    "GeneratorError",
    "GeneratorOrchestrator",
    "OutputDrift",
    "output_paths",
    "write_output",
]

STALE = "stale_output"
EDITED = "edited_output"
FIX = "regauto generate"
ATTEMPTS = 4
UNTRUSTED = "its python/command generator is not trusted in this clone: `regauto trust`"


@dataclass(frozen=True)
class OutputDrift:
    kind: str  # "stale_output" | "edited_output"
    name: str
    path: str
    detail: str


@dataclass(frozen=True)
class GenerateResult:
    name: str
    path: str
    changed: bool
    skipped: bool = False  # a custom generator that may not run here (``trust``)


class GeneratorConflict(RegautoError):
    """The registry kept changing while outputs were rendered (exit 3: try again)."""

    exit_code = EXIT_CONFLICT


def output_paths(project: Project) -> list[str]:
    """The repository-relative paths of the configured outputs, in config order."""
    return project.config.outputs


class GeneratorOrchestrator:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.reader = open_reader(project)
        self.hasher = InputHasher(self.reader)

    # -- the API -------------------------------------------------------------------------
    def check(
        self, snapshot: Snapshot | None = None, names: Sequence[str] | None = None
    ) -> list[OutputDrift]:
        """Read-only: every output that ``generate`` would write, and why."""
        gens = self._select(names)
        if not gens:
            return []
        inputs = self.hasher.compute(gens, snapshot)
        drifts = [d for g in gens if (d := self._drift(g, inputs.hashes[g.name])) is not None]
        p = self.project
        if any(trust.is_custom(g) for g in gens) and drifts and not trust.is_trusted(
                p.config, p.root, p.state_dir):
            custom_names = {g.name for g in gens if trust.is_custom(g)}
            drifts = [dataclasses.replace(d, detail=f"{d.detail} ({UNTRUSTED})")
                      if d.name in custom_names else d for d in drifts]
        return drifts

    def generate(
        self, snapshot: Snapshot | None = None, names: Sequence[str] | None = None
    ) -> list[GenerateResult]:
        """Render and write every selected output that is missing, stale or edited."""
        return self._generate(self._select(names), snapshot, repair_edited=True)

    def post_write_hook(self, result: WriteResult) -> None:
        """After a registry write: regenerate the outputs whose inputs changed (never one
        edited by hand — that is left for ``check`` to report)."""
        if not result.changed or not self.project.config.generators:
            return
        try:
            self._generate(list(self.project.config.generators), None, repair_edited=False)
        except GeneratorConflict:
            pass  # a newer write is under way; its own hook renders the newer registry
        except GeneratorError as e:
            raise GeneratorError(f"{e} (the registry was written; the output is stale)") from None

    # -- deciding ------------------------------------------------------------------------
    def _select(self, names: Sequence[str] | None) -> list[Generator]:
        gens = list(self.project.config.generators)  # outputs distinct: checked at load
        if not names:
            return gens
        by_name = {g.name: g for g in gens}
        for n in names:
            if n not in by_name:
                known = ", ".join(sorted(by_name)) or "none"
                raise UsageError(f"unknown generator {n!r} (configured: {known})")
        return [by_name[n] for n in dict.fromkeys(names)]

    def _drift(self, gen: Generator, input_hash: str) -> OutputDrift | None:
        try:
            data, _ = read_regular(_checked_target(self.project, gen))
        except FileNotFoundError:
            data = None
        except NotRegular:
            return OutputDrift(EDITED, gen.name, gen.output,
                               "not a regular file: replaced by hand")
        except OSError as e:
            raise UsageError(f"{gen.output}: cannot read generated output: {e.strerror}") from None
        return _drift_of(gen, data, input_hash)

    def render_for(self, snapshot: Snapshot, current: dict[str, bytes | None]
                   ) -> dict[str, str]:
        """``{output: new text}`` for the outputs that are stale or missing when the registry
        is ``snapshot`` and the outputs are ``current`` (``{output: bytes or None}``) rather
        than the work tree's — the commit hook renders the index's outputs from the index's
        registry.  An edited output is left alone (the hook refuses a staged hand edit);
        custom generators run only where trusted; a failing one raises."""
        gens = list(self.project.config.generators)
        inputs = self.hasher.compute(gens, snapshot)
        todo = [g for g in gens
                if (d := _drift_of(g, current.get(g.output), inputs.hashes[g.name])) is not None
                and d.kind == STALE]
        blocked = {g.name for g in self._untrusted(todo)}
        texts, errors = self._render([g for g in todo if g.name not in blocked],
                                     snapshot.records, inputs)
        if errors:
            raise GeneratorError(f"{errors[0]} (the registry was staged; the output is stale)")
        return {g.output: text for g, text in texts.values()}

    # -- rendering and writing ---------------------------------------------------------------
    def _generate(
        self, gens: list[Generator], snapshot: Snapshot | None, *, repair_edited: bool
    ) -> list[GenerateResult]:
        moved_to = ""
        for _ in range(ATTEMPTS):
            inputs = self.hasher.compute(gens, snapshot)
            todo = [
                g for g in gens
                if (d := self._drift(g, inputs.hashes[g.name])) is not None
                and (repair_edited or d.kind == STALE)
            ]
            skipped = {g.name for g in self._untrusted(todo)}
            todo = [g for g in todo if g.name not in skipped]
            if not todo:
                return [GenerateResult(g.name, g.output, False, g.name in skipped) for g in gens]
            if snapshot is None or snapshot.hash != inputs.registry_hash:
                snapshot = self.reader.snapshot()
                if snapshot.hash != inputs.registry_hash:
                    continue  # moved between the two reads: decide again from the snapshot
            texts, errors = self._render(todo, snapshot.records, inputs)
            changed = self._write_if_current(texts, inputs.registry_hash)
            if changed is not None:
                if errors:
                    more = (f" (and {len(errors) - 1} more generator(s) failed)"
                            if len(errors) > 1 else "")
                    raise GeneratorError(f"{errors[0]}{more}")
                return [GenerateResult(g.name, g.output, g.name in changed, g.name in skipped)
                        for g in gens]
            moved_to, snapshot = self.reader.current_hash(), None
        raise GeneratorConflict(
            f"the registry kept changing while generated outputs were rendered "
            f"(now {moved_to}); run `{FIX}` again"
        )

    def _untrusted(self, gens: list[Generator]) -> list[Generator]:
        p = self.project
        return trust.blocked(p.config, p.root, p.state_dir, gens)

    def _write_if_current(self, texts: dict[str, tuple[Generator, str]], rendered_from: str
                          ) -> set[str] | None:
        """Under the registry lock: write the outputs if the registry is still the one they
        were rendered from (the names of those that changed), else ``None``."""
        with self.reader.locks.registry(timeout=self.reader.timeout):
            if self.reader.store.registry_hash() != rendered_from:
                return None
            return {name for name, (g, text) in texts.items() if _write(self.project, g, text)}

    def _render(
        self, gens: list[Generator], records: list[Record], inputs: Inputs
    ) -> tuple[dict[str, tuple[Generator, str]], list[GeneratorError]]:
        ordered = sorted(records, key=sort_key)
        texts: dict[str, tuple[Generator, str]] = {}
        errors: list[GeneratorError] = []
        for g in gens:
            try:
                body = _body(g, ordered, self.project)
                texts[g.name] = (g, marker.attach(g.output, body, inputs.hashes[g.name]))
            except GeneratorError as e:
                errors.append(e)
            except UsageError as e:  # a body the output's format cannot carry
                errors.append(GeneratorError(f"generator '{g.name}': {e}"))
        return texts, errors


def _drift_of(gen: Generator, data: bytes | None, input_hash: str) -> OutputDrift | None:
    """An output's drift, judged from its bytes (None: missing)."""
    def drift(kind: str, detail: str) -> OutputDrift:
        return OutputDrift(kind, gen.name, gen.output, detail)

    if data is None:
        return drift(STALE, "missing")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return drift(EDITED, "not UTF-8: changed by hand")
    parsed = marker.parse(gen.output, text)
    if parsed is None:
        return drift(EDITED, "no readable regauto marker: written or changed by hand")
    if parsed.edited:
        return drift(EDITED, "changed by hand since it was generated")
    if parsed.input != input_hash:
        return drift(STALE, "the registry data it shows changed since it was generated")
    return None


def write_output(project: Project, path: str, text: str) -> bool:
    """Write the generated output at ``path`` (a configured one) unless it holds ``text``."""
    gen = next(g for g in project.config.generators if g.output == path)
    return _write(project, gen, text)


def _body(gen: Generator, records: list[Record], project: Project) -> str:
    if gen.builtin is not None:
        b = BUILTINS[gen.builtin]
        return b.render([b.project(r) for r in records])
    return custom.run(gen, records, project.root)


def _write(project: Project, gen: Generator, text: str) -> bool:
    """Write ``text`` to ``gen.output`` atomically (``durable.replace_durably``) unless it
    is there already; the output's folder is created, an existing file keeps its mode."""
    target = _checked_target(project, gen)
    data = text.encode("utf-8", "surrogateescape")
    try:
        if read_regular(target)[0] == data:
            return False
    except OSError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    durable.replace_durably(target, data, keep_mode=True)
    return True


def _checked_target(project: Project, gen: Generator) -> Path:
    """The output's absolute path, refused if it would land in the registry or the state
    dir, pass through a symlinked folder or be a symlink itself (never written through)."""
    where = f"generator '{gen.name}': output {gen.output!r}"
    why = project.guard().problem(gen.output, creating=True)
    if why is not None:
        raise UsageError(f"{where}: {why}; choose another path")
    target = project.root / gen.output
    if os.path.islink(target):
        raise UsageError(f"{where} is a symlink; regauto never writes through one")
    return target
