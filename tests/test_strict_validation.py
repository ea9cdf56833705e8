"""Strict validation of what regauto reads (issue 10, reproductions r2, r3, r9, r10, r11):
full-match ids and blobs, ids more than a day in the future, JSON nested too deep, lone
surrogates, shards that are not UTF-8, oversized patches, a ``meta.json`` of another
format — each an exit 2 with one line naming the file (nothing changed) or a drift that
``fix`` repairs, never an internal error (exit 4)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import make_tree
from pipeline_helpers import REGISTRY, by_path, regauto, registry_bytes, sync
from regauto import jsonload
from regauto.errors import PatchError
from regauto.git import blob_id
from regauto.registry import records
from registry_helpers import Registry, simple, snapshot, write_shards
from registry_helpers import record as helper_record

FAR = "9999123123599999"


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("regauto: error: "), proc.stderr
    return lines[0]


def rec(path: str, doc_id: str, content: bytes, **fields: Any) -> dict[str, Any]:
    return {"path": path, "doc_id": doc_id, "id_mode": "registry", "kind": "text",
            "tags": ["file", "text"], "role": "other", "blob": blob_id(content),
            "size": len(content), "descriptor": {}, **fields}


def patch(repo: Path, changes: dict[str, Any],
          raw: str | None = None) -> subprocess.CompletedProcess[str]:
    base = regauto(repo, "hash").stdout.strip()
    body = raw if raw is not None else json.dumps(changes)
    text = f'{{"base_hash": "{base}", "source": "t", "reason": "t", "changes": {body}}}'
    return subprocess.run([sys.executable, "-m", "regauto", "patch", "-"], cwd=repo,
                          input=text, capture_output=True, text=True, check=False)


@pytest.fixture
def repo(git_repo: Path) -> Path:
    make_tree(git_repo, {"a.txt": "a\n"})
    sync(git_repo, "--all")
    return git_repo


def shard_of(repo: Path, path: str) -> Path:
    return repo / REGISTRY / records.shard_of(path)


def edit_shard(repo: Path, path: str, old: str, new: str) -> None:
    shard = shard_of(repo, path)
    text = shard.read_text(encoding="utf-8")
    assert old in text
    shard.write_text(text.replace(old, new, 1), encoding="utf-8")


# -- r2: a trailing newline ----------------------------------------------------------------

def test_an_id_or_blob_with_a_trailing_newline_is_refused(repo: Path) -> None:
    a_id = by_path(repo)["a.txt"]["doc_id"]
    make_tree(repo, {"b.txt": "b\n"})
    before = registry_bytes(repo)
    for key, fields in ((a_id + "\n", rec("b.txt", a_id + "\n", b"b\n")),
                        ("2026010100000001", rec("b.txt", "2026010100000001", b"b\n",
                                                 blob=blob_id(b"b\n") + "\n"))):
        proc = patch(repo, {key: fields})
        assert proc.returncode == 2, proc.stderr
        one_line(proc)
        assert registry_bytes(repo) == before
    # A hand-edited line with such an id is an invalid record, not a clean registry.
    edit_shard(repo, "a.txt", f'"{a_id}"', f'"{a_id}\\n"')
    proc = regauto(repo, "check", "--format", "json")
    assert proc.returncode == 1
    kinds = {d["kind"] for d in json.loads(proc.stdout) if d["path"] == "a.txt"}
    assert "invalid_record" in kinds


def test_shard_names_blobs_and_hashes_are_full_matches() -> None:
    from regauto.registry.promotion_patch import PromotionPatch
    from regauto.registry.store import is_registry_file

    assert is_registry_file("ab.jsonl") and not is_registry_file("ab.jsonl\n")
    assert records.problems(dict(helper_record(1), blob="a" * 40 + "\n"))
    with pytest.raises(PatchError, match="base_hash"):
        PromotionPatch("sha256:" + "0" * 64 + "\n", "t", "t", changes={})


# -- r3: an id far in the future -----------------------------------------------------------

def test_the_writer_refuses_an_id_more_than_a_day_ahead(repo: Path) -> None:
    make_tree(repo, {"far.txt": "far\n"})
    before = registry_bytes(repo)
    proc = patch(repo, {FAR: rec("far.txt", FAR, b"far\n")})
    assert proc.returncode == 2
    assert FAR in one_line(proc) and "future" in proc.stderr
    soon = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1, minutes=5)).strftime(
        "%Y%m%d%H%M") + "0001"
    assert patch(repo, {soon: rec("far.txt", soon, b"far\n")}).returncode == 2
    assert registry_bytes(repo) == before


def test_a_far_future_id_in_the_registry_is_an_invalid_record_that_fix_replaces(
        repo: Path) -> None:
    make_tree(repo, {"far.txt": "far\n"})
    sync(repo, "far.txt")
    edit_shard(repo, "far.txt", f'"{by_path(repo)["far.txt"]["doc_id"]}"', f'"{FAR}"')
    proc = regauto(repo, "check", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    [bad] = [d for d in json.loads(proc.stdout) if d["kind"] == "invalid_record"]
    assert bad["path"] == "far.txt" and "more than one day in the future" in bad["detail"]
    # It is not the allocator's floor: a new file gets an id of now, not of year 9999.
    make_tree(repo, {"b.txt": "b\n"})
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d")
    sync(repo, "b.txt")
    assert by_path(repo)["b.txt"]["doc_id"][:8] in (now, str(int(now) + 1))
    fixed = regauto(repo, "fix")
    assert fixed.returncode == 0, fixed.stderr
    new = by_path(repo)["far.txt"]["doc_id"]
    assert new != FAR and new[:4] != "9999"
    assert regauto(repo, "check").returncode == 0


# -- r9: JSON nested too deep ----------------------------------------------------------------

def test_a_deeply_nested_shard_line_is_exit_2_naming_it_and_fix_repairs_it(repo: Path) -> None:
    shard = shard_of(repo, "a.txt")
    with shard.open("a", encoding="utf-8") as f:
        f.write('{"a": ' * 100_000 + "1" + "}" * 100_000 + "\n")
    for args in (("check",), ("ls",), ("show", "a.txt")):
        proc = regauto(repo, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert f"{shard.name}:2: malformed JSON (nested deeper than" in one_line(proc)
    fixed = regauto(repo, "fix")
    assert fixed.returncode == 0, fixed.stderr
    assert regauto(repo, "check").returncode == 0
    assert "a.txt" in by_path(repo)


def test_a_patch_nested_past_the_cap_is_exit_2(repo: Path) -> None:
    before = registry_bytes(repo)
    deep = "[" * (jsonload.MAX_NESTING + 1) + "]" * (jsonload.MAX_NESTING + 1)
    proc = patch(repo, {}, raw=json.dumps({"2026010100000001": {"descriptor": {"d": 0}}})
                 .replace("0}", deep + "}"))
    assert proc.returncode == 2
    assert "nested deeper than 100 levels" in one_line(proc)
    assert registry_bytes(repo) == before


def test_the_merge_driver_refuses_deep_input_and_writes_nothing(tmp_path: Path) -> None:
    ok = records.dumps(rec("a.txt", "2026010100000001", b"a\n")) + "\n"
    deep = ok + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "\n"
    for name, content in (("base", ok), ("ours", ok), ("theirs", deep)):
        (tmp_path / name).write_text(content, encoding="utf-8")
    proc = regauto(tmp_path, "merge-driver", "base", "ours", "theirs", "reg/00.jsonl")
    assert proc.returncode == 2
    assert "(theirs):2" in one_line(proc)
    assert (tmp_path / "ours").read_text(encoding="utf-8") == ok


def test_jsonload_reports_the_bracket_that_goes_too_deep() -> None:
    assert jsonload.loads("[" * 100 + "]" * 100) is not None
    with pytest.raises(json.JSONDecodeError) as e:
        jsonload.loads('{"x": "[[[[", "y": ' + "[" * 101 + "]" * 101 + "}")
    # The object is level 1: the 100th bracket is the 101st level (1-based column).
    assert e.value.colno == len('{"x": "[[[[", "y": ') + 100
    assert jsonload.loads('"\\ud83d\\ude00"', strict=True) == "\U0001f600"  # a pair: fine
    with pytest.raises(json.JSONDecodeError, match="lone surrogate"):
        jsonload.loads('["\\ud800"]', strict=True)


# -- r10: a shard that is not UTF-8 ----------------------------------------------------------

def test_fix_repairs_a_shard_that_is_not_utf8(repo: Path) -> None:
    shard = shard_of(repo, "a.txt")
    shard.write_bytes(shard.read_bytes().replace(b"descriptor", b"descr\xffptor", 1))
    proc = regauto(repo, "check")
    assert proc.returncode == 2
    assert f"{shard.name}:1: not valid UTF-8" in one_line(proc)
    fixed = regauto(repo, "fix")
    assert fixed.returncode == 0, fixed.stderr
    assert "kept changing" not in fixed.stderr + fixed.stdout
    assert "bytes that were not UTF-8 became U+FFFD" in fixed.stderr + fixed.stdout
    assert b"\xff" not in shard.read_bytes()
    assert regauto(repo, "check").returncode == 0


# -- r11: lone surrogates ------------------------------------------------------------------------

def test_a_lone_surrogate_in_a_patch_is_exit_2(repo: Path) -> None:
    before = registry_bytes(repo)
    fields = json.dumps(rec("x.txt", "2026010100000001", b"x")).replace(
        '"kind": "text"', '"kind": "\\ud800"')
    proc = patch(repo, {}, raw='{"2026010100000001": ' + fields + "}")
    assert proc.returncode == 2
    assert "lone surrogate" in one_line(proc)
    assert registry_bytes(repo) == before


def test_the_writer_refuses_a_lone_surrogate_from_any_patch_before_writing(
        tmp_path: Path) -> None:
    # An in-process patch (the pipeline's) is not parsed from JSON: the writer itself
    # refuses the text it cannot encode, before any backup, temp or journal.
    reg = Registry(tmp_path)
    write_shards(reg.dir, [helper_record(1)])
    before = snapshot(tmp_path)
    rec = helper_record(2, descriptor={"summary": "bad \ud800"})
    with pytest.raises(PatchError, match="lone surrogate"):
        reg.writer().apply(simple(reg.hash(), {rec["doc_id"]: rec}))
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k.startswith("registry/")} == \
        {k: v for k, v in before.items() if k.startswith("registry/")}
    assert not [k for k in after if "backups/" in k or "journal" in k or "tmp" in k]


def test_a_python_docstring_spelling_a_surrogate_does_not_block_sync(git_repo: Path) -> None:
    make_tree(git_repo, {"m.py": '"""Bad \\ud800 doc."""\n__all__ = ["\\udc80"]\n'})
    sync(git_repo, "m.py")
    desc = by_path(git_repo)["m.py"]["descriptor"]
    assert desc["summary"] == "Bad \ufffd doc." and desc["all"] == ["\ufffd"]


def test_a_lone_surrogate_in_a_shard_is_an_invalid_record_fix_repairs(repo: Path) -> None:
    edit_shard(repo, "a.txt", '"kind": "text"', '"kind": "\\udc80"')
    proc = regauto(repo, "check", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    [bad] = json.loads(proc.stdout)
    assert bad["kind"] == "invalid_record" and "lone surrogate" in bad["detail"]
    fixed = regauto(repo, "fix")
    assert fixed.returncode == 0, fixed.stderr
    assert regauto(repo, "check").returncode == 0


# -- the other one-line errors -------------------------------------------------------------------

def test_patch_input_is_capped(repo: Path) -> None:
    before = registry_bytes(repo)
    proc = regauto(repo, "patch", "/dev/zero", timeout=60)
    assert proc.returncode == 2
    assert "max_patch_bytes" in one_line(proc)
    config = repo / "regauto.toml"
    config.write_text("max_patch_bytes = 64\n", encoding="utf-8")
    proc = patch(repo, {})
    assert proc.returncode == 2 and "longer than max_patch_bytes (64 bytes)" in one_line(proc)
    config.write_text("max_patch_bytes = 0\n", encoding="utf-8")
    assert "max_patch_bytes" in one_line(regauto(repo, "hash"))
    assert registry_bytes(repo) == before


@pytest.mark.parametrize("meta", ['{"regauto": "registry", "schema": 99, "shards": 256}\n',
                                  "garbage\n"])
def test_ls_and_show_refuse_a_meta_json_of_another_format(repo: Path, meta: str) -> None:
    (repo / REGISTRY / "meta.json").write_text(meta, encoding="utf-8")
    for args in (("ls",), ("show", "a.txt")):
        proc = regauto(repo, *args)
        assert proc.returncode == 2, (args, proc.stdout)
        assert "meta.json" in one_line(proc)


def test_queue_retry_of_an_id_past_64_bits_is_exit_2(repo: Path) -> None:
    proc = regauto(repo, "queue", "retry", "99999999999999999999999")
    assert proc.returncode == 2
    assert "no such job" in one_line(proc)
