"""Wiring regauto into a repository: merge driver, plain git hooks, pre-commit config.

Called by ``regauto init``; ``ensure_merge_driver`` also by every hook run (git config is
not cloned, and a driver named in ``.gitattributes`` but not configured is silently inert),
so it costs one small file read when everything is in place.

The driver command names the interpreter that runs regauto (``<python> -m regauto
merge-driver …``), not a bare ``regauto``: installed by the pre-commit framework, regauto
lives in the framework's own virtualenv, which is on PATH while a hook runs but not while
the user runs ``git merge``.  A command of ours whose interpreter is gone (``pre-commit gc``,
a rebuilt venv), or the bare form regauto configured before with no ``regauto`` on PATH, is
rewritten by the next hook; any other value is the user's own and left alone.

The pre-commit framework's configuration is ``precommit_config``.

Plain git hooks coexist with what was there (STYLE habit 6): each installed script carries
``MARKER`` so a reinstall recognises and overwrites its own; a foreign hook is moved to
``<name>.legacy`` and run first; ``core.hooksPath`` pointing elsewhere (husky, a shared hooks
folder) is refused with a hint rather than silently bypassed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from pathlib import Path

from regauto import git
from regauto.errors import UsageError
from regauto.gitint.history import PARTIAL, STAMP

DRIVER_ARGS = ("merge-driver", "%O", "%A", "%B", "%P")
DRIVER_NAME = "regauto registry merge driver (record by record)"
# pre-merge-commit (git >= 2.24) and the rewrite hooks keep every commit's registry true
# where git writes commits without the pre-commit hook (``history.py``).
HOOK_NAMES = ("pre-commit", "pre-merge-commit", "post-checkout", "post-merge", "post-commit",
              "post-rewrite")
BLOCKING_HOOKS = ("pre-commit", "pre-merge-commit")
MARKER = "regauto-managed-hook"

# -- merge driver --------------------------------------------------------------------------


def attributes_line(registry: str) -> str:
    # gitattributes patterns end at whitespace; [[:space:]] is git's documented escape.
    pattern = re.sub(r"\s", "[[:space:]]", registry.strip("/") + "/*.jsonl")
    return f"{pattern} merge=regauto"


def has_attribute(text: str, line: str) -> bool:
    pattern, attr = line.split(" ")
    for raw in text.splitlines():
        tokens = raw.split()
        if tokens and tokens[0] == pattern and attr in tokens[1:]:
            return True
    return False


def driver_command(python: str | None = None) -> str:
    """The driver as git runs it, through the shell: this interpreter, shell-quoted."""
    python = sys.executable if python is None else python
    runner = f"{shlex.quote(python)} -m regauto" if python else "regauto"
    return " ".join((runner, *DRIVER_ARGS))


def _plain_config_value(path: Path, section: str, key: str) -> str | None:
    """The last ``key`` of ``section`` in a git config file, read as text (no subprocess);
    None when it is not there or is written in a form that needs git's own parser
    (quotes, escapes, a comment)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    current, found = "", None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            current = line
            continue
        m = re.match(rf"{key}\s*=(.*)$", line, re.IGNORECASE)
        if current == section and m:
            value = m.group(1).strip()
            found = None if any(c in value for c in '"\\#;') else value
    return found


def configured_driver(root: Path) -> str | None:
    value = _plain_config_value(root / ".git" / "config", '[merge "regauto"]', "driver")
    if value is not None:
        return value
    # Worktrees, includes, a global setting, a quoted value: ask git (one process).
    return git.config_get(root, "merge.regauto.driver")


def regauto_runner(value: str) -> list[str] | None:
    """The words before ``merge-driver %O %A %B %P`` when ``value`` is a command regauto
    configures — ``<python> -m regauto …`` or the bare ``regauto …`` of earlier versions —
    else None: a value of another shape (a wrapper, a path to a script) is the user's."""
    try:
        words = shlex.split(value)
    except ValueError:
        return None
    if tuple(words[-len(DRIVER_ARGS):]) != DRIVER_ARGS:
        return None
    runner = words[: -len(DRIVER_ARGS)]
    if runner == ["regauto"] or (len(runner) == 3 and runner[1:] == ["-m", "regauto"]):
        return runner
    return None


def runnable(runner: list[str]) -> bool:
    """Can ``git merge`` start this runner?  A bare ``regauto`` counts only when found on
    PATH outside this interpreter's own folder: the pre-commit framework puts its venv's
    folder first on PATH while a hook runs, and a user's ``git merge`` does not have it."""
    if runner == ["regauto"]:
        own = os.path.dirname(os.path.abspath(sys.executable)) if sys.executable else None
        path = os.pathsep.join(
            d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and os.path.abspath(d) != own
        )
        return shutil.which("regauto", path=path) is not None
    python = runner[0]
    if os.sep not in python:
        return shutil.which(python) is not None
    return os.path.isfile(python) and os.access(python, os.X_OK)


def output_attributes_line(output: str) -> str:
    return re.sub(r"\s", "[[:space:]]", output) + " merge=regauto"


def with_driver_lines(text: str, registry: str, outputs: tuple[str, ...] | list[str]) -> str:
    """``.gitattributes`` text with the merge-driver lines of the registry's shards and of
    each generated output appended where missing (every other line kept as it is)."""
    wanted = [
        ("# regauto: merge registry shards record by record (regauto merge-driver)\n",
         attributes_line(registry)),
        *(("# regauto: a generated output is re-rendered after a merge, never conflicted\n",
           output_attributes_line(o)) for o in outputs),
    ]
    for comment, line in wanted:
        if not has_attribute(text, line):
            sep = "\n" if text and not text.endswith("\n") else ""
            text = text + sep + comment + line + "\n"
    return text


def ensure_merge_driver(root: Path, registry: str = ".regauto/registry",
                        outputs: tuple[str, ...] | list[str] = ()) -> bool:
    """``.gitattributes`` lines + git config for the merge driver of the registry's shards
    and of each generated output; True if changed."""
    changed = False
    attrs = root / ".gitattributes"
    try:
        text = attrs.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    new = with_driver_lines(text, registry, outputs)
    if new != text:
        attrs.write_text(new, encoding="utf-8")
        changed = True
    value = configured_driver(root)
    runner = regauto_runner(value) if value else None
    if not value or (runner is not None and not runnable(runner)):
        git.config_set(root, "merge.regauto.name", DRIVER_NAME)
        git.config_set(root, "merge.regauto.driver", driver_command())
        changed = True
    return changed


# -- plain git hooks -----------------------------------------------------------------------

_TEMPLATE = """\
#!/bin/sh
# regauto @NAME@ hook: keeps the registry true.  Installed by `regauto init --hooks git`.
# regauto-managed-hook: regauto recognises its own hooks by this line and overwrites them.
# A hook that was here before regauto was kept as @NAME@.legacy and runs first.
INSTALL_PYTHON=@PYTHON@

HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
if [ -x "$HERE/@NAME@.legacy" ]; then
    @LEGACY@
fi
@SKIP@
# regauto: $REGAUTO (a command line), else regauto on PATH, else the installing python.
if [ -n "${REGAUTO:-}" ]; then
    set -f
    # shellcheck disable=SC2086  # split on purpose: REGAUTO may be "python3 -m regauto"
    set -- $REGAUTO hook @NAME@ "$@"
    set +f
elif command -v regauto >/dev/null 2>&1; then
    set -- regauto hook @NAME@ "$@"
elif [ -n "$INSTALL_PYTHON" ] && [ -x "$INSTALL_PYTHON" ]; then
    set -- "$INSTALL_PYTHON" -m regauto hook @NAME@ "$@"
else
    echo "regauto: not found (set REGAUTO or put regauto on PATH); @MISSING@" >&2
    exit @MISSING_RC@
fi
@RUN@
"""

_BLOCKING = {
    "LEGACY": '"$HERE/@NAME@.legacy" "$@" || exit $?',
    "MISSING": "commit blocked",
    "MISSING_RC": "1",
    "RUN": 'exec "$@"',
}
# post-checkout's exit status becomes git checkout's: these hooks must never fail.
_NEVER_BLOCK = {
    "LEGACY": '"$HERE/@NAME@.legacy" "$@" || echo "regauto: @NAME@.legacy failed ($?)" >&2',
    "MISSING": "@NAME@ skipped",
    "MISSING_RC": "0",
    "RUN": '"$@" || true\nexit 0',
}


# post-commit verifies commits git wrote without the commit hook; after an ordinary commit
# the commit hook's stamp says there is nothing to verify, without starting python.  After
# ``git commit PATH`` the hook's record says the real index has to take the committed
# registry (``partial_commit``): python starts then.
_SKIP_VERIFIED = """
# The commit hook ran for this commit and left its stamp: nothing to verify, unless it
# left a record for the real index too (git commit PATH).
STATE="$(git rev-parse --absolute-git-dir 2>/dev/null)/regauto"
if [ -f "$STATE/@STAMP@" ] && [ ! -f "$STATE/@PARTIAL@" ]; then
    rm -f "$STATE/@STAMP@"
    exit 0
fi
"""


def render_hook(name: str, install_python: str = "") -> str:
    """The script for hook ``name``; ``hooks/<name>`` in the project is this with no python."""
    if name not in HOOK_NAMES:
        raise ValueError(f"unknown hook {name!r}")
    text = _TEMPLATE.replace(
        "@SKIP@", _SKIP_VERIFIED.replace("@STAMP@", STAMP).replace(
            "@PARTIAL@", PARTIAL) if name == "post-commit"
        else "")
    for key, value in (_BLOCKING if name in BLOCKING_HOOKS else _NEVER_BLOCK).items():
        text = text.replace(f"@{key}@", value)
    text = text.replace("@PYTHON@", shlex.quote(install_python) if install_python else "''")
    return text.replace("@NAME@", name)


def is_ours(path: Path) -> bool:
    try:
        return MARKER.encode() in path.read_bytes()
    except OSError:
        return False


def _common_dir(git_dir: Path) -> Path:
    # A linked worktree's git dir names the shared one in ``commondir``; hooks live there.
    try:
        rel = (git_dir / "commondir").read_text(encoding="utf-8").strip()
    except OSError:
        return git_dir
    return (git_dir / rel).resolve()


def hooks_dir(root: Path, git_dir: Path) -> Path:
    """Where the hooks go; UsageError when ``core.hooksPath`` sends git somewhere else."""
    default = _common_dir(git_dir) / "hooks"
    configured = git.config_get(root, "core.hooksPath")
    if configured:
        target = Path(os.path.expanduser(configured))
        target = target if target.is_absolute() else root / target
        if target.resolve() != default.resolve():
            raise UsageError(
                f"core.hooksPath is set to {configured}: another tool manages the hooks there; "
                f'hint: call `regauto hook <name> "$@"` from that tool\'s {", ".join(HOOK_NAMES)} '
                "hooks, or `git config --unset core.hooksPath` and rerun "
                "`regauto init --hooks git`"
            )
    return default


def _show(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _write_executable(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.regauto-tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8", newline="\n")
        tmp.chmod(0o755)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _install_one(folder: Path, name: str, root: Path) -> list[str]:
    hook, legacy = folder / name, folder / f"{name}.legacy"
    msgs: list[str] = []
    if os.path.lexists(hook) and not is_ours(hook):
        if is_ours(legacy):
            return [f"{name}: {_show(hook, root)} already chains regauto's hook; left alone"]
        if os.path.lexists(legacy):
            raise UsageError(
                f"{_show(hook, root)} is not regauto's and {legacy.name} exists too; merge "
                "them into one hook by hand, then rerun `regauto init --hooks git`"
            )
        os.replace(hook, legacy)
        msgs.append(f"kept the existing {name} hook as {_show(legacy, root)} (it runs first)")
    text = render_hook(name, sys.executable)
    try:
        current = hook.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        current = None
    if current != text or not os.access(hook, os.X_OK):
        _write_executable(hook, text)
        msgs.append(f"installed the {name} hook at {_show(hook, root)}")
    return msgs


def install_git_hooks(root: Path, git_dir: Path) -> list[str]:
    """Install the plain git hooks; returns what was done (nothing on a re-run)."""
    folder = hooks_dir(root, git_dir)
    folder.mkdir(parents=True, exist_ok=True)
    msgs: list[str] = []
    for name in HOOK_NAMES:
        msgs += _install_one(folder, name, root)
    return msgs
