"""What every command shares: global options, the project, and the consoles."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from regauto.errors import UsageError
from regauto.project import Project

if TYPE_CHECKING:
    from rich.console import Console


@dataclass
class State:
    root: Path | None = None
    config: Path | None = None
    quiet: bool = False
    verbose: int = 0
    format: str | None = None  # ``--format`` given before the command's name
    _project: Project | None = field(default=None, repr=False)

    def reset(self) -> None:
        """Forget the options of a previous run (``main`` may run more than once)."""
        self.__init__()  # type: ignore[misc]

    def reset_project(self) -> None:
        self._project = None

    def project(self, *, initialised: bool = True) -> Project:
        """The project; unless ``initialised`` is False (``init`` itself), a repository
        regauto was never set up in is refused before anything is read or created."""
        if self._project is None:
            from regauto.crashlog import set_state_dir

            self._project = Project.open(self.root, self.config)
            set_state_dir(self._project.state_dir)
        if initialised and not self._project.initialised:
            raise UsageError(not_initialised(self._project.root))
        return self._project


STATE = State()


def not_initialised(root: Path) -> str:
    return (f"{root}: regauto is not set up here (no regauto.toml, no [tool.regauto] in "
            "pyproject.toml, no registry); run `regauto init` first")


def out() -> Console:
    """The console for results (stdout).  rich honours NO_COLOR and non-terminals itself."""
    from rich.console import Console

    # markup=False: what is printed is data (file names, messages quoting them), and a file
    # named "[bold]a.md" must not lose its brackets.  Styled cells use rich.text.Text.
    return Console(highlight=False, soft_wrap=True, markup=False)


def err() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def say(msg: str) -> None:
    """A progress/info line on stderr, silenced by ``-q``."""
    if not STATE.quiet:
        err().print(msg)


def color_disabled() -> bool:
    return "NO_COLOR" in os.environ
