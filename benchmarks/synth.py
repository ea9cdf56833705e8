"""Synthetic repositories for benchmarks: ``make_repo(dir, n_files)``.

60% Python (real sources: the standard library's modules, cycled), 30% Markdown, 10% JSON,
in nested folders of about 50 files, some Markdown under ``docs/`` (prefix mode).  Every
file's content is unique (a numbered line is appended), so no content-keyed cache can
skip work a real repository would need.  Files are written directly, then ``git add -A``
and one commit: building 100k files takes seconds, not minutes of subprocesses.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

PER_DIR = 50
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass
class SynthRepo:
    root: Path
    python: list[str] = field(default_factory=list)
    markdown: list[str] = field(default_factory=list)
    json: list[str] = field(default_factory=list)
    bytes: int = 0  # total size as built (docs may be renamed afterwards)

    @property
    def files(self) -> int:
        return len(self.python) + len(self.markdown) + len(self.json)


@functools.lru_cache(maxsize=1)
def stdlib_sources() -> tuple[tuple[str, bytes], ...]:
    """(module stem, source) of every ``.py`` file of the standard library, sorted."""
    root = Path(sysconfig.get_paths()["stdlib"])
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("site-packages", "__pycache__"))
        for f in sorted(filenames):
            if f.endswith(".py") and not f.startswith("__"):
                stem = f[:-3] if f[:-3].isidentifier() else "module"
                out.append((stem, (Path(dirpath) / f).read_bytes()))
    if not out:
        raise RuntimeError(f"no Python sources found under {root}")
    return tuple(out)


def _markdown(i: int) -> bytes:
    sections = "".join(
        f"## Section {s}\n\nParagraph {s} of document {i}: some words about item {i * 7 + s}, "
        f"with a [link](other_{s}.md) and `code`.\n\n- point one\n- point two\n\n"
        for s in range(1 + i % 6)
    )
    front = f"---\ntitle: Note {i}\nowner: team-{i % 9}\n---\n" if i % 4 == 0 else ""
    return f"{front}# Document {i}\n\n{sections}".encode()


def _json(i: int) -> bytes:
    data = {"id": i, "name": f"item-{i}", "tags": [f"t{i % 13}", f"t{i % 7}"],
            "settings": {"enabled": i % 2 == 0, "limit": i * 3, "nested": {"k": [1, 2, i]}}}
    return (json.dumps(data, indent=2) + "\n").encode()


def make_repo(root: Path, n_files: int, *, commit: bool = True) -> SynthRepo:
    """Build ``n_files`` files under ``root`` (created; must not hold files) as a git repo."""
    root.mkdir(parents=True, exist_ok=True)
    sources = stdlib_sources()
    repo = SynthRepo(root)
    n_py = n_files * 6 // 10
    n_md = n_files * 3 // 10
    n_json = n_files - n_py - n_md
    made_dirs: set[Path] = set()

    def write(rel: str, data: bytes) -> None:
        full = root / rel
        if full.parent not in made_dirs:
            full.parent.mkdir(parents=True, exist_ok=True)
            made_dirs.add(full.parent)
        with open(full, "wb") as f:
            f.write(data)
        repo.bytes += len(data)

    for i in range(n_py):
        stem, src = sources[i % len(sources)]
        d = i // PER_DIR
        rel = f"src/pkg{d // 40:03d}/sub{d % 40:02d}/{stem}_{i}.py"
        sep = b"" if src.endswith(b"\n") or not src else b"\n"
        write(rel, src + sep + f"# synthetic file {i}\n".encode())
        repo.python.append(rel)
    for i in range(n_md):
        d = i // PER_DIR
        top = "docs" if i % 2 == 0 else "notes"
        rel = f"{top}/area{d // 40:03d}/part{d % 40:02d}/note_{i}.md"
        write(rel, _markdown(i))
        repo.markdown.append(rel)
    for i in range(n_json):
        d = i // PER_DIR
        write(f"data/set{d:03d}/item_{i}.json", _json(i))
        repo.json.append(f"data/set{d:03d}/item_{i}.json")
    # Set up for regauto as `regauto init` would, minus its rules (so the defaults apply): an
    # empty registry.  An uninitialised repository is refused by every command.
    write(".regauto/registry/meta.json",
          b'{"regauto": "registry", "schema": 1, "shards": 256}\n')
    if commit:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")}, **GIT_ENV}
        for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                     ["commit", "-q", "--no-verify", "-m", f"synthetic: {n_files} files"]):
            subprocess.run(["git", *args], cwd=root, env=env, check=True,
                           stdout=subprocess.DEVNULL)
    return repo
