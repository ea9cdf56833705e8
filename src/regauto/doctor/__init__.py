"""``regauto doctor``: is this clone set up right, and what to run if it is not.

Each check gives lines of ``ok`` / ``warn`` / ``fail``; every line that is not ok carries
the command that fixes it (or, where no command can, what to do), so the user can copy it.
A ``fail`` is something that breaks regauto's promise in this clone (a hook that cannot
start, a merge driver git cannot run, a configuration that does not parse); a ``warn`` is
something to look at (work left in the queue, a lock held by a process right now).

The checks only read: the configuration, git's config and hooks, the state dir.  The
probes that start a process (``git --version``, ``<python> -c "import regauto"``) are the
only costs, so the whole run takes a few tens of milliseconds.  The checks live in
``setup_checks`` (what ``regauto init`` wires up) and ``state_checks`` (what running regauto
leaves behind).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

OK = "ok"
WARN = "warn"
FAIL = "fail"


@dataclass(frozen=True)
class Line:
    check: str
    status: str
    message: str
    fix: str | None = None

    def text(self) -> str:
        line = f"{self.status:<4}  {self.check}: {self.message}"
        return line + (f"\n      fix: {self.fix}" if self.fix else "")


@dataclass
class Report:
    lines: list[Line] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(line.status == FAIL for line in self.lines)

    def as_json(self) -> dict[str, object]:
        return {"ok": not self.failed, "checks": [asdict(line) for line in self.lines]}


def run(root: Path | None = None, config: Path | None = None, *,
        many_files: int = 50_000) -> Report:
    """Every check, in the order a user would fix things; ``many_files``: the index size
    from which git's ``core.splitIndex``/``core.untrackedCache`` are recommended."""
    from regauto.doctor import setup_checks, state_checks

    report = Report()
    report.lines.append(setup_checks.git_version())
    project, line = setup_checks.configuration(root, config)
    report.lines.append(line)
    if project is None:
        return report
    report.lines += setup_checks.registry(project)
    if project.git_dir is not None:
        report.lines += setup_checks.hooks(project)
        report.lines.append(setup_checks.merge_driver(project))
        report.lines += setup_checks.big_repository(project, many_files)
    report.lines.append(state_checks.python_version(project.state_dir))
    report.lines.append(state_checks.leftovers(project))
    db = state_checks.state_database(project.state_dir)
    report.lines.append(db)
    if db.status == OK:  # the queue's check would open a corrupt database, and heal it
        report.lines += state_checks.queue(project.state_dir)
    report.lines += state_checks.locks(project.state_dir)
    report.lines.append(state_checks.daemon(project.state_dir))
    return report
