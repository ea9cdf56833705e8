"""The fast front end git calls: ``regauto hook …`` and ``regauto merge-driver …``.

These run on every commit, checkout and merge, so this module parses its arguments with
argparse and never imports typer or rich (``regauto.__main__`` routes here before
the typer app is loaded).  Errors go through the same boundary as every other command.

Usage (what git, the scripts in ``hooks/`` and ``.pre-commit-hooks.yaml`` call)::

    regauto hook pre-commit
    regauto hook post-checkout [PREV NEW FLAG]
    regauto hook post-merge [SQUASH]
    regauto hook pre-merge-commit
    regauto hook post-commit
    regauto hook post-rewrite [COMMAND]
    regauto merge-driver BASE OURS THEIRS PATH

git passes the post-checkout and post-merge arguments; the pre-commit framework passes none
and exports them instead as ``PRE_COMMIT_FROM_REF``, ``PRE_COMMIT_TO_REF``,
``PRE_COMMIT_CHECKOUT_TYPE``, ``PRE_COMMIT_IS_SQUASH_MERGE`` and
``PRE_COMMIT_REWRITE_COMMAND`` (pre-commit's
``commands/run.py``).  FLAG and SQUASH must be ``"0"`` or ``"1"`` and reach the hooks as
given.
The global options may come before or after the command, as for every other command:
``--root`` is honoured; ``-q`` is accepted and ignored; ``-v`` prints each stage with its
time; ``--config`` is refused (the hooks read the repository's own configuration, as every
clone must), and so is ``--format`` (they print no report).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from regauto import crashlog
from regauto.cli import boundary
from regauto.errors import UsageError

if TYPE_CHECKING:
    import argparse

    from regauto.git import RepoPaths

    Args = argparse.Namespace | SimpleNamespace

ENV_FALLBACK = {
    "prev": "PRE_COMMIT_FROM_REF",
    "new": "PRE_COMMIT_TO_REF",
    "flag": "PRE_COMMIT_CHECKOUT_TYPE",
    "squash": "PRE_COMMIT_IS_SQUASH_MERGE",
    "rewrite": "PRE_COMMIT_REWRITE_COMMAND",
}


def _global_options(p: argparse.ArgumentParser, default: object) -> None:
    import argparse

    p.add_argument("--root", type=Path, default=default,
                   help="repository root (default: the current one)")
    p.add_argument("--config", type=Path, default=default, help=argparse.SUPPRESS)
    p.add_argument("--format", default=default, help=argparse.SUPPRESS)
    p.add_argument("-q", "--quiet", action="store_true", default=default,
                   help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="count", default=default,
                   help="print each stage with its time")


# The positional arguments of each hook, as the parser below declares them.
HOOK_ARGS: dict[str, tuple[str, ...]] = {
    "pre-commit": (), "pre-merge-commit": (), "post-commit": (),
    "post-checkout": ("prev", "new", "flag"), "post-merge": ("squash",),
    "post-rewrite": ("rewrite",),
}


def plain_hook_args(argv: list[str]) -> SimpleNamespace | None:
    """What the parser returns for ``hook NAME [ARGS]`` without an option — the form git
    and the framework use on every commit — without importing argparse; None for anything
    else (the parser handles it, its help and its errors included)."""
    if len(argv) < 2 or argv[0] != "hook" or any(a.startswith("-") for a in argv):
        return None
    names = HOOK_ARGS.get(argv[1])
    if names is None or len(argv) - 2 > len(names):
        return None
    values: dict[str, str | None] = dict.fromkeys(names)
    values.update(zip(names, argv[2:], strict=False))
    return SimpleNamespace(root=None, config=None, format=None, quiet=None, verbose=None,
                           command="hook", hook=argv[1], **values)


def parser() -> argparse.ArgumentParser:
    import argparse

    p = argparse.ArgumentParser(prog="regauto", description="git entry points of regauto")
    _global_options(p, None)
    # After the command too; SUPPRESS: not given there keeps what was given before it.
    after = argparse.ArgumentParser(add_help=False)
    _global_options(after, argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", required=True)

    hook = sub.add_parser("hook", help="what the git hooks call", parents=[after])
    kinds = hook.add_subparsers(dest="hook", required=True)
    kinds.add_parser("pre-commit", help="register the staged documents", parents=[after])
    co = kinds.add_parser("post-checkout", help="process paths changed by a checkout",
                          parents=[after])
    co.add_argument("prev", nargs="?", help="previous HEAD")
    co.add_argument("new", nargs="?", help="new HEAD")
    co.add_argument("flag", nargs="?", help="1: branch checkout, 0: file checkout")
    me = kinds.add_parser("post-merge", help="process paths changed by a merge",
                          parents=[after])
    me.add_argument("squash", nargs="?", help="1 for a squash merge")
    kinds.add_parser("pre-merge-commit", help="bring a merge's registry up to date",
                     parents=[after])
    kinds.add_parser("post-commit", help="verify the commit's registry", parents=[after])
    rw = kinds.add_parser("post-rewrite", help="verify the registry after a rebase",
                          parents=[after])
    rw.add_argument("rewrite", nargs="?", metavar="COMMAND", help="amend or rebase")

    md = sub.add_parser("merge-driver", help="the registry shard merge driver (%%O %%A %%B %%P)",
                        parents=[after])
    for name in ("base", "ours", "theirs", "path"):
        md.add_argument(name)
    return p


def _arg(ns: Args, name: str) -> str:
    value = getattr(ns, name) or os.environ.get(ENV_FALLBACK[name])
    if not value:
        raise UsageError(
            f"hook {ns.hook}: missing {name.upper()} (pass it, or run under pre-commit, "
            f"which sets {ENV_FALLBACK[name]})"
        )
    return str(value)


def _flag(ns: Args, name: str) -> str:
    value = _arg(ns, name)
    if value not in ("0", "1"):
        raise UsageError(f"hook {ns.hook}: {name.upper()} must be 0 or 1, not {value!r}")
    return value


def _root(ns: Args) -> RepoPaths:
    from regauto import git

    start = ns.root if ns.root is not None else Path.cwd()
    found = git.discover(start)
    if found is None:
        raise UsageError(f"{start}: not inside a git repository with a work tree")
    crashlog.set_state_dir(found.git_dir / "regauto")
    return found


def _hook(ns: Args) -> int:
    # Imported here: the hooks pull in the pipeline, which the merge driver never needs.
    from regauto.gitint import hooks
    from regauto.project import Project

    found = _root(ns)
    project = Project.open(found.root, found=found)
    if not project.initialised:
        # A hook must never block, nor write into, a repository that does not use regauto
        # (a global core.hooksPath, a stale hook after the config was removed): silent exit 0.
        return 0
    if ns.hook == "post-checkout":
        prev, new, flag = _arg(ns, "prev"), _arg(ns, "new"), _flag(ns, "flag")
        return int(hooks.post_checkout(found, prev, new, flag))
    if ns.hook == "post-merge":
        squash = _flag(ns, "squash")
        return int(hooks.post_merge(found, squash))
    if ns.hook == "pre-merge-commit":
        return int(hooks.pre_merge_commit(found))
    if ns.hook == "post-commit":
        return int(hooks.post_commit(found))
    if ns.hook == "post-rewrite":
        return int(hooks.post_rewrite(found, _arg(ns, "rewrite")))
    return int(hooks.pre_commit(found, project))


def _merge_driver(ns: Args) -> int:
    from regauto.gitint import merge_driver

    return merge_driver.run(Path(ns.base), Path(ns.ours), Path(ns.theirs), ns.path)


def main(argv: list[str]) -> int:
    ns: Args | None = plain_hook_args(argv)
    if ns is None:
        try:
            ns = parser().parse_args(argv)
        except SystemExit as e:  # argparse has printed the usage and the error (or --help)
            return e.code if isinstance(e.code, int) else 2

    def run() -> int:
        if ns.verbose:
            from regauto import stages

            stages.enable(ns.verbose)
        if ns.format is not None:
            raise UsageError(f"--format does not apply to `{ns.command}`")
        if ns.config is not None:
            raise UsageError(
                "--config is not available for hook and merge-driver: they read the "
                "repository's own configuration"
            )
        return _hook(ns) if ns.command == "hook" else _merge_driver(ns)

    return boundary.guarded(run)
