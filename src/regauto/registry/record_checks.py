"""What the writer refuses in a record it is about to write (SPEC §3, §11).

A patch is refused whole (``PatchError``, exit 2, nothing written) when one of its records
is not valid — a doc_id that is malformed or more than a day in the future, a path that
leaves the repository — or when a record's text cannot be written as UTF-8 at all (a lone
surrogate, which JSON's ``\\ud800`` can carry in).
"""

from __future__ import annotations

from typing import Any

from regauto import docid
from regauto.errors import PatchError
from regauto.project import check_rel
from regauto.registry import records
from regauto.registry.records import Record
from regauto.registry.shard_lines import line_key


def checked_id(where: str, doc_id: Any) -> None:
    """A doc_id a patch names must be valid (and not far in the future)."""
    problem = docid.problem(doc_id)
    if problem:
        raise PatchError(f"{where}: {problem}")


def checked_path(doc_id: str, path: Any) -> str:
    if not isinstance(path, str):
        raise PatchError(f"record {doc_id}: path must be a string")
    try:
        return check_rel(path, what=f"record {doc_id}")
    except Exception as e:
        raise PatchError(str(e)) from None


def path_problem(rec: Record) -> bool:
    try:
        check_rel(rec["path"])
    except Exception:
        return True
    return False


def validated(doc_id: str, rec: Record) -> Record:
    # Strings are not walked for surrogates here (most of the cost of a bootstrap's
    # patch): ``encoded`` catches one when the shard text is encoded.
    probs = records.problems(rec, walk_strings=False)
    if probs:
        raise PatchError(f"record {doc_id}: {'; '.join(probs)}")
    checked_path(doc_id, rec["path"])
    return rec


def encoded(name: str, text: str) -> bytes:
    """The UTF-8 bytes of shard ``name``'s new text; a record holding a lone surrogate
    (which no UTF-8 file can) is a ``PatchError`` naming it."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        start = text.rfind("\n", 0, e.start) + 1
        end = text.find("\n", e.start)
        key = line_key(text[start:end if end >= 0 else len(text)])
        who = f"record {key[1]} ({key[0]!r})" if key else f"a record of {name}"
        raise PatchError(f"{who}: a string holds a lone surrogate "
                         f"({text[e.start:e.end]!r}), which is not Unicode") from None
