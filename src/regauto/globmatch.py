"""Glob patterns for ``include``/``exclude``/``rules.match`` (gitignore-like).

``*`` matches within one path segment, ``?`` one character, ``**`` any number of segments
(``**/x`` matches ``x`` at any depth, ``d/**`` everything under ``d``), ``{a,b}`` either
alternative.  A pattern with no ``/`` matches the file name at any depth, like .gitignore.
"""

from __future__ import annotations

import functools
import re


@functools.lru_cache(maxsize=512)
def compile_glob(pattern: str) -> re.Pattern[str]:
    pat = pattern.strip().lstrip("/")
    if "/" not in pat:
        pat = "**/" + pat
    out = ["^"]
    i = 0
    while i < len(pat):
        c = pat[i]
        if pat.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pat.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "{":
            end = pat.find("}", i)
            if end == -1:
                out.append(re.escape(c))
            else:
                alts = pat[i + 1 : end].split(",")
                out.append("(?:" + "|".join(re.escape(a) for a in alts) + ")")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    out.append(r"\Z")  # not `$`, which also matches before a final newline
    return re.compile("".join(out), re.DOTALL)


def matches(pattern: str, path: str) -> bool:
    return compile_glob(pattern).match(path) is not None


def matches_any(patterns: tuple[str, ...] | list[str], path: str) -> bool:
    return any(compile_glob(p).match(path) for p in patterns)
