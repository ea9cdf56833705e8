"""What the hooks import, observed: a commit hook run in-process loads no CLI framework
(typer, rich, click) and no GitPython (the static side: the import-linter contract in
pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import git, make_tree

CODE = """\
import sys
from regauto.__main__ import main
rc = {{}}
for args in {calls!r}:
    rc[args[1]] = main(list(args))
heavy = sorted(m for m in ("typer", "rich", "click", "git") if m in sys.modules)
print(rc, heavy)
"""


def test_the_hooks_import_no_cli_framework_and_no_gitpython(git_repo: Path) -> None:
    # A configured generator and a new document: the hook registers it, writes the registry
    # and regenerates the output — the whole path a commit takes.
    (git_repo / "regauto.toml").write_text(
        '[[generators]]\nname = "index"\noutput = "docs/INDEX.md"\nbuiltin = "markdown-index"\n')
    make_tree(git_repo, {"notes/new.txt": "New.\n"})
    git(git_repo, "add", "-A")
    head = git(git_repo, "rev-parse", "HEAD").strip()
    calls = [("hook", "pre-commit"), ("hook", "post-checkout", head, head, "1"),
             ("hook", "post-merge", "0")]
    p = subprocess.run([sys.executable, "-c", CODE.format(calls=calls)], cwd=git_repo,
                       capture_output=True, text=True, check=False)
    assert p.stdout.strip() == "{'pre-commit': 0, 'post-checkout': 0, 'post-merge': 0} []", (
        p.stdout + p.stderr)
    assert (git_repo / "docs/INDEX.md").is_file()  # the hook did its work
