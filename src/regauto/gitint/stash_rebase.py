"""Rebasing the pre-commit framework's stash onto what the commit hook staged.

Under the framework the commit hook runs on a work tree equal to the index: the unstaged
changes are in the framework's patch (``framework_stash``), applied again after the hooks;
and a hook that leaves ``git diff`` different from before fails.  So where the hook stages a
registry shard or an output, it writes the same text to the work tree — and where the
patch changes that file too (the daemon's or a ``fix``'s unstaged registry edits), the
patch's section no longer applies.  It is replaced by the section that turns the newly
staged text into the work tree's own version (the old section applied to the old staged
text): the framework's restore then gives the work tree back its own file, on top of the
new index, without a conflict or a roll-back.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

from regauto import git, proc

DIFF_HEAD = b"diff --git "


Adjust = Callable[[str, bytes | None], bytes | None]


def rebase(patch_file: str, staged: dict[str, tuple[bytes | None, bytes | None]],
           adjust: Adjust = lambda path, mine: mine) -> list[str]:
    """Rebase the sections of ``patch_file`` for ``staged`` (``{path: (staged before,
    staged now)}``, None: absent) onto the new staged texts; ``adjust(path, work-tree
    version)`` is what the restore is to give back (default: the work tree's version as
    it was).  Returns the paths rebased."""
    with open(patch_file, "rb") as f:
        data = f.read()
    out: list[bytes] = []
    done: list[str] = []
    for path, section in _sections(data):
        if path in staged:
            old, new = staged[path]
            section = _diff(path, new, adjust(path, _apply(path, old, section)))
            done.append(path)
        out.append(section)
    if done:
        tmp = f"{patch_file}.regauto-tmp"
        with open(tmp, "wb") as f:
            f.write(b"".join(out))
        os.replace(tmp, patch_file)
    return done


def _sections(data: bytes) -> list[tuple[str | None, bytes]]:
    """The patch split into per-file sections, each with the path it changes."""
    starts = [0] if data.startswith(DIFF_HEAD) else []
    pos = data.find(b"\n" + DIFF_HEAD)
    while pos >= 0:
        starts.append(pos + 1)
        pos = data.find(b"\n" + DIFF_HEAD, pos + 1)
    out: list[tuple[str | None, bytes]] = []
    if not starts or starts[0] > 0:
        out.append((None, data[:starts[0] if starts else len(data)]))
    for i, s in enumerate(starts):
        section = data[s:starts[i + 1] if i + 1 < len(starts) else len(data)]
        head = section.split(b"\n", 1)[0][len(DIFF_HEAD) + 2:]
        out.append((head.split(b" b/", 1)[0].decode("utf-8", "surrogateescape"), section))
    return out


def _env(tmp: str) -> dict[str, str]:
    # Outside any repository: git apply and git diff --no-index then work on plain files.
    env = git.env_without_git()
    env["GIT_CEILING_DIRECTORIES"] = os.path.dirname(tmp)
    return env


def _apply(path: str, old: bytes | None, section: bytes) -> bytes | None:
    """``section`` applied to ``old``: the work tree's own version of ``path``."""
    with tempfile.TemporaryDirectory(prefix="regauto-stash-") as tmp:
        target = os.path.join(tmp, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if old is not None:
            with open(target, "wb") as f:
                f.write(old)
        proc.run(("git", "apply", "--whitespace=nowarn", "-"), cwd=tmp, input=section,
                 env=_env(tmp))
        try:
            with open(target, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None


def _diff(path: str, new: bytes | None, mine: bytes | None) -> bytes:
    """The section turning ``new`` into ``mine`` (empty when they are equal)."""
    if new == mine:
        return b""
    with tempfile.TemporaryDirectory(prefix="regauto-stash-") as tmp:
        names = []
        for name, content in (("1", new), ("2", mine)):
            if content is None:
                names.append("/dev/null")
                continue
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(content)
            names.append(name)
        _, out, _ = proc.run(("git", "diff", "--no-index", "--binary", "--no-ext-diff",
                              "--no-color", "--src-prefix=a/", "--dst-prefix=b/", "--",
                              *names), cwd=tmp, env=_env(tmp), check=False)
    p = path.encode("utf-8", "surrogateescape")
    lines = out.split(b"\n")
    for i, line in enumerate(lines):
        if line.startswith((b"@@", b"GIT binary patch")):
            break
        if line.startswith(DIFF_HEAD):
            lines[i] = DIFF_HEAD + b"a/" + p + b" b/" + p
        elif line.startswith(b"--- ") and line != b"--- /dev/null":
            lines[i] = b"--- a/" + p
        elif line.startswith(b"+++ ") and line != b"+++ /dev/null":
            lines[i] = b"+++ b/" + p
    return b"\n".join(lines)
