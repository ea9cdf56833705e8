"""The marker a generated output carries, in the output's own comment syntax (SPEC §9).

It holds two hashes:

- ``input``: the hash of the registry data the output was rendered from (see ``inputs``);
- ``sum``: the sha256 of the file's text with the marker line itself removed — the "body".

Like cog's end-marker checksum, ``sum`` is how a hand edit is told apart from an output the
registry has moved past: the body no longer hashes to ``sum`` → ``edited_output``; it does,
but ``input`` differs from what the registry gives now → ``stale_output``.

Where the marker line goes, by the output's extension:

- Markdown, HTML, XML, SVG: line 1, ``<!-- … -->``;
- reStructuredText: line 1, ``.. …``; C-family, JavaScript, Go, Rust: line 1, ``// …``;
  CSS: ``/* … */``; SQL, Lua: ``-- …``; anything else (CSV, text, YAML, TOML, shell): ``# …``;
- JSON: a top-level key ``"_regauto"`` on line 2, the first member of the top-level object
  (so the marker is still a JSON value and the file still parses).  The body must be a JSON
  object.

The marker is located by position, never searched for, so a body that happens to contain
marker-like text cannot confuse it; a file whose marker line is gone or mangled (reformatted
JSON, a merge conflict) has no readable marker and counts as edited.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from regauto import jsonload
from regauto.config_checks import GENERATED_TOKEN, JSON_MARKER_KEY
from regauto.errors import UsageError

TOKEN = GENERATED_TOKEN
NOTE = "do not edit; regenerate with `regauto generate`"
JSON_KEY = JSON_MARKER_KEY
_HASH = r"sha256:[0-9a-f]{64}"
_LINE_RE = re.compile(rf"{TOKEN}: .*? input=(?P<input>{_HASH}) sum=(?P<sum>{_HASH})")
_JSON_PREFIX = f'  "{JSON_KEY}": '

# extension -> (comment opener, closer)
_COMMENTS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("md", "markdown", "html", "htm", "xml", "svg"), ("<!--", " -->")),
    "rst": ("..", ""),
    **dict.fromkeys(("c", "h", "cc", "cpp", "hpp", "js", "mjs", "ts", "go", "rs", "java",
                     "kt", "swift", "scala", "cs"), ("//", "")),
    "css": ("/*", " */"),
    **dict.fromkeys(("sql", "lua", "hs"), ("--", "")),
}


@dataclass(frozen=True)
class Parsed:
    """What an existing output says about itself."""

    input: str  # the input hash recorded in its marker
    sum: str  # the body checksum recorded in its marker
    actual_sum: str  # the checksum of its body as it is now

    @property
    def edited(self) -> bool:
        return self.sum != self.actual_sum


def checksum(body: str) -> str:
    return "sha256:" + hashlib.sha256(body.encode("utf-8", "surrogateescape")).hexdigest()


def is_json(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() == ".json"


def _comment(path: str) -> tuple[str, str]:
    return _COMMENTS.get(PurePosixPath(path).suffix.lower().lstrip("."), ("#", ""))


def attach(path: str, body: str, input_hash: str) -> str:
    """The full text of output ``path``: ``body`` with a marker recording ``input_hash`` and
    the checksum of the body as it will stand in the file."""
    if not body.endswith("\n"):
        body += "\n"
    if is_json(path):
        head, rest, last = _json_parts(path, body)
        stored_body = head + rest
        value = {"generated": NOTE, "input": input_hash, "sum": checksum(stored_body)}
        line = _JSON_PREFIX + json.dumps(value) + ("" if last else ",")
        return head + line + "\n" + rest
    opener, closer = _comment(path)
    line = f"{opener} {TOKEN}: {NOTE} input={input_hash} sum={checksum(body)}{closer}"
    return line + "\n" + body


def _json_parts(path: str, body: str) -> tuple[str, str, bool]:
    """Split a JSON object body into ``"{\\n"`` and the rest; say whether it is empty (then
    the marker is the object's only member and takes no trailing comma)."""
    try:
        value = json.loads(body)
    except ValueError as e:
        raise UsageError(f"{path}: the generated body is not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{path}: a JSON output must be an object (it carries '{JSON_KEY}')")
    if JSON_KEY in value:
        raise UsageError(f"{path}: the generated body must not have a '{JSON_KEY}' key")
    rest = body.lstrip()[1:]
    if rest.startswith("\n"):
        rest = rest[1:]
    return "{\n", rest, not value


def parse(path: str, text: str) -> Parsed | None:
    """Read the marker of an existing output; ``None`` when it has none we can read."""
    first = text.find("\n")
    if first < 0:
        return None
    if is_json(path):
        second = text.find("\n", first + 1)
        if text[:first] != "{" or second < 0:
            return None
        line, body = text[first + 1 : second], text[: first + 1] + text[second + 1 :]
        if not line.startswith(_JSON_PREFIX):
            return None
        try:
            value = jsonload.loads(line[len(_JSON_PREFIX) :].rstrip().rstrip(","))
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        got_input, got_sum = value.get("input"), value.get("sum")
        if not (isinstance(got_input, str) and isinstance(got_sum, str)):
            return None
        if not (re.fullmatch(_HASH, got_input) and re.fullmatch(_HASH, got_sum)):
            return None
        return Parsed(got_input, got_sum, checksum(body))
    m = _LINE_RE.search(text[:first])
    if m is None:
        return None
    return Parsed(m["input"], m["sum"], checksum(text[first + 1 :]))
