"""``regauto init``: starter config and empty registry — idempotent.  The merge driver and
the hooks are ``regauto.gitint.init_git``'s (the installer sits above this layer)."""

from __future__ import annotations

from importlib import resources

from regauto.automation import adoption
from regauto.automation.tree import list_documents
from regauto.errors import UsageError
from regauto.project import Project
from regauto.registry.records import META_NAME, META_TEXT


def starter_config() -> str:
    return resources.files("regauto").joinpath("resources/regauto.toml").read_text("utf-8")


def init(project: Project, hooks: str = "none") -> list[str]:
    """Set up ``project``; returns what was done, one line each (nothing on a re-run).
    ``hooks`` is only checked here: a project outside git cannot have any."""
    done: list[str] = []
    root = project.root
    cfg = root / "regauto.toml"
    has_pyproject_section = (root / "pyproject.toml").is_file() and "[tool.regauto]" in (
        root / "pyproject.toml"
    ).read_text(encoding="utf-8", errors="replace")
    if not cfg.exists() and not has_pyproject_section:
        found = adoption.survey(root, list_documents(root, project.config, project.is_git))
        cfg.write_text(adoption.config_text(starter_config(), found), encoding="utf-8")
        done.extend(adoption.describe(found))
        done.append("wrote regauto.toml (rules from what was found, each with its reason)")
    reg = project.registry_dir
    if not (reg / META_NAME).exists():
        reg.mkdir(parents=True, exist_ok=True)
        (reg / META_NAME).write_text(META_TEXT, encoding="utf-8")
        done.append(f"created the empty registry in {reg.relative_to(root)}/")
    if not project.is_git and hooks != "none":
        raise UsageError(f"{root}: not a git repository; --hooks {hooks} needs git")
    if not project.is_git:
        gi = root / ".regauto" / ".gitignore"
        if not gi.exists():
            gi.parent.mkdir(parents=True, exist_ok=True)
            gi.write_text("state/\n")
    return done


