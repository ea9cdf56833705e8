"""The git side of ``regauto init``: the registry merge driver and the hooks.

``regauto init`` runs :func:`regauto.automation.init.init` (configuration, registry) and
then this; it lives here, not there, because the installer sits above the automation layer.
"""

from __future__ import annotations

from regauto.gitint import install, precommit_config
from regauto.project import Project


def init_git(project: Project, hooks: str = "none") -> list[str]:
    """Wire ``project`` into git (``hooks``: ``none``, ``git`` or ``pre-commit``); returns
    what was done, one line each (nothing on a re-run).  Nothing for a project outside git
    (``init`` refuses hooks there)."""
    if not project.is_git:
        return []
    done: list[str] = []
    root = project.root
    if install.ensure_merge_driver(root, project.config.registry, project.config.outputs):
        done.append("configured the registry merge driver (.gitattributes + git config)")
    assert project.git_dir is not None
    if hooks == "git":
        done.extend(install.install_git_hooks(root, project.git_dir))
    elif hooks == "pre-commit":
        done.append(precommit_config.install_pre_commit_config(root))
    return done
