"""Is a record whose blob equals its file's up to date?  The one judgement both the plan
(``plan._documents``) and the proof of a clean tree (``cold``) make of every record."""

from __future__ import annotations

import re

from regauto.automation import classifier, file_renamer, recording
from regauto.automation.tree import MODE_EXEC, MODE_FILE, MODE_LINK
from regauto.config import Config, Rule
from regauto.globmatch import compile_glob


def mode_of_tags(tags: tuple[str, ...] | list[str]) -> str:
    """The git mode a record's tags stand for (what ``up_to_date`` checks them against)."""
    if "symlink" in tags:
        return MODE_LINK
    return MODE_EXEC if "executable" in tags else MODE_FILE


_compiled: list[tuple[tuple[Rule, ...], re.Pattern[str]]] = []


def _first_rule(rules: tuple[Rule, ...]) -> re.Pattern[str]:
    """The rules' globs as one regex whose matching group names the first rule that
    matches (alternatives are tried in order): ``Config.rule_for`` in one call.  Kept
    for the last ``rules`` object seen (hashing frozen rules on every call would cost
    as much as matching them)."""
    if _compiled and _compiled[0][0] is rules:
        return _compiled[0][1]
    pattern = re.compile("|".join(f"(?P<r{i}>{compile_glob(r.match).pattern})"
                                  for i, r in enumerate(rules)) or "(?!)", re.DOTALL)
    _compiled[:] = [(rules, pattern)]
    return pattern


_DEFAULT_RULE = Rule(match="**/*")


def _rule_for(rules: tuple[Rule, ...], path: str) -> Rule:
    m = _first_rule(rules).match(path)
    return rules[int(m.lastgroup[1:])] if m is not None and m.lastgroup else _DEFAULT_RULE


def expected(config: Config, path: str, kind: str, tags: tuple[str, ...], size: int,
             symlink: bool) -> tuple[str, str]:
    """The id_mode and role the pipeline gives this file (``recording.id_mode``, the rule
    the pipeline follows; the role as ``Recorder.classify`` gives it)."""
    rule = _rule_for(config.rules, path)
    role = rule.role or classifier.role_for(path, kind, tags)
    return recording.id_mode(config, path, kind, tags, size, symlink=symlink,
                             wanted=rule.id_mode, rename=rule.rename), role


def up_to_date(config: Config, path: str, doc_id: str, id_mode: str, kind: str,
               tags: tuple[str, ...], role: str, size: int, doc_mode: str,
               header_claim: str | None) -> bool:
    """Would the pipeline leave this record (its fields), whose blob equals the file's
    (of git mode ``doc_mode``), as it is?"""
    symlink = doc_mode == MODE_LINK
    mode, want_role = expected(config, path, kind, tags, size, symlink)
    if mode != id_mode or want_role != role:
        return False
    if symlink != (tags == ("symlink",)):
        return False
    if not symlink and ("executable" in tags) != (doc_mode == MODE_EXEC):
        return False
    if mode == "prefix" and file_renamer.claimed_prefix_id(path) != doc_id:
        return False
    return not (mode == "header" and header_claim != doc_id)
