"""The conventions every CLI user knows: global options after the command as well as
before it, flags shown as flags, ``--help`` grouped and written in sentences that wrap,
paths relative to the current folder, ``-v`` timing each stage, previews naming no ids
that ``fix`` will not assign."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer

from conftest import git, make_tree, run_regauto
from regauto.cli.app import app
from regauto.cli.app import main as app_main
from regauto.watch import daemon

pytestmark = pytest.mark.timeout(240)

# Every command, run for real with arguments that make it finish; the runner below checks
# that this list names every command the app has.
COMMANDS: list[list[str]] = [
    ["init"], ["sync", "--all"], ["check"], ["fix", "--dry-run"], ["fix"], ["generate"],
    ["show", "a.md"], ["ls"], ["stats"], ["hash"], ["patch", "PATCH"], ["doctor"],
    ["queue", "add", "a.md"], ["queue", "run"], ["queue", "list"], ["queue", "dead"],
    ["queue", "retry", "--all-dead"], ["queue", "purge"],
    ["daemon", "start"], ["daemon", "status"], ["daemon", "stop"],
    ["hook", "pre-commit"], ["hook", "post-checkout", "HEAD", "HEAD", "1"],
    ["hook", "post-merge", "0"], ["hook", "pre-merge-commit"], ["hook", "post-commit"],
    ["hook", "post-rewrite", "rebase"], ["trust"],
    ["merge-driver", "BASE", "OURS", "THEIRS", ".regauto/registry/00.jsonl"],
]
RUN_APART = {"watch", "demo"}  # run in test_watch_and_demo_take_them_too
FORMATTED = {"check", "show", "ls", "stats", "doctor", "queue list", "queue dead"}


def _all_commands() -> set[str]:
    group = typer.main.get_command(app)
    names = set()
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", {})
        names |= {f"{name} {s}" for s in subs} if subs else {name}
    return names


def _name(argv: list[str]) -> str:
    return " ".join(argv[:2]) if argv[0] in ("queue", "daemon") else argv[0]


@pytest.fixture
def repo(git_repo: Path) -> Path:
    make_tree(git_repo, {"a.md": "# A\n", "pkg/mod.py": "x = 1\n"})
    assert run_regauto("init", "--hooks", "git", cwd=git_repo).returncode == 0
    assert run_regauto("sync", "--all", cwd=git_repo).returncode == 0
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "regauto")
    for name in ("BASE", "OURS", "THEIRS"):
        (git_repo.parent / name).write_text("")
    return git_repo


def _argv(cmd: list[str], repo: Path) -> list[str]:
    out = []
    for a in cmd:
        if a == "PATCH":
            base = run_regauto("hash", cwd=repo).stdout.strip()
            patch = repo.parent / "patch.json"
            patch.write_text(json.dumps({"base_hash": base, "source": "test",
                                         "reason": "nothing", "changes": {}}))
            a = str(patch)
        elif a in ("BASE", "OURS", "THEIRS"):
            a = str(repo.parent / a)
        out.append(a)
    return out


def _run(argv: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    monkeypatch.chdir(cwd)
    rc = app_main(argv)
    got = capsys.readouterr()
    return rc, got.out, got.err


@pytest.mark.parametrize("option", ["-q", "-v", "--root", "--config", "--format"])
def test_every_command_takes_each_global_option_after_its_name(
        repo: Path, option: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert {_name(c) for c in COMMANDS} | RUN_APART == _all_commands()
    outside = repo.parent
    for cmd in COMMANDS:
        name = _name(cmd)
        argv, cwd = _argv(cmd, repo), repo
        if option == "--root":  # from outside: a path argument is given absolute
            argv = [str(repo / a) if a == "a.md" else a for a in argv]
            argv, cwd = [*argv, "--root", str(repo)], outside
        elif option == "--config":
            argv = [*argv, "--config", str(outside / "missing.toml")]
        elif option == "--format":
            if name not in FORMATTED:
                continue
            argv = [*argv, "--format", "json"]
        else:
            argv = [*argv, option]
        if name == "daemon start":  # it spawns the daemon: a process of its own
            r = run_regauto(*argv, cwd=cwd)
            rc, out, err = r.returncode, r.stdout, r.stderr
        else:
            rc, out, err = _run(argv, cwd, monkeypatch, capsys)
        said = f"{argv}: {rc}\n{out}\n{err}"
        if option == "--config":  # taken, and read: the file does not exist
            assert rc == (1 if name == "doctor" else 2), said  # doctor reports it
            assert ("missing.toml: config file not found" in err + out
                    or "--config is not available for hook and merge-driver" in err), said
            continue
        assert rc == 0, said
        if option == "--format":
            json.loads(out)
        if option == "-q" and name != "daemon start":
            assert err == "", said  # quiet: nothing but results and errors
        if option == "-v" and name in ("check", "sync", "fix"):
            assert re.search(r"^regauto: [a-z ()]+: \d+\.\d ms$", err, re.M), said


def test_the_hooks_fast_path_takes_them_after_the_command(repo: Path) -> None:
    for option in (["-q"], ["-v"], ["--root", str(repo)]):
        r = subprocess.run([sys.executable, "-m", "regauto", "hook", "pre-commit", *option],
                           cwd=repo.parent if option[0] == "--root" else repo,
                           capture_output=True, text=True, check=False)
        assert r.returncode == 0, r.stderr
    r = run_regauto("hook", "post-merge", "0", "--config", "x.toml", cwd=repo)
    assert r.returncode == 2 and "--config is not available" in r.stderr


@pytest.mark.slow
def test_watch_and_demo_take_them_too(repo: Path, tmp_path: Path) -> None:
    state = Path(git(repo, "rev-parse", "--absolute-git-dir").strip()) / "regauto"
    for option in (["-q"], ["-v"], ["--root", str(repo)]):
        cwd = repo.parent if option[0] == "--root" else repo
        proc = subprocess.Popen([sys.executable, "-m", "regauto", "watch", *option], cwd=cwd,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while not daemon.watcher_running(state):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    for option in (["-q"], ["-v"]):
        r = run_regauto("demo", str(tmp_path / option[0]), *option, cwd=tmp_path)
        assert r.returncode == 0, r.stderr


def test_format_before_the_command_is_its_default_and_refused_where_it_has_none(
        repo: Path) -> None:
    r = run_regauto("--format", "json", "ls", cwd=repo)
    assert r.returncode == 0 and {rec["path"] for rec in json.loads(r.stdout)} >= {"a.md"}
    r = run_regauto("--format", "github", "ls", cwd=repo)
    assert r.returncode == 2 and "this command prints text, json" in r.stderr
    r = run_regauto("--format", "json", "hash", cwd=repo)
    assert r.returncode == 2 and "--format does not apply to `hash`" in r.stderr


def _help(*args: str) -> str:
    env = {**os.environ, "COLUMNS": "80"}
    r = subprocess.run([sys.executable, "-m", "regauto", *args, "--help"], env=env,
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _panels(text: str) -> dict[str, list[str]]:
    panels: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"╭─ (.+?) ─", line)
        if m:
            current = m.group(1)
            panels[current] = []
        elif line.startswith("╰"):
            current = None
        elif current is not None:
            m = re.match(r"│ ([a-z][a-z-]*) ", line)
            if m:
                panels[current].append(m.group(1))
    return panels


def _mid_sentence_breaks(text: str) -> list[str]:
    """Lines of a help panel that end although the next line's first word would have fit:
    a line break from the source, not from wrapping at the terminal's width."""
    bad = []
    lines = [ln[1:-1] for ln in text.splitlines() if ln.startswith("│") and ln.endswith("│")]
    for prev, line in itertools.pairwise(lines):
        start = len(line) - len(line.lstrip())
        if start < 3 or not line.strip() or line.strip().startswith("["):
            continue  # a new entry (its name in the first column), or typer's own line
        above = prev[start:].rstrip()
        if not above or prev[start - 1] != " ":
            continue  # the line above has no text in this column
        width = len(line) - 1 - start  # the cell, less its right padding
        if len(above) + 1 + len(line.split()[0]) <= width:
            bad.append(f"{above!r} / {line.strip()!r}")
    return bad


def test_help_at_80_columns_is_grouped_with_flags_as_flags_and_wrapped_sentences() -> None:
    text = _help()
    panels = _panels(text)
    assert panels["Daily"] == ["init", "sync", "check", "fix", "generate"]
    assert panels["Reading the registry"] == ["show", "ls", "stats", "hash"]
    assert panels["Live mode"] == ["watch", "daemon", "queue"]
    assert panels["Git integration (what git calls)"] == ["hook", "merge-driver"]
    assert panels["Tools"] == ["patch", "doctor", "trust", "demo"]
    for args in [[], ["check"], ["fix"], ["sync"], ["queue", "list"], ["queue", "add"],
                 ["daemon", "stop"], ["doctor"], ["show"]]:
        page = _help(*args)
        assert all(len(ln) <= 80 for ln in page.splitlines()), args
        assert "<bool>" not in page and "<int>" not in page, args
        assert _mid_sentence_breaks(page) == [], args


def test_a_path_is_relative_to_the_current_folder(repo: Path) -> None:
    r = run_regauto("show", "mod.py", "--format", "json", cwd=repo / "pkg")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["path"] == "pkg/mod.py"
    r = run_regauto("show", "../a.md", "--format", "json", cwd=repo / "pkg")
    assert json.loads(r.stdout)["path"] == "a.md"


def test_v_prints_each_stage_with_its_time_and_vv_the_stages_inside(repo: Path) -> None:
    (repo / "pkg" / "mod.py").write_text("x = 2\n")
    r = run_regauto("check", "-v", cwd=repo)
    stages = re.findall(r"^regauto: (\S[^:]*): \d+\.\d ms$", r.stderr, re.M)
    assert {"read the registry", "plan", "pipeline"} <= set(stages), r.stderr
    r = run_regauto("check", "-vv", cwd=repo)
    assert re.search(r"^regauto:   compute the patch: \d+\.\d ms$", r.stderr, re.M), r.stderr
    r = run_regauto("check", cwd=repo)
    assert " ms" not in r.stderr


def test_previews_show_a_new_documents_id_as_new(repo: Path) -> None:
    cfg = repo / "regauto.toml"  # docs renamed (init's rules rename nothing here)
    cfg.write_text(cfg.read_text().replace(
        "[[rules]]", '[[rules]]\nmatch = "docs/**/*.md"\nid_mode = "prefix"\n\n[[rules]]', 1))
    git(repo, "commit", "-qam", "docs renamed")
    make_tree(repo, {"pkg/new.py": "y = 1\n", "docs/guide.md": "# Guide\n"})
    check = run_regauto("check", "--format", "json", cwd=repo)
    dry = run_regauto("fix", "--dry-run", cwd=repo)
    diff = run_regauto("check", "--diff", cwd=repo)
    for r in (check, dry, diff):
        assert r.returncode == 1, r.stderr
        assert not re.search(r"\d{16}", r.stdout), r.stdout  # no id fix would not assign
    details = {d["path"]: d["detail"] for d in json.loads(check.stdout)}
    assert details["pkg/new.py"].endswith("adds the header doc_id: (new)")
    assert details["docs/guide.md"].endswith("renames it to docs/(new)_guide.md")
    assert "would fix untracked pkg/new.py:" in dry.stdout and "(new)" in dry.stdout
    fixed = run_regauto("fix", cwd=repo)
    assert fixed.returncode == 0, fixed.stderr
    assert re.search(r"registered pkg/new\.py as \d{16}", fixed.stdout + fixed.stderr)
