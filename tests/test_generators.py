"""Generated outputs (SPEC §9): rendering, markers, stale/edited detection, repair, hooks.

Registries are built by applying PromotionPatches through the real writer; what a user would
notice (exit codes, messages, files) goes through the real CLI.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import git, run_regauto
from regauto import generators
from regauto.errors import UsageError
from regauto.generators import marker
from regauto.generators.generator_orchestrator import (
    GeneratorOrchestrator,
    OutputDrift,
    output_paths,
)
from regauto.project import Project
from regauto.registry import open_writer
from regauto.registry.promotion_patch import PromotionPatch
from regauto.registry.registry_writer_service import WriteResult

BUILTIN_CONFIG = """
[[generators]]
name = "index"
output = "docs/INDEX.md"
builtin = "markdown-index"

[[generators]]
name = "json"
output = "out/index.json"
builtin = "json-index"

[[generators]]
name = "csv"
output = "out/index.csv"
builtin = "csv-index"
"""
OUTPUTS = ("docs/INDEX.md", "out/index.json", "out/index.csv")


def doc_id(n: int) -> str:
    return f"20261126210500{n:02d}"


def rec(n: int, path: str, **fields: Any) -> dict[str, Any]:
    """A valid record for document ``n``."""
    r: dict[str, Any] = {
        "path": path,
        "doc_id": doc_id(n),
        "id_mode": "registry",
        "kind": "markdown" if path.endswith(".md") else "python",
        "tags": ["file", "text"],
        "role": "doc" if path.endswith(".md") else "source",
        "blob": hashlib.sha1(f"{path}{n}".encode()).hexdigest(),
        "size": 10 + n,
        "descriptor": {"title": f"Title {n}"} if path.endswith(".md") else {"summary": f"Mod {n}."},
    }
    r.update(fields)
    return r


def apply(repo: Path, changes: dict[str, Any], *, hooks: bool = True) -> WriteResult:
    """Apply a simple-mode patch through the real writer.  ``hooks=False`` stands for a
    registry changed where no generator ran (a pull, a server-side merge, another tool)."""
    project = Project.open(repo)
    writer = open_writer(project, generators.post_write(project) if hooks else ())
    return writer.apply(PromotionPatch(writer.current_hash(), "test", "test", changes=changes))


def setup(repo: Path, config: str = BUILTIN_CONFIG, *, docs: int = 3) -> None:
    (repo / "regauto.toml").write_text(config)
    if docs:
        apply(repo, {doc_id(i): rec(i, p) for i, p in enumerate(
            ["docs/b.md", "src/a.py", "docs/a.md", "src/z.py"][:docs], start=1)}, hooks=False)


def orch(repo: Path) -> GeneratorOrchestrator:
    return GeneratorOrchestrator(Project.open(repo))


def read(repo: Path, rel: str) -> str:
    return (repo / rel).read_text(encoding="utf-8")


# -- rendering ------------------------------------------------------------------------------
def test_builtins_render_deterministic_parseable_outputs(git_repo: Path, tmp_path: Path) -> None:
    setup(git_repo)
    r = run_regauto("generate", cwd=git_repo)
    assert r.returncode == 0, r.stderr
    first = {p: (git_repo / p).read_bytes() for p in OUTPUTS}
    for p in OUTPUTS:
        (git_repo / p).unlink()
    orch(git_repo).generate()
    assert {p: (git_repo / p).read_bytes() for p in OUTPUTS} == first

    md = read(git_repo, "docs/INDEX.md").splitlines()
    assert md[0].startswith("<!-- regauto-generated: ") and md[0].endswith(" -->")
    rows = [ln for ln in md if ln.startswith("| 2026")]
    assert rows == [  # sorted by path, summary from the title or the docstring summary
        f"| {doc_id(3)} | docs/a.md | doc | Title 3 |",
        f"| {doc_id(1)} | docs/b.md | doc | Title 1 |",
        f"| {doc_id(2)} | src/a.py | source | Mod 2. |",
    ]
    data = json.loads(read(git_repo, "out/index.json"))
    assert set(data) == {"_regauto", "documents"}
    assert [d["path"] for d in data["documents"]] == ["docs/a.md", "docs/b.md", "src/a.py"]
    assert data["documents"][0] == {"doc_id": doc_id(3), "path": "docs/a.md", "kind": "markdown",
                                    "role": "doc", "tags": ["file", "text"], "summary": "Title 3"}
    csv_lines = read(git_repo, "out/index.csv").splitlines()
    assert csv_lines[0].startswith("# regauto-generated: ")
    assert csv_lines[1:] == ["doc_id,path,kind,role,summary",
                             f"{doc_id(3)},docs/a.md,markdown,doc,Title 3",
                             f"{doc_id(1)},docs/b.md,markdown,doc,Title 1",
                             f"{doc_id(2)},src/a.py,python,source,Mod 2."]


def test_equal_registries_give_identical_outputs(tmp_path: Path) -> None:
    """Two repositories reach the same registry by different patches and histories."""

    repos = []
    for name in ("one", "two"):
        repo = tmp_path / name
        repo.mkdir()
        git(repo, "init", "-q")
        (repo / "regauto.toml").write_text(BUILTIN_CONFIG)
        repos.append(repo)
    one, two = repos
    apply(one, {doc_id(1): rec(1, "docs/b.md"), doc_id(2): rec(2, "src/a.py")})
    apply(one, {doc_id(3): rec(3, "docs/a.md")})
    apply(two, {doc_id(3): rec(3, "docs/a.md", role="other")}, hooks=False)
    orch(two).generate()  # rendered once from a different registry, then brought equal
    apply(two, {doc_id(2): rec(2, "src/a.py"), doc_id(1): rec(1, "docs/b.md"),
                doc_id(3): {"role": "doc"}})
    for p in OUTPUTS:
        assert (one / p).read_bytes() == (two / p).read_bytes(), p


def test_markdown_cells_escape_pipes_and_newlines(git_repo: Path) -> None:
    setup(git_repo, docs=0)
    apply(git_repo, {doc_id(1): rec(1, "docs/a|b.md", descriptor={"title": "A | B\ntwo"})})
    row = [ln for ln in read(git_repo, "docs/INDEX.md").splitlines() if ln.startswith("| 2026")]
    assert row == [f"| {doc_id(1)} | docs/a\\|b.md | doc | A \\| B two |"]


# -- markers --------------------------------------------------------------------------------
H = "sha256:" + "1" * 64


@settings(max_examples=60, deadline=None)
@given(body=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=200),
       ext=st.sampled_from(["md", "csv", "txt", "rst", "js", "css", "sql", "html"]))
def test_marker_round_trip_and_any_edit_is_seen(body: str, ext: str) -> None:
    path = f"out/file.{ext}"
    text = marker.attach(path, body, H)
    parsed = marker.parse(path, text)
    assert parsed is not None and parsed.input == H and not parsed.edited
    first = text.index("\n") + 1
    edited = text[:first] + "x" + text[first:]
    again = marker.parse(path, edited)
    assert again is not None and again.edited


@pytest.mark.parametrize("body", ['{"a": 1}', "{}", '{\n  "documents": []\n}\n', "  {\"x\": [1]}"])
def test_json_marker_is_a_top_level_key(body: str) -> None:
    text = marker.attach("o.json", body, H)
    data = json.loads(text)
    assert data["_regauto"]["input"] == H
    assert {k: v for k, v in data.items() if k != "_regauto"} == json.loads(body)
    parsed = marker.parse("o.json", text)
    assert parsed is not None and not parsed.edited
    # Reformatting the file is an edit: the marker is found by position, not searched for.
    assert marker.parse("o.json", json.dumps(data, indent=4)) is None


@pytest.mark.parametrize("body", ["[1, 2]", "not json", '{"_regauto": 1}'])
def test_json_body_that_cannot_carry_the_marker_is_refused(body: str) -> None:
    with pytest.raises(UsageError):
        marker.attach("o.json", body, H)


# -- stale and edited -----------------------------------------------------------------------
def test_check_exit_codes_and_lines(git_repo: Path) -> None:
    setup(git_repo)
    r = run_regauto("generate", "--check", cwd=git_repo)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        f"{p}: stale_output ({n}): missing; run: regauto generate {n}"
        for p, n in zip(OUTPUTS, ("index", "json", "csv"), strict=True)
    ]
    assert not any((git_repo / p).exists() for p in OUTPUTS)  # --check wrote nothing
    assert run_regauto("generate", cwd=git_repo).returncode == 0
    r = run_regauto("generate", "--check", cwd=git_repo)
    assert (r.returncode, r.stdout) == (0, "")


def test_stale_after_registry_change_then_generate_repairs(git_repo: Path) -> None:
    setup(git_repo)
    o = orch(git_repo)
    o.generate()
    apply(git_repo, {doc_id(4): rec(4, "src/z.py")}, hooks=False)
    drifts = o.check()
    assert [(d.kind, d.name) for d in drifts] == [
        ("stale_output", "index"), ("stale_output", "json"), ("stale_output", "csv")]
    assert "registry" in drifts[0].detail
    results = o.generate()
    assert all(r.changed for r in results)
    assert "src/z.py" in read(git_repo, "docs/INDEX.md")
    assert o.check() == []


def test_change_outside_an_outputs_fields_leaves_it_alone(git_repo: Path) -> None:
    setup(git_repo)
    orch(git_repo).generate()
    before = {p: (git_repo / p).stat().st_mtime_ns for p in OUTPUTS}
    # A new blob (content edit) changes none of the index fields; new tags only the JSON.
    apply(git_repo, {doc_id(1): {"blob": "f" * 40, "size": 99}}, hooks=False)
    assert orch(git_repo).check() == []
    apply(git_repo, {doc_id(1): {"tags": ["file", "markdown", "text"]}}, hooks=False)
    assert [d.name for d in orch(git_repo).check()] == ["json"]
    results = {r.name: r.changed for r in orch(git_repo).generate()}
    assert results == {"index": False, "json": True, "csv": False}
    after = {p: (git_repo / p).stat().st_mtime_ns for p in OUTPUTS}
    assert after["docs/INDEX.md"] == before["docs/INDEX.md"]
    assert after["out/index.csv"] == before["out/index.csv"]


@pytest.mark.parametrize("rel", OUTPUTS)
def test_hand_edit_is_reported_and_repaired(git_repo: Path, rel: str) -> None:
    setup(git_repo)
    orch(git_repo).generate()
    good = (git_repo / rel).read_bytes()
    text = read(git_repo, rel)
    (git_repo / rel).write_text(text.replace("Title 1", "Title one"), encoding="utf-8")
    [d] = orch(git_repo).check()
    assert d == OutputDrift("edited_output", d.name, rel, "changed by hand since it was generated")
    orch(git_repo).generate()
    assert (git_repo / rel).read_bytes() == good


def test_cli_reports_edited_and_stale_and_second_generate_changes_nothing(
    git_repo: Path,
) -> None:
    setup(git_repo)
    assert run_regauto("generate", cwd=git_repo).returncode == 0
    csv_text = read(git_repo, "out/index.csv")  # a hand edit that also mangled the marker
    (git_repo / "out/index.csv").write_text(csv_text.replace("sum=sha256:", "sum=") + "x\n")
    apply(git_repo, {doc_id(4): rec(4, "src/z.py")}, hooks=False)
    r = run_regauto("generate", "--check", cwd=git_repo)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0].startswith("docs/INDEX.md: stale_output (index): ")
    assert lines[2].startswith("out/index.csv: edited_output (csv): no readable regauto marker")
    assert all(ln.endswith(f"run: regauto generate {n}")
               for ln, n in zip(lines, ("index", "json", "csv"), strict=True))
    assert run_regauto("generate", cwd=git_repo).returncode == 0
    stamp = {p: ((git_repo / p).stat().st_mtime_ns, (git_repo / p).read_bytes()) for p in OUTPUTS}
    r = run_regauto("generate", cwd=git_repo)
    assert r.returncode == 0 and "up to date" in r.stderr
    assert {p: ((git_repo / p).stat().st_mtime_ns, (git_repo / p).read_bytes())
            for p in OUTPUTS} == stamp
    assert run_regauto("generate", "--check", cwd=git_repo).returncode == 0


def test_check_writes_nothing_in_the_repository(git_repo: Path) -> None:
    setup(git_repo)
    orch(git_repo).generate()
    with open(git_repo / "docs/INDEX.md", "a") as f:
        f.write("edited\n")
    apply(git_repo, {doc_id(4): rec(4, "src/z.py")}, hooks=False)

    def tree() -> dict[str, bytes]:
        return {str(p.relative_to(git_repo)): p.read_bytes() for p in git_repo.rglob("*")
                if p.is_file() and ".git" not in p.parts}

    before = tree()
    assert len(orch(git_repo).check()) == 3
    assert tree() == before


def test_unchanged_registry_is_checked_without_reading_a_shard(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(git_repo, docs=4)
    orch(git_repo).generate()
    from regauto.registry.store import RegistryStore

    def no_reads(self: RegistryStore, name: str) -> None:
        raise AssertionError(f"read shard {name}")

    monkeypatch.setattr(RegistryStore, "read_shard", no_reads)
    assert orch(git_repo).check() == []
    assert all(not r.changed for r in orch(git_repo).generate())


def test_names_select_generators_and_unknown_name_is_exit_2(git_repo: Path) -> None:
    setup(git_repo)
    r = run_regauto("generate", "csv", cwd=git_repo)
    assert r.returncode == 0
    assert [p for p in OUTPUTS if (git_repo / p).exists()] == ["out/index.csv"]
    r = run_regauto("generate", "nope", cwd=git_repo)
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "regauto: error: unknown generator 'nope' (configured: csv, index, json)")
    assert output_paths(Project.open(git_repo)) == list(OUTPUTS)


# -- the post-write hook --------------------------------------------------------------------
def test_post_write_hook_regenerates_after_a_writer_apply(git_repo: Path) -> None:
    setup(git_repo)
    orch(git_repo).generate()
    apply(git_repo, {doc_id(4): rec(4, "src/z.py")})  # the writer runs the hook it is given
    assert "src/z.py" in read(git_repo, "docs/INDEX.md")
    assert orch(git_repo).check() == []
    # Through the CLI as well: `regauto patch -` writes the registry, the hook the outputs.
    project = Project.open(git_repo)
    patch = {"base_hash": open_writer(project).current_hash(), "source": "t", "reason": "r",
             "changes": {doc_id(4): None}}
    r = run_regauto("patch", "-", cwd=git_repo, input=json.dumps(patch))
    assert r.returncode == 0, r.stderr
    assert "src/z.py" not in read(git_repo, "docs/INDEX.md")
    assert orch(git_repo).check() == []


def test_post_write_hook_never_overwrites_a_hand_edit(git_repo: Path) -> None:
    setup(git_repo)
    orch(git_repo).generate()
    mine = read(git_repo, "out/index.csv") + "mine\n"
    (git_repo / "out/index.csv").write_text(mine)
    apply(git_repo, {doc_id(4): rec(4, "src/z.py")})
    assert read(git_repo, "out/index.csv") == mine
    assert "src/z.py" in read(git_repo, "docs/INDEX.md")
    assert [(d.kind, d.name) for d in orch(git_repo).check()] == [("edited_output", "csv")]


def test_registry_moving_during_render_never_leaves_an_older_output(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(git_repo)
    o = orch(git_repo)
    real_render = GeneratorOrchestrator._render
    calls: list[int] = []

    def racing_render(self: GeneratorOrchestrator, *a: Any, **kw: Any) -> Any:
        out = real_render(self, *a, **kw)
        if not calls:  # another process writes the registry while we render
            apply(git_repo, {doc_id(4): rec(4, "src/z.py")}, hooks=False)
        calls.append(1)
        return out

    monkeypatch.setattr(GeneratorOrchestrator, "_render", racing_render)
    o.generate()
    assert len(calls) == 2
    assert "src/z.py" in read(git_repo, "docs/INDEX.md")
    assert o.check() == []


# -- custom generators ----------------------------------------------------------------------
CUSTOM_CONFIG = f"""
[[generators]]
name = "py"
output = "out/paths.txt"
python = "tools.gen:render"

[[generators]]
name = "cmd"
output = "out/count.md"
command = [{json.dumps(sys.executable)}, "tools/count.py"]
"""
GEN_PY = '''
def render(records):
    return "".join(r["path"] + "\\n" for r in records)


def broken(records):
    raise ValueError("no index today")
'''
COUNT_PY = '''
import json, sys
records = json.load(sys.stdin)
print(f"{len(records)} documents, first {records[0]['path']}")
'''


def test_python_and_command_generators(git_repo: Path) -> None:
    (git_repo / "tools").mkdir()
    (git_repo / "tools/gen.py").write_text(GEN_PY)
    (git_repo / "tools/count.py").write_text(COUNT_PY)
    setup(git_repo, CUSTOM_CONFIG)
    assert run_regauto("trust", cwd=git_repo).returncode == 0  # code the repository defines
    r = run_regauto("generate", cwd=git_repo)
    assert r.returncode == 0, r.stderr
    lines = read(git_repo, "out/paths.txt").splitlines()
    assert lines[0].startswith("# regauto-generated: ")
    assert lines[1:] == ["docs/a.md", "docs/b.md", "src/a.py"]
    md = read(git_repo, "out/count.md").splitlines()
    assert md[0].startswith("<!-- regauto-generated: ")
    assert md[1:] == ["3 documents, first docs/a.md"]
    assert run_regauto("generate", "--check", cwd=git_repo).returncode == 0
    # Custom generators see every field: a blob change makes them stale.
    apply(git_repo, {doc_id(1): {"blob": "e" * 40}}, hooks=False)
    assert [d.name for d in orch(git_repo).check()] == ["py", "cmd"]


@pytest.mark.parametrize(
    ("spec", "expect"),
    [
        ('python = "tools.gen:broken"',
         "regauto: error: generator 'bad' (python tools.gen:broken) failed: "
         "ValueError: no index today"),
        ('python = "tools.missing:render"',
         "regauto: error: generator 'bad' (python tools.missing:render) failed: "
         "cannot load tools.missing:render: ModuleNotFoundError: No module named "
         "'tools.missing'"),
        (f'command = [{json.dumps(sys.executable)}, "-c", '
         '"import sys; sys.exit(\'boom: disk on fire\')"]',
         "failed: exited 1: boom: disk on fire"),
    ],
)
def test_failing_generator_is_exit_2_with_one_line(
    git_repo: Path, spec: str, expect: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGAUTO_TRUST", "1")
    (git_repo / "tools").mkdir()
    (git_repo / "tools/gen.py").write_text(GEN_PY)
    config = BUILTIN_CONFIG + f'\n[[generators]]\nname = "bad"\noutput = "out/bad.txt"\n{spec}\n'
    setup(git_repo, config)
    r = run_regauto("generate", cwd=git_repo)
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1 and expect in r.stderr, r.stderr
    assert "generator 'bad'" in r.stderr
    # The others were still written; the failing one was not, and check never runs it.
    assert all((git_repo / p).exists() for p in OUTPUTS)
    assert not (git_repo / "out/bad.txt").exists()
    assert [d.name for d in orch(git_repo).check()] == ["bad"]


def test_output_inside_the_registry_is_refused_at_config_load(git_repo: Path) -> None:
    (git_repo / "regauto.toml").write_text(
        '[[generators]]\nname = "x"\noutput = ".regauto/registry/x.md"\n'
        'builtin = "markdown-index"\n')
    r = run_regauto("generate", cwd=git_repo)
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "regauto: error: regauto.toml: key 'generators[0].output': '.regauto/registry/x.md' "
        "overlaps the registry folder '.regauto/registry'")
    assert sorted(p.name for p in (git_repo / ".regauto/registry").iterdir()) == ["meta.json"]


def test_two_generators_writing_one_output_are_refused(git_repo: Path) -> None:
    config = BUILTIN_CONFIG.replace('output = "out/index.csv"', 'output = "out/index.json"')
    (git_repo / "regauto.toml").write_text(config)
    r = run_regauto("generate", "--check", cwd=git_repo)
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "regauto: error: regauto.toml: key 'generators[2].output': 'out/index.json' collides "
        "with generators[1].output ('out/index.json'); give each generator its own file")


def test_failing_generator_in_the_post_write_hook_names_it(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGAUTO_TRUST", "1")
    (git_repo / "tools").mkdir()
    (git_repo / "tools/gen.py").write_text(GEN_PY)
    setup(git_repo, '[[generators]]\nname = "bad"\noutput = "out/bad.txt"\n'
                    'python = "tools.gen:broken"\n')
    from regauto.generators.custom import GeneratorError

    with pytest.raises(GeneratorError, match=r"generator 'bad'.*registry was written"):
        apply(git_repo, {doc_id(4): rec(4, "src/z.py")})
    from regauto.registry.reader import open_reader

    assert open_reader(Project.open(git_repo)).find("src/z.py")  # the write itself stands
