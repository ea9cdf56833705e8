"""regauto's entry in the pre-commit framework's ``.pre-commit-config.yaml`` (``regauto
init``): created, or appended to a block-style ``repos:`` list with every other line kept as
it is; a layout not understood is refused with the entry to add by hand."""

from __future__ import annotations

import re
from pathlib import Path

from regauto import __version__, durable
from regauto.errors import UsageError
from regauto.gitint.install import HOOK_NAMES

REPO_URL = "https://github.com/regauto/regauto"
PRE_COMMIT_IDS = ("regauto", "regauto-pre-merge-commit", "regauto-post-checkout",
                  "regauto-post-merge", "regauto-post-commit", "regauto-post-rewrite")
PRE_COMMIT_INSTALL = "pre-commit install " + " ".join(f"--hook-type {n}" for n in HOOK_NAMES)

_ID_RE = re.compile(r"(?m)^[\s-]*id:\s*['\"]?regauto['\"]?\s*(#.*)?$")
_REPOS_RE = re.compile(r"repos:\s*(#.*)?$")


def _entry(indent: int, gap: int, nl: str) -> str:
    item, key = " " * indent + "-" + " " * gap, " " * (indent + 1 + gap)
    lines = [f"{item}repo: {REPO_URL}", f"{key}rev: v{__version__}", f"{key}hooks:"]
    lines += [f"{key}-{' ' * gap}id: {hook_id}" for hook_id in PRE_COMMIT_IDS]
    return "".join(line + nl for line in lines)


def new_pre_commit_config() -> str:
    return (
        "# See https://pre-commit.com; regauto keeps the registry true on commit, checkout, "
        f"merge.\ndefault_install_hook_types: [{', '.join(HOOK_NAMES)}]\n"
        "repos:\n" + _entry(0, 3, "\n")
    )


def _insert_repo(text: str) -> str | None:
    """``text`` with regauto's entry appended to its block-style ``repos:`` list, keeping
    every other line (comments included) as it is; None when the layout is not understood."""
    nl = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += nl
    start = next((i for i, ln in enumerate(lines) if _REPOS_RE.match(ln.rstrip("\r\n"))), None)
    if start is None:
        if re.search(r"(?m)^repos\s*:", text):
            return None  # flow style (``repos: []``) or something stranger
        return "".join(lines) + "repos:" + nl + _entry(0, 3, nl)
    indent, gap, end = 0, 3, start + 1
    found = False
    for i in range(start + 1, len(lines)):
        raw = lines[i].rstrip("\r\n")
        body = raw.lstrip(" ")
        if not body or body.startswith("#"):
            continue
        here = len(raw) - len(body)
        if not found:
            m = re.match(r"-( +)\S", body)
            if m is None:
                if here == 0:
                    break  # ``repos:`` with no items, followed by the next top-level key
                return None
            indent, gap, found = here, len(m.group(1)), True
        elif here < indent or (here == indent and not body.startswith("-")):
            break
        end = i + 1
    return "".join(lines[:end]) + _entry(indent, gap, nl) + "".join(lines[end:])


def _yaml_ok(text: str, *, with_regauto: bool) -> bool | None:
    """Does ``text`` parse (and hold regauto's repo)?  None when PyYAML is not installed."""
    try:
        import yaml
    except ImportError:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    if not with_regauto:
        return True
    repos = data.get("repos") if isinstance(data, dict) else None
    return isinstance(repos, list) and any(
        isinstance(r, dict)
        and r.get("repo") == REPO_URL
        and [h.get("id") for h in r.get("hooks", [])] == list(PRE_COMMIT_IDS)
        for r in repos
    )


def install_pre_commit_config(root: Path) -> str:
    """Add regauto's hooks to ``.pre-commit-config.yaml`` (created if absent); idempotent.
    Returns the line to show, which says how to install the framework's hooks."""
    path = root / ".pre-commit-config.yaml"
    then = f"run `{PRE_COMMIT_INSTALL}`"
    if not path.exists():
        path.write_text(new_pre_commit_config(), encoding="utf-8")
        return f"wrote {path.name} with the regauto hooks; {then}"
    text = path.read_text(encoding="utf-8")
    if _ID_RE.search(text) or REPO_URL in text:
        return f"{path.name} already lists the regauto hooks; {then} if not done yet"
    if _yaml_ok(text, with_regauto=False) is False:
        raise UsageError(f"{path}: not valid YAML; fix it, then rerun `regauto init`")
    new = _insert_repo(text)
    if new is None or _yaml_ok(new, with_regauto=True) is False:
        raise UsageError(
            f"{path}: no block-style `repos:` list to extend; add by hand: `- repo: {REPO_URL}` "
            f"with `rev: v{__version__}` and hook ids {', '.join(PRE_COMMIT_IDS)}"
        )
    durable.replace_durably(path, new.encode("utf-8"), keep_mode=True)
    return f"added the regauto hooks to {path.name}; {then}"
