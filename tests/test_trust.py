"""The trust model (SPEC §9, README "Security"): code a repository defines runs only where
this clone trusted it, and never from a checkout or merge hook.

The scenario of ``r17``: an attacker's branch adds a ``command`` and a ``python`` generator
(each would append to a marker file) plus an unregistered file, so that the victim's
post-checkout and post-merge hooks write the registry and would render outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git, make_tree, run_regauto
from regauto.generators import trust
from regauto.generators.generator_orchestrator import GeneratorOrchestrator
from regauto.project import Project

EVIL_CONFIG = """
[[generators]]
name = "idx"
output = "INDEX.md"
command = ["sh", "-c", "echo command >> \\"$PWNED\\"; cat > /dev/null; echo '# index'"]

[[generators]]
name = "py"
output = "INDEX2.md"
python = "evil_gen:render"
"""
EVIL_GEN = '''
import json
import os
with open(os.environ["PWNED"], "a") as f:
    f.write("python\\n")


def render(records):
    return "# idx2\\n"
'''


def ran(marker: Path) -> list[str]:
    """What the attacker's code recorded (and forget it, for the next step)."""
    if not marker.exists():
        return []
    lines = marker.read_text().split()
    marker.unlink()
    return lines


@pytest.fixture
def victim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A victim clone with the plain git hooks; ``origin/evil`` is the attacker's branch."""
    monkeypatch.setenv("REGAUTO", f"{sys.executable} -m regauto")
    monkeypatch.setenv("PWNED", str(tmp_path / "pwned.log"))
    monkeypatch.delenv(trust.ENV, raising=False)
    up = tmp_path / "up"
    up.mkdir()
    git(up, "init", "-q", "-b", "main")
    make_tree(up, {"src/a.py": "x = 1\n", "docs/a.md": "# A\n"})
    assert run_regauto("init", "--hooks", "git", cwd=up).returncode == 0
    assert run_regauto("sync", "--all", cwd=up).returncode == 0
    git(up, "add", "-A")
    git(up, "commit", "-qm", "base")
    git(tmp_path, "clone", "-q", str(up), "attacker")
    attacker = tmp_path / "attacker"
    git(attacker, "checkout", "-q", "-b", "evil")
    with open(attacker / "regauto.toml", "a") as f:
        f.write(EVIL_CONFIG)
    make_tree(attacker, {"evil_gen.py": EVIL_GEN, "src/b.py": "y = 2\n"})
    git(attacker, "add", "-A")
    git(attacker, "commit", "-q", "--no-verify", "-m", "evil config + unregistered file")
    git(attacker, "push", "-q", "origin", "evil")
    git(tmp_path, "clone", "-q", str(up), "victim")
    v = tmp_path / "victim"
    assert run_regauto("init", "--hooks", "git", cwd=v).returncode == 0
    git(v, "fetch", "-q", "origin")
    return v


def test_checkout_and_merge_never_run_the_branch_code(victim: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned.log"
    # Even a CI job that trusts generators (REGAUTO_TRUST=1) runs none from these hooks.
    env = {**os.environ, trust.ENV: "1"}
    co = subprocess.run(["git", "checkout", "-q", "-b", "evil", "origin/evil"], cwd=victim,
                        capture_output=True, text=True, env=env, check=False)
    assert co.returncode == 0, co.stderr
    assert ran(marker) == []
    assert "registry updated" in co.stderr  # the hook did write the registry
    assert "post-checkout runs no repository code: generator(s) 'idx', 'py' not run" \
        in co.stderr
    assert not (victim / "INDEX.md").exists()
    r = run_regauto("check", cwd=victim)
    assert r.returncode == 1 and "stale_output" in r.stdout and "INDEX2.md" in r.stdout
    assert ran(marker) == []
    git(victim, "checkout", "-q", "-f", "main")
    me = subprocess.run(["git", "merge", "-q", "--no-edit", "origin/evil"], cwd=victim,
                        capture_output=True, text=True, env=env, check=False)
    assert me.returncode == 0, me.stderr
    assert ran(marker) == []
    assert "post-merge runs no repository code" in me.stderr


def test_untrusted_definitions_are_skipped_until_trusted_and_again_after_a_change(
    victim: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned.log"
    git(victim, "merge", "-q", "--no-edit", "origin/evil")
    assert ran(marker) == []
    for cmd in (("sync", "--all"), ("generate",), ("fix",)):
        r = run_regauto(*cmd, cwd=victim)
        assert r.returncode == 0, (cmd, r.stderr)
        assert ("regauto: generator(s) 'idx', 'py' not trusted: run `regauto trust` (or set "
                "REGAUTO_TRUST=1) to let them run; their output is stale meanwhile") \
            in r.stderr.splitlines(), r.stderr
        assert ran(marker) == []
    make_tree(victim, {"src/c.py": "z = 3\n"})
    git(victim, "add", "src/c.py")
    assert run_regauto("hook", "pre-commit", cwd=victim).returncode in (0, 1)
    assert ran(marker) == []
    assert not (victim / "INDEX.md").exists() and not (victim / "INDEX2.md").exists()

    r = run_regauto("trust", cwd=victim)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1] == "trusted py -> INDEX2.md: python evil_gen:render"
    r = run_regauto("generate", cwd=victim)
    assert r.returncode == 0, r.stderr
    assert "not trusted" not in r.stderr
    assert sorted(ran(marker)) == ["command", "python"]
    assert (victim / "INDEX.md").read_text().splitlines()[1] == "# index"

    # A changed definition is untrusted again; so is a change to the module it names.
    cfg = victim / "regauto.toml"
    cfg.write_text(cfg.read_text().replace("echo command", "echo changed"))
    (victim / "INDEX.md").unlink()
    r = run_regauto("generate", cwd=victim)
    assert r.returncode == 0 and "generator(s) 'idx' not trusted" in r.stderr, r.stderr
    assert ran(marker) == [] and not (victim / "INDEX.md").exists()
    assert run_regauto("trust", cwd=victim).returncode == 0
    assert run_regauto("generate", cwd=victim).returncode == 0
    assert ran(marker) == ["changed"]
    with open(victim / "evil_gen.py", "a") as f:
        f.write("# more\n")
    (victim / "INDEX2.md").unlink()
    r = run_regauto("generate", cwd=victim)
    assert "not trusted" in r.stderr and ran(marker) == []
    # REGAUTO_TRUST=1 trusts whatever is configured, for a CI job that chooses to.
    r = run_regauto("generate", cwd=victim, env={trust.ENV: "1"})
    assert r.returncode == 0 and "not trusted" not in r.stderr
    assert ran(marker) == ["python"]


def test_builtin_generators_always_run_and_trust_has_nothing_to_do(git_repo: Path) -> None:
    make_tree(git_repo, {"docs/a.md": "# a\n", "regauto.toml": (
        '[[generators]]\nname = "i"\noutput = "INDEX.md"\nbuiltin = "markdown-index"\n')})
    r = run_regauto("trust", cwd=git_repo)
    assert r.returncode == 0
    assert "nothing to trust" in r.stderr
    assert run_regauto("sync", "--all", cwd=git_repo).returncode == 0
    (git_repo / "INDEX.md").unlink()
    with trust.no_repository_code("post-checkout"):
        results = GeneratorOrchestrator(Project.open(git_repo)).generate()
    assert [(g.name, g.changed, g.skipped) for g in results] == [("i", True, False)]
    assert (git_repo / "INDEX.md").is_file()


def test_check_says_why_an_untrusted_output_stays_stale(victim: Path) -> None:
    git(victim, "merge", "-q", "--no-edit", "origin/evil")
    r = run_regauto("check", "--format", "json", cwd=victim)
    assert r.returncode == 1
    details = [d["detail"] for d in json.loads(r.stdout)
               if d["kind"] == "stale_output"]
    assert len(details) == 2
    assert all("not trusted in this clone: `regauto trust`" in d for d in details), details
    assert run_regauto("trust", cwd=victim).returncode == 0
    r = run_regauto("check", "--format", "json", cwd=victim)
    assert not any("trust" in d["detail"] for d in json.loads(r.stdout))


def test_odd_command_words_are_hashed_without_a_crash(git_repo: Path) -> None:
    long_script = "echo " + "x" * 5000
    make_tree(git_repo, {"regauto.toml": (
        '[[generators]]\nname = "c"\noutput = "OUT.md"\n'
        f'command = ["sh", "-c", "{long_script}", "a\\u0000b", "../up", "/abs"]\n')})
    r = run_regauto("trust", cwd=git_repo)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("trusted c -> OUT.md: command sh -c echo xxx")
