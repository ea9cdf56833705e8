"""``check --rev REV`` and ``check --staged``: the ordinary check, run on a checkout of that
tree (``regauto.reconcile.snapshot``) by a child ``regauto check`` whose output becomes
ours, byte for byte — the answer a fresh clone at REV would give."""

from __future__ import annotations

import sys

from regauto import git, proc
from regauto.cli.context import STATE
from regauto.errors import UsageError
from regauto.project import Project


def check_commit(project: Project, rev: str | None, *, staged: bool, format: str, diff: bool,
                 base: str | None) -> int:
    from regauto.reconcile import snapshot

    if rev is not None and staged:
        raise UsageError("check: --rev and --staged name two different trees; give one")
    commit = snapshot.commit_to_check(project, rev, staged)
    argv = [sys.executable, "-m", "regauto", "check", "--format", format]
    # -v goes through as given: the child's stages are the check's own, printed on its
    # stderr, which becomes ours.
    argv += ["--diff"] * diff + ["-q"] * STATE.quiet + ["-v"] * STATE.verbose
    if base is not None:
        argv += ["--base", base]
    with snapshot.checked_out(project, commit) as where:
        # No GIT_* of a hook we run in may point the child at our index or git dir.
        rc, out, err = proc.run(argv, cwd=where, env=git.env_without_git(), check=False)
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    sys.stderr.buffer.write(err)
    return rc
