"""Which committed files may refer to a renamed file, without reading them all (issue 13).

The pre-commit hook rewrites the references to a file it renames.  Finding them by reading
every Markdown/reST file (``git grep``) costs in proportion to the repository; this index
answers from one pass over a small database.  It lists, per file that can hold references
(``references.can_refer``) in one commit (its *base*, the last ``HEAD`` it was brought
to), the *names* the file mentions: every piece of its text between delimiters (white
space, brackets, quotes, ``/``, ``#``…), and each such piece cut at each of its dots
(``a.b.md`` gives ``a.b.md``, ``a.b`` and ``a``).  Any reference to ``x/stem.md`` writes
the file's name as such a piece — after ``/`` or a delimiter, before ``.``, ``#`` or a
delimiter, or percent-encoded — so the files whose names include ``stem`` are every file
``git grep stem`` would find that can refer to it (a name holding a delimiter itself is
not answered here: the caller greps).

A query brings the base to the current ``HEAD`` first (the files the commits between
changed are read again: after a commit, a few; with no base, every one), then adds the
files the index stages differently from ``HEAD`` (read whole by the caller): what the
commit will hold.  A link only in an unstaged edit is not part of the commit and is not
looked for (finding those would stat every document); ``check --references all`` reports
it, and ``fix`` rewrites it.  The index lives in its own database in the state dir
(``refs.db``), a cache only: lost or corrupt, it is rebuilt from the repository at the
next query.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

from regauto import git, statedb
from regauto.automation import references
from regauto.errors import GitError

DB_NAME = "refs.db"
COMPONENT = "ref_index"
# One row per file, its names NUL-separated (NUL before the first and after the last): a
# query is one pass of ``instr`` over a few MB, and a full build inserts one row per file.
MIGRATIONS = [
    """
    CREATE TABLE ref_index_base (one INTEGER PRIMARY KEY CHECK (one = 1), base TEXT NOT NULL);
    CREATE TABLE ref_index_files (path BLOB PRIMARY KEY, names BLOB NOT NULL) WITHOUT ROWID;
    """,
]
_DELIMITERS = rb"\s()\[\]<>{}\"'`|,;:=/#?"
_SPLIT = re.compile(rb"[" + _DELIMITERS + rb"]+|%2[fF]")
_HAS_DELIMITER = re.compile(rb"[" + _DELIMITERS + rb"]|%2[fF]")
_READ_BATCH = 5000
_EMPTY_TREES = {40: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
                64: "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321"}


def names_in(data: bytes) -> set[bytes]:
    """The names ``data`` mentions (see the module's docstring)."""
    out: set[bytes] = set()
    for piece in _SPLIT.split(data):
        if not piece:
            continue
        out.add(piece)
        dot = piece.find(b".", 1)
        while dot != -1:
            out.add(piece[:dot])
            dot = piece.find(b".", dot + 1)
    return out


def answers(words: Iterable[str]) -> bool:
    """Whether the index can tell the files mentioning ``words``."""
    return not any(_HAS_DELIMITER.search(_enc(w)) for w in words)


def mentioning(root: Path, state_dir: Path, words: list[str],
               staged: Mapping[str, bool] | None = None) -> list[str] | None:
    """The files that may mention one of ``words`` in what the next commit holds
    (``HEAD`` and the staged changes; ``staged``: those, path -> still in the index, when
    the caller has them); None when the index cannot tell (no commit yet, a word with a
    delimiter, another process moving the base meanwhile): the caller greps."""
    if not words or not answers(words):
        return None
    try:
        head = git.commit_of(root, "HEAD")
        if head is None:
            return None
        if staged is None:
            staged = _staged(root)
        conn = statedb.connect(state_dir, DB_NAME)
    except (GitError, OSError, sqlite3.Error):
        return None
    try:
        statedb.migrate(conn, COMPONENT, MIGRATIONS)
        if not _bring_to(conn, root, head):
            return None
        found = set(_lookup(conn, [_enc(w) for w in words]))
    except (GitError, sqlite3.Error):
        return None
    finally:
        conn.close()
    found.difference_update(staged)
    found.update(p for p, present in staged.items() if present and references.can_refer(p))
    return sorted(found)


def _staged(root: Path) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for c in git.staged_changes(root):
        out[c.path] = c.blob is not None
        if c.status == "R" and c.old_path is not None:
            out[c.old_path] = False
    return out


def _enc(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _packed(names: set[bytes]) -> bytes:
    return b"\0" + b"\0".join(sorted(names)) + b"\0"


def _lookup(conn: sqlite3.Connection, names: list[bytes]) -> list[str]:
    where = " OR ".join(["instr(names, ?) > 0"] * len(names))
    rows = conn.execute(f"SELECT path FROM ref_index_files WHERE {where}",
                        [b"\0" + n + b"\0" for n in names]).fetchall()
    return [bytes(r[0]).decode("utf-8", "surrogateescape") for r in rows]


def _base(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT base FROM ref_index_base").fetchone()
    return None if row is None else str(row[0])


def _bring_to(conn: sqlite3.Connection, root: Path, head: str) -> bool:
    """Make the index that of ``head``; False if another process moved it meanwhile.
    The files are read outside the write transaction, which only checks that the base is
    still the one the changes were computed from."""
    base = _base(conn)
    if base == head:
        return True
    changes = None
    if base is not None:
        try:
            changes = git.changes_between(root, base, head)
        except GitError:
            pass  # the old base is gone (history rewritten, objects pruned): rebuild
    whole = changes is None
    if changes is None:
        empty = _EMPTY_TREES.get(len(head))
        if empty is None:
            return False
        changes = git.changes_between(root, empty, head)
    gone = {c.path for c in changes} | {c.old_path for c in changes
                                         if c.status == "R" and c.old_path}
    fresh = [(c.path, c.blob) for c in changes
             if c.blob is not None and c.mode != "160000" and references.can_refer(c.path)]
    rows = []
    for at in range(0, len(fresh), _READ_BATCH):  # a batch's blobs in memory at a time
        batch = fresh[at:at + _READ_BATCH]
        blobs = git.cat_blobs(root, [blob for _, blob in batch])
        rows += [(_enc(path), _packed(names_in(blobs[blob]))) for path, blob in batch]
    with statedb.transaction(conn):
        if _base(conn) != base:
            return False
        if whole:
            conn.execute("DELETE FROM ref_index_files")
        else:
            conn.executemany("DELETE FROM ref_index_files WHERE path = ?",
                             ((_enc(p),) for p in gone))
        conn.executemany("INSERT OR REPLACE INTO ref_index_files (path, names) VALUES (?, ?)",
                         rows)
        conn.execute("INSERT INTO ref_index_base (one, base) VALUES (1, ?) ON CONFLICT (one)"
                     " DO UPDATE SET base = excluded.base", (head,))
    return True

