"""Custom generators: ``python = "pkg.module:function"`` and ``command = [...]``.

Both get every record (sorted by path) and return the output's body as text:

- ``python``: ``function(records) -> str``, imported with the repository root first on
  ``sys.path`` (so a module kept in the repository works); it gets its own copy of the
  records;
- ``command``: run with ``regauto.proc.run`` (an argument list, never a shell) in the
  repository root, the records as a JSON array on stdin; stdout (UTF-8) is the body.

A custom generator is treated as a pure function of the records: its output is regenerated
when the records change (or its ``python``/``command`` setting does), not when its code
does.  After changing a generator's code, delete its output and run ``regauto generate``.

Any failure is a :class:`GeneratorError` (exit 2) naming the generator, in one line.
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from regauto import proc
from regauto.config import Generator
from regauto.errors import CalledProcessError, UsageError
from regauto.registry.records import Record

RECORDS_KEY = "records/1"  # the projection of a custom generator: the whole records


class GeneratorError(UsageError):
    """A generator failed or produced something unusable; the message names it."""


def spec_of(gen: Generator) -> str:
    """What the output depends on besides the records: part of its input hash."""
    if gen.builtin is not None:
        from regauto.generators.builtins import BUILTINS

        return BUILTINS[gen.builtin].key
    if gen.python is not None:
        return f"python:{gen.python}"
    return "command:" + json.dumps(list(gen.command or ()))


def describe(gen: Generator) -> str:
    if gen.python is not None:
        return f"python {gen.python}"
    if gen.command is not None:
        return "command " + " ".join(gen.command)
    return f"builtin {gen.builtin}"


def _fail(gen: Generator, what: str) -> GeneratorError:
    text = " ".join(what.split())
    if len(text) > 300:
        text = text[:297] + "..."
    return GeneratorError(f"generator '{gen.name}' ({describe(gen)}) failed: {text}")


def run(gen: Generator, records: Sequence[Record], root: Path) -> str:
    """The body a custom generator renders from ``records``."""
    if gen.python is not None:
        return _run_python(gen, gen.python, records, root)
    assert gen.command is not None
    return _run_command(gen, gen.command, records, root)


def _run_python(gen: Generator, spec: str, records: Sequence[Record], root: Path) -> str:
    module_name, _, func_name = spec.partition(":")
    added = str(root) not in sys.path
    if added:
        sys.path.insert(0, str(root))
    try:
        try:
            module = importlib.import_module(module_name)
            func = getattr(module, func_name)
        except (Exception, SystemExit) as e:  # an import runs the module's own code
            raise _fail(gen, f"cannot load {spec}: {type(e).__name__}: {e}") from None
        try:
            body = func(copy.deepcopy(list(records)))
        except (Exception, SystemExit) as e:  # the user's code: report it, not a crash
            raise _fail(gen, f"{type(e).__name__}: {e}") from None
    finally:
        if added:
            try:
                sys.path.remove(str(root))
            except ValueError:
                pass
    if not isinstance(body, str):
        raise _fail(gen, f"returned {type(body).__name__}, expected str")
    return body


def _run_command(
    gen: Generator, cmd: Sequence[str], records: Sequence[Record], root: Path
) -> str:
    data = json.dumps(list(records), ensure_ascii=False).encode("utf-8")
    try:
        _, out, _ = proc.run(cmd, cwd=root, input=data)
    except CalledProcessError as e:
        err = e.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = err[-1] if err else "(no output on stderr)"
        raise _fail(gen, f"exited {e.returncode}: {detail}") from None
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(gen, "its output is not UTF-8") from None
