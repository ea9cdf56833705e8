"""``regauto demo``: a throwaway repository walked through the whole flow.

Every step runs the real command a user would type (``git …``, ``regauto …``, and the
``printf``/``rm`` lines that create or break files) in a subprocess and shows it, so a reader
can replay the demo by hand, and the demo doubles as an end-to-end smoke test.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

SAMPLES: dict[str, str] = {
    "README.md": ("# Demo project\n\nA throwaway repository made by `regauto demo`.\n\n"
                  "Why it is built this way: [design notes](docs/decisions/0001-design-notes.md)."
                  "\n"),
    "docs/decisions/0001-design-notes.md": "# Design notes\n\n## Goals\n\nEvery file traceable.\n",
    "docs/runbook.md": "---\ntitle: Runbook\nowner: ops\n---\n\n# Runbook\n",
    "src/demo_pkg/__init__.py": '"""The demo package."""\n',
    "src/demo_pkg/core.py": (
        '#!/usr/bin/env python3\n"""Core logic of the demo."""\n\nimport json\n\n\n'
        "class Store:\n    def get(self, key):\n        return key\n\n\n"
        "def load(path, strict=False):\n    return json.loads(path)\n"
    ),
    "tests/test_core.py": "def test_load():\n    assert True\n",
    "config/settings.json": '{"debug": false}\n',
}

CONFIG = """
[[generators]]
name = "index"
output = "docs/INDEX.md"
builtin = "markdown-index"
"""
README_SECTION = "README.md, section \"Using it in a repository\""


def printf_command(text: str, rel: str, append: bool = False) -> str:
    """The ``printf`` line that writes ``text`` to ``rel`` (what the reader would type)."""
    fmt = (text.replace("\\", "\\\\").replace("%", "%%").replace("\n", "\\n")
           .replace("'", "'\\''"))
    dashes = "-- " if fmt.startswith("-") else ""  # a format starting with - is an option
    return f"printf {dashes}'{fmt}' {'>>' if append else '>'} {shlex.quote(rel)}"


class Demo:
    def __init__(self, root: Path, echo: Callable[[str], None], color: bool) -> None:
        self.root = root
        self.echo = echo
        self.color = color
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        self.env.update(
            GIT_AUTHOR_NAME="regauto demo", GIT_AUTHOR_EMAIL="demo@regauto.invalid",
            GIT_COMMITTER_NAME="regauto demo", GIT_COMMITTER_EMAIL="demo@regauto.invalid",
            REGAUTO=f"{sys.executable} -m regauto",
        )
        # The hooks must find this very regauto, installed or not.
        self.env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent),
                                            self.env.get("PATH", "")])
        self.failures: list[str] = []

    def step(self, title: str) -> None:
        self.echo("")
        self.echo(f"== {title}")

    def run(self, *cmd: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` (``regauto`` = this very regauto) and show it as one replayable line."""
        argv = [sys.executable, "-m", "regauto", *cmd[1:]] if cmd[0] == "regauto" else list(cmd)
        return self._show(shlex.join(cmd), argv, expect)

    def sh(self, line: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        """Run a shell line exactly as shown (how the demo creates and breaks files)."""
        return self._show(line, ["sh", "-c", line], expect)

    def _show(self, shown: str, argv: list[str],
              expect: int | None) -> subprocess.CompletedProcess[str]:
        self.echo(f"$ {shown}")
        p = subprocess.run(argv, cwd=self.root, env=self.env, capture_output=True, text=True,
                           check=False)
        for line in (p.stdout + p.stderr).rstrip().splitlines():
            self.echo(f"  {line}")
        if expect is not None and p.returncode != expect:
            self.failures.append(f"{shown}: exit {p.returncode}, expected {expect}")
            self.echo(f"  !! exit {p.returncode}, expected {expect}")
        return p

    def regauto(self, *args: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        return self.run("regauto", *args, expect=expect)

    def walk(self) -> int:
        self.step("1. A git repository with a few documents")
        self.run("git", "init", "-q", "-b", "main")
        folders = sorted({str(Path(rel).parent) for rel in SAMPLES} - {"."})
        self.run("mkdir", "-p", *folders)
        for rel, text in SAMPLES.items():
            self.sh(printf_command(text, rel))
        self.run("git", "add", "-A")
        self.run("git", "commit", "-q", "-m", "Initial documents")
        self.run("git", "ls-files")

        self.step("2. regauto init: rules from what it finds, empty registry, merge driver, "
                  "plain git hooks")
        self.regauto("init", "--hooks", "git")
        self.echo("  (and one generated output, docs/INDEX.md, added to regauto.toml)")
        self.sh(printf_command(CONFIG, "regauto.toml", append=True))

        self.step("3. regauto sync --all: ids assigned, numbered records renamed (links to them "
                  "rewritten), Python files headed")
        self.regauto("sync", "--all")
        self.regauto("generate", "--check")
        self.run("cat", "docs/INDEX.md")
        self.regauto("ls")
        self.run("head", "-3", "src/demo_pkg/core.py")
        self.regauto("show", "src/demo_pkg/core.py")

        self.step("4. Commit: the pre-commit hook keeps the registry in the commit")
        self.run("git", "add", "-A")
        self.run("git", "commit", "-q", "-m", "Register all documents")
        self.regauto("check")

        self.step("5. A new decision record and a link to it: the hook renames it, rewrites "
                  "the link, fails once; commit again")
        self.sh(printf_command("# Release plan\n\n## Dates\n",
                               "docs/decisions/0002-release-plan.md"))
        self.sh(printf_command(
            "Next: [the release plan](docs/decisions/0002-release-plan.md#dates).\n",
            "README.md", append=True))
        self.run("git", "add", "docs/decisions/0002-release-plan.md", "README.md")
        self.run("git", "commit", "-q", "-m", "Add release plan", expect=1)
        self.run("git", "add", "-A")
        self.run("git", "commit", "-q", "-m", "Add release plan")
        self.run("git", "show", "--stat", "--format=%s", "HEAD")

        self.step("6. Drift made behind regauto's back: check finds it, fix repairs it")
        self.echo("  (a function added to core.py, a document deleted, a new untracked note)")
        self.sh(printf_command("\n\ndef save(path):\n    pass\n", "src/demo_pkg/core.py",
                               append=True))
        self.sh("rm docs/decisions/*_0001-design-notes.md")
        self.sh(printf_command("an untracked note\n", "notes.txt"))
        self.regauto("check", expect=1)
        self.regauto("fix")
        self.regauto("fix")
        self.regauto("check")
        self.run("git", "add", "-A")
        self.run("git", "commit", "-q", "-m", "Repair drift")
        self.regauto("stats")

        self.echo("")
        if self.failures:
            self.echo("demo finished with unexpected results:")
            for failure in self.failures:
                self.echo(f"  - {failure}")
            return 4
        return 0


def run_demo(target: Path | None, echo: Callable[[str], None]) -> int:
    """Walk the demo in ``target`` (kept) or in a temporary folder (removed after a clean
    run, kept for inspection after a failed one); every ending line is what happened."""
    if target is None:
        root = Path(tempfile.mkdtemp(prefix="regauto-demo-"))
    else:
        root = target.resolve()
        if root.exists() and any(root.iterdir()):
            from regauto.errors import UsageError

            raise UsageError(f"{root}: not empty; give a new or empty directory")
        root.mkdir(parents=True, exist_ok=True)
    if shutil.which("git") is None:
        from regauto.errors import UsageError

        raise UsageError("git is not installed; the demo needs it")
    code = Demo(root, echo, color=False).walk()
    if target is not None:
        echo(f"demo finished: the repository is kept in {root} (cd there and try "
             "`git log --stat`, `regauto ls`, `regauto check`)")
    elif code == 0:
        shutil.rmtree(root, ignore_errors=True)
        echo("demo finished: the throwaway repository was removed "
             "(`regauto demo DIR` builds it in DIR and keeps it)")
    else:
        echo(f"demo stopped: the repository is kept in {root} for inspection")
    echo(f"Next, a real repository: {README_SECTION}.")
    return code
