"""What ``regauto init`` looks at before it writes a configuration (issue 13).

:func:`survey` lists the documentation toolchains (``regauto.toolchains``), the folders of
numbered records (ADRs, RFCs) and the vendored, generated and fixture code of a tree;
:func:`config_text` turns that into a ``regauto.toml`` whose rules say in comments why each
is there:

- vendored, generated and fixture files → ``registry`` (never modified: they are someone
  else's bytes, or a test's expected input);
- numbered-record folders → ``prefix`` (the id in the name ends "the next number" collisions
  between branches; links to them are rewritten on rename);
- documents a toolchain publishes → ``header`` (their names are public URLs and toctree/nav
  entries);
- Python → ``header``; everything else → ``registry``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from regauto import toolchains
from regauto.toolchains import Toolchain

RECORD_DIRS = frozenset({
    "adr", "adrs", "decisions", "decision-records", "architecture-decisions", "rfcs", "rfc",
    "records", ".decisions", ".adr",
})
VENDOR_DIRS = {
    "_vendor": "vendored third-party code", "vendor": "vendored third-party code",
    "vendored": "vendored third-party code", "third_party": "vendored third-party code",
    "thirdparty": "vendored third-party code", "node_modules": "installed packages",
    "testdata": "test data", "fixtures": "test fixtures", "__fixtures__": "test fixtures",
    "__snapshots__": "test snapshots",
}
TEST_DIRS = frozenset({"tests", "test"})
_ATTR = re.compile(r"(?<![-!\w])linguist-(vendored|generated)(?:=(\S+))?")


@dataclass
class Survey:
    toolchains: list[Toolchain] = field(default_factory=list)
    record_dirs: list[str] = field(default_factory=list)
    untouched: dict[str, str] = field(default_factory=dict)  # glob -> why
    python: bool = False
    markdown: bool = False


def _vendored_dir(parts: list[str]) -> tuple[str, str] | None:
    for i, part in enumerate(parts[:-1]):
        if part in VENDOR_DIRS:
            return "/".join(parts[: i + 1]), VENDOR_DIRS[part]
        if part == "data" and i > 0 and parts[i - 1] in TEST_DIRS:
            return "/".join(parts[: i + 1]), "test data"
    return None


def gitattributes_globs(text: str) -> dict[str, str]:
    """The patterns ``.gitattributes`` marks ``linguist-vendored``/``linguist-generated``, as
    regauto globs (a pattern without a slash matches at any depth, as in git)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        words = line.strip().split()
        if len(words) < 2 or words[0].startswith("#"):
            continue
        for attr in words[1:]:
            m = _ATTR.fullmatch(attr)
            if m is None or (m.group(2) or "true").lower() in ("false", "0"):
                continue
            pattern = words[0]
            if pattern.endswith("/"):
                pattern += "**"
            if "/" not in pattern.rstrip("/"):
                pattern = "**/" + pattern
            out[pattern.lstrip("/")] = f"linguist-{m.group(1)} in .gitattributes"
    return out


def survey(root: Path, files: list[str]) -> Survey:
    """Look at ``files`` (repository paths) under ``root``."""
    s = Survey(toolchains=toolchains.detect(root))
    records: set[str] = set()
    for path in files:
        parts = path.split("/")
        hit = _vendored_dir(parts)
        if hit is not None:
            s.untouched.setdefault(f"{hit[0]}/**", hit[1])
            continue
        for i, part in enumerate(parts[:-1]):
            if part.lower() in RECORD_DIRS:
                records.add("/".join(parts[: i + 1]))
                break
        s.python = s.python or path.endswith(".py")
        s.markdown = s.markdown or path.endswith((".md", ".markdown"))
    try:
        attrs = (root / ".gitattributes").read_text(encoding="utf-8", errors="replace")
    except OSError:
        attrs = ""
    s.untouched.update(gitattributes_globs(attrs))
    s.record_dirs = sorted(records)
    return s


def _suffix_glob(suffixes: tuple[str, ...]) -> str:
    names = sorted({x.lstrip(".") for x in suffixes})
    return names[0] if len(names) == 1 else "{" + ",".join(names) + "}"


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rules_text(s: Survey) -> str:
    """The ``[[rules]]`` tables for ``s``, each with a comment saying why (first match wins)."""
    out = ["# How a file carries its doc_id: first matching rule wins.",
           "#   prefix   — renamed to <doc_id>_<name> (links to it are rewritten)",
           "#   header   — a `doc_id: <id>` comment in the file",
           "#   registry — not changed; the id lives only in the registry",
           "# `regauto init` wrote these rules from what it found in this repository."]

    def rule(why: str, match: str, mode: str) -> None:
        out.extend(["", f"# {why}", "[[rules]]", f"match = {_toml_str(match)}",
                    f'id_mode = "{mode}"'])

    for glob, why in sorted(s.untouched.items()):
        rule(f"{why}: never modified", glob, "registry")
    for folder in s.record_dirs:
        if any(p.startswith(".") for p in folder.split("/")):
            rule("numbered records in a dot-folder (never renamed): the id in a header",
                 f"{folder}/**", "header")
        else:
            rule("numbered records: the id in the name ends collisions on \"the next "
                 "number\" between branches", f"{folder}/**/*.{{md,markdown,rst,txt}}", "prefix")
    for tc in s.toolchains:
        base = f"{tc.source_dir}/" if tc.source_dir else ""
        rule(f"published by {tc.label} ({tc.config}): names are public URLs and "
             "toctree/nav entries, so the id goes in a header",
             f"{base}**/*.{_suffix_glob(tc.suffixes)}", "header")
    # Always, like SPEC's defaults: a repository with no Python yet may get some.
    rule("Python modules: a `# doc_id:` comment (a rename would break imports)",
         "**/*.py", "header")
    rule("everything else: registered, never modified", "**/*", "registry")
    return "\n".join(out) + "\n"


def config_text(starter: str, s: Survey) -> str:
    """``starter`` (the commented default configuration) with its rules replaced."""
    start = starter.index("# How a file carries its doc_id")
    end = starter.index("# Generated outputs")
    return starter[:start] + rules_text(s) + "\n" + starter[end:]


def describe(s: Survey) -> list[str]:
    """What init found, one line each."""
    lines = [f"found {tc.label} ({tc.config}; root document "
             f"{tc.root_doc or 'none'})" for tc in s.toolchains]
    lines += [f"found numbered records in {d}/ (prefix mode)" for d in s.record_dirs]
    lines += [f"leaving {g} untouched ({why})" for g, why in sorted(s.untouched.items())]
    return lines
