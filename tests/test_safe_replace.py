"""Header writes never lose what another process writes to the same file meanwhile.

A real appender process appends to the files while a real ``regauto sync`` gives them their
headers (the shape of issue 10's ``r6``); every append it made must be in its file after.
A file that changed under the write is left for later ("will retry", exit 1) and the next
sync registers it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from pipeline_helpers import records, regauto
from regauto import safe_replace

APPENDER = r"""
import os, random, sys
folder, n, log, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
k = 0
with open(log, "w") as out:
    while not os.path.exists(stop):
        i = random.randrange(n)
        with open(f"{folder}/m{i}.py", "a") as f:  # an editor or tool appending in place
            f.write(f"# edit {k}\n")
        out.write(f"{i} {k}\n")  # logged after the append: the log never claims too much
        k += 1
"""


def _race_once(root: Path, n: int) -> tuple[int, int, subprocess.CompletedProcess[str]]:
    """(appends made, appends lost, the sync) for one sync racing one appender."""
    repo = root / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    assert regauto(repo, "init", "--hooks", "none").returncode == 0
    (repo / "src").mkdir()
    for i in range(n):
        (repo / "src" / f"m{i}.py").write_text(f'"""m{i}."""\n')
    log, stop = root / "appends.log", root / "stop"
    appender = subprocess.Popen(
        [sys.executable, "-c", APPENDER, str(repo / "src"), str(n), str(log), str(stop)])
    try:
        time.sleep(0.2)
        proc = regauto(repo, "sync", "src")
        time.sleep(0.1)
    finally:
        stop.touch()
        assert appender.wait(timeout=30) == 0
    made = [tuple(map(int, line.split())) for line in log.read_text().splitlines()]
    contents = {i: (repo / "src" / f"m{i}.py").read_text() for i in range(n)}
    lost = sum(1 for i, k in made if f"# edit {k}\n" not in contents[i])
    return len(made), lost, proc


def _race(tmp_path: Path, runs: int, n: int) -> None:
    for run in range(runs):
        root = tmp_path / f"run{run}"
        root.mkdir()
        made, lost, proc = _race_once(root, n)
        assert made > 1000, "the appender did not run alongside the sync"
        assert lost == 0, f"run {run}: {lost} of {made} appends lost\n{proc.stderr}"
        assert proc.returncode in (0, 1), proc.stderr
        retried = (proc.stdout + proc.stderr).count(safe_replace.CHANGED)
        assert (proc.returncode == 1) == (retried > 0), proc.stdout + proc.stderr
        # The files left for later are done by the next sync, once nobody writes to them.
        again = regauto(root / "repo", "sync", "src")
        assert again.returncode == 0, again.stdout + again.stderr
        assert len(records(root / "repo")) == n


def test_a_concurrent_appender_loses_nothing_to_header_writes(tmp_path: Path) -> None:
    _race(tmp_path, runs=2, n=200)


@pytest.mark.slow
def test_a_concurrent_appender_loses_nothing_in_twenty_runs_of_600_files(
        tmp_path: Path) -> None:
    _race(tmp_path, runs=20, n=600)


def _append_with_another_process(path: Path) -> None:
    subprocess.run(["sh", "-c", 'printf "# theirs\\n" >> "$1"', "sh", str(path)], check=True)


def test_a_file_changed_before_the_swap_is_left_as_the_other_writer_made_it(
        tmp_path: Path) -> None:
    target, folder = tmp_path / "m.py", tmp_path / "tmp"
    folder.mkdir()
    target.write_bytes(b"x = 1\n")
    with pytest.raises(safe_replace.ChangedError, match="will retry"):
        safe_replace.replace_if_unchanged(
            target, b"x = 1\n", b"# doc_id: 1\nx = 1\n", 0o644, folder,
            before_replace=lambda: _append_with_another_process(target))
    assert target.read_bytes() == b"x = 1\n# theirs\n"
    assert list(folder.iterdir()) == []  # no temp file left behind


def test_an_unchanged_file_is_replaced_with_its_mode_and_no_temp_file_left(
        tmp_path: Path) -> None:
    target, folder = tmp_path / "run.sh", tmp_path / "tmp"
    folder.mkdir()
    target.write_bytes(b"echo hi\n")
    target.chmod(0o755)
    safe_replace.replace_if_unchanged(target, b"echo hi\n", b"# doc_id: 1\necho hi\n",
                                      0o755, folder)
    assert target.read_bytes() == b"# doc_id: 1\necho hi\n"
    assert target.stat().st_mode & 0o777 == 0o755
    assert list(folder.iterdir()) == []


def test_the_commit_hook_fails_once_when_a_file_changes_under_its_header_write(
        git_repo: Path) -> None:
    repo = git_repo
    assert regauto(repo, "init", "--hooks", "git").returncode == 0
    (repo / "src").mkdir()
    busy = repo / "src" / "busy.py"
    busy.write_text('"""Busy."""\n')
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    stop = repo.parent / "stop"
    appender = subprocess.Popen([sys.executable, "-c", (
        "import os, sys\n"
        "k = 0\n"
        "while not os.path.exists(sys.argv[2]):\n"
        "    with open(sys.argv[1], 'a') as f: f.write(f'# edit {k}\\n')\n"
        "    k += 1\n"
        "print(k)\n"), str(busy), str(stop)], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.2)
        commit = subprocess.run(["git", "commit", "-qm", "busy"], cwd=repo,
                                capture_output=True, text=True, timeout=120)
    finally:
        stop.touch()
        made = int(appender.communicate(timeout=30)[0])
    assert commit.returncode == 1, commit.stderr
    assert safe_replace.CHANGED in commit.stderr
    text = busy.read_text()
    assert all(f"# edit {k}\n" in text for k in range(made))  # nothing lost
    assert "doc_id" not in text  # left as the other writer made it
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    again = subprocess.run(["git", "commit", "-qm", "busy"], cwd=repo, capture_output=True,
                           text=True, timeout=120)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)  # the header it added
    if again.returncode != 0:
        again = subprocess.run(["git", "commit", "-qm", "busy"], cwd=repo,
                               capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "src/busy.py" in {r["path"] for r in records(repo)}


def test_a_batch_replaces_the_unchanged_files_and_leaves_a_changed_one_alone(
        tmp_path: Path) -> None:
    folder = tmp_path / "tmp"
    folder.mkdir()
    files = [tmp_path / f"m{i}.py" for i in range(5)]
    for i, f in enumerate(files):
        f.write_bytes(f"x = {i}\n".encode())
    files[4].chmod(0o755)
    _append_with_another_process(files[2])  # after regauto read it: the batch must see it
    batch = [safe_replace.Replacement(f, f"x = {i}\n".encode(),
                                      f"# doc_id: {i}\nx = {i}\n".encode(),
                                      0o755 if i == 4 else 0o644, folder)
             for i, f in enumerate(files)]
    swaps = safe_replace.Swaps()
    try:
        failed = swaps.replace_many(batch)
    finally:
        undone = swaps.settle()
    assert undone == []
    assert set(failed) == {files[2]}
    assert isinstance(failed[files[2]], safe_replace.ChangedError)
    assert files[2].read_bytes() == b"x = 2\n# theirs\n"
    for i in (0, 1, 3, 4):
        assert files[i].read_bytes() == f"# doc_id: {i}\nx = {i}\n".encode()
    assert files[4].stat().st_mode & 0o777 == 0o755
    assert list(folder.iterdir()) == []


def test_header_writes_whose_temp_folder_is_on_another_file_system(tmp_path: Path) -> None:
    """The state dir on another file system (a rename across is EXDEV): each file's temp
    is made next to it instead, and no temp file is left anywhere."""
    from regauto.automation import disk_jobs

    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system to put the state dir on")
    state = Path(tempfile.mkdtemp(dir=shm))
    try:
        (tmp_path / "src").mkdir()
        for i in range(3):
            (tmp_path / "src" / f"m{i}.py").write_text(f'"""m{i}."""\n')
        ctx = disk_jobs.Context(tmp_path, state, 1 << 20, 1000)
        ids = [f"202611260000000{i + 1}" for i in range(3)]
        done = disk_jobs.run_chunk(ctx, [disk_jobs.Job(f"src/m{i}.py", "python", ids[i])
                                         for i in range(3)])
        assert [d.error for d in done] == ["", "", ""]
        for i in range(3):
            text = (tmp_path / "src" / f"m{i}.py").read_text()
            assert text.startswith(f"# doc_id: {ids[i]}\n")
            assert text.endswith(f'"""m{i}."""\n')
        assert sorted(p.name for p in (tmp_path / "src").iterdir()) == [
            "m0.py", "m1.py", "m2.py"]
        assert list((state / "tmp").iterdir()) == []
    finally:
        shutil.rmtree(state, ignore_errors=True)
