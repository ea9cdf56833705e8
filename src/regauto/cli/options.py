"""The options every command accepts, before or after its name, as git and ruff do.

``regauto -q sync --all`` and ``regauto sync --all -q`` mean the same: ``shared`` gives a
command (and the ``regauto``, ``queue`` and ``daemon`` groups) the global options ``-q``,
``-v``, ``--root`` and ``--config``, and folds whatever was given at either place into
``STATE``: ``-q`` anywhere is quiet, ``-v`` counts across both places, a ``--root`` or
``--config`` after the name wins over one before it.  ``--format`` is each reading command's
own option; given before the name (``regauto --format json ls``) it is that command's
default, and a command without one refuses it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer

from regauto.cli.context import STATE
from regauto.errors import UsageError

GLOBAL_PANEL = "Global options (before or after the command)"

ROOT_HELP = "Repository root (default: the repository of the current folder)."
CONFIG_HELP = "Configuration file (default: regauto.toml or pyproject.toml)."
QUIET_HELP = "Print only results and errors."
VERBOSE_HELP = "Print each stage with its time on stderr; -vv also the stages inside them."

_E = TypeVar("_E", bound=Enum)

_SHARED: list[inspect.Parameter] = [
    inspect.Parameter(
        "global_root", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[Optional[Path], typer.Option(  # noqa: UP045 - typer on 3.10
            "--root", help=ROOT_HELP, rich_help_panel=GLOBAL_PANEL, show_default=False)],
    ),
    inspect.Parameter(
        "global_config", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[Optional[Path], typer.Option(  # noqa: UP045
            "--config", help=CONFIG_HELP, rich_help_panel=GLOBAL_PANEL, show_default=False)],
    ),
    inspect.Parameter(
        "global_quiet", inspect.Parameter.KEYWORD_ONLY, default=False,
        annotation=Annotated[bool, typer.Option(
            "-q", "--quiet", help=QUIET_HELP, rich_help_panel=GLOBAL_PANEL, show_default=False)],
    ),
    inspect.Parameter(
        "global_verbose", inspect.Parameter.KEYWORD_ONLY, default=0,
        annotation=Annotated[int, typer.Option(
            "-v", "--verbose", count=True, help=VERBOSE_HELP, rich_help_panel=GLOBAL_PANEL,
            show_default=False)],
    ),
]
_NAMES = tuple(p.name for p in _SHARED)


def _apply(root: Path | None, config: Path | None, quiet: bool, verbose: int) -> None:
    if root is not None:
        STATE.root = root
        STATE.reset_project()
    if config is not None:
        STATE.config = config
        STATE.reset_project()
    STATE.quiet = STATE.quiet or quiet
    STATE.verbose += verbose
    if STATE.verbose:
        from regauto import stages

        stages.enable(STATE.verbose)


def shared(fn: Callable[..., Any], *, leaf: bool = True) -> Callable[..., Any]:
    """``fn`` with the global options added to its parameters (see the module docstring).
    A ``leaf`` (a command, not a group) without a ``format`` parameter refuses ``--format``."""
    sig = inspect.signature(fn, eval_str=True)
    refuses_format = leaf and "format" not in sig.parameters

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _apply(*(kwargs.pop(name) for name in _NAMES))
        if STATE.format is not None and refuses_format:
            raise UsageError(f"--format does not apply to `{fn.__name__.removesuffix('_cmd')}`")
        return fn(*args, **kwargs)

    params = [*sig.parameters.values(), *_SHARED]
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def prose(doc: str | None) -> str:
    """A docstring as help text: paragraphs of sentences that the terminal wraps, not the
    source's line breaks (typer's rich help keeps those in the command list)."""
    paragraphs = inspect.cleandoc(doc or "").split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def command(app: typer.Typer, name: str, fn: Callable[..., Any], panel: str | None = None,
            **kwargs: Any) -> None:
    """Register ``fn`` as ``name`` with the global options, under ``panel`` in ``--help``."""
    app.command(name, rich_help_panel=panel, help=prose(fn.__doc__), **kwargs)(shared(fn))


def group(sub: typer.Typer) -> None:
    """Let a command group (``queue``, ``daemon``) take the global options after its name."""

    def _group() -> None:
        """(the group's own options)"""

    sub.callback()(shared(_group, leaf=False))


def chosen(value: _E | None, kind: type[_E]) -> _E:
    """The format a command prints in: its own ``--format``, else the one given before the
    command's name, else text; a format this command does not know is a usage error."""
    if value is not None:
        return value
    wanted = STATE.format or "text"
    try:
        return kind(wanted)
    except ValueError:
        known = ", ".join(m.value for m in kind)
        raise UsageError(f"--format {wanted}: this command prints {known}") from None


def flags_without_types(cmd: Any, parent: Any = None) -> None:
    """Show ``-q``, ``--all``, ``-v``, ``-h`` as flags: no ``<bool>``/``<int>`` after them
    in ``--help`` (typer's rich help prints a flag's type when it has no metavar), and a
    list argument as ``PATH...`` without ``<list[str]>``.  The help
    option is made per command on first use, and cached: made here, with the context the
    command will run in, so that it is the one patched."""
    ctx = cmd.context_class(cmd, parent=parent, **cmd.context_settings)
    for param in [*cmd.params, cmd.get_help_option(ctx)]:
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
        elif getattr(param, "nargs", 1) == -1 and param.param_type_name == "argument":
            # "PATH..." says it: not typer's "<list[str]>" beside it.
            param.display_type_rich = lambda ctx: None
    for sub in getattr(cmd, "commands", {}).values():
        flags_without_types(sub, ctx)
