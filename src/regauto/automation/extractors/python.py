"""Python descriptors with ``ast`` (SPEC §6).

Keys, each present only when the module has that thing (``lines`` always):

- ``summary``: first non-blank line of the module docstring (at most ``MAX_TEXT`` characters);
- ``classes``: public top-level classes, ``{"name", "methods"}`` with public method names;
- ``functions``: public top-level functions as compact signatures, ``"f(a, b=..., *args, **kw)"``,
  ``"async f(x)"`` for coroutines; annotations and default values are left out so that a
  descriptor changes only when the interface does;
- ``imports``: sorted unique top-level module names of absolute imports outside functions and
  classes (including those under a module-level ``if``/``try``/``with``);
- ``all``: ``__all__`` as written, when it is a literal list/tuple of strings;
- ``lines``.

A file that does not parse gives ``{"error": "SyntaxError: <msg> (line N)", "lines": n}``: the
record is still written and a commit is never blocked by a syntax error.  The result depends on
the running Python's grammar: code using syntax newer than the interpreter is an ``error``.
"""

from __future__ import annotations

import ast
import re
import warnings

from regauto.automation.extractors.text import count_lines

KINDS = ("python", "pyi", "python3", "python2")
MAX_TEXT = 200

_FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
# A string literal may spell a lone surrogate ("\\ud800"): not Unicode, so no registry line
# could hold it.  The descriptor gets U+FFFD in its place.
_SURROGATE = re.compile("[\ud800-\udfff]")


def extract(data: bytes) -> dict[str, object]:
    lines = count_lines(data)
    try:
        # Bytes, not text: ast honours the BOM and a PEP 263 coding line.  Warnings (invalid
        # escape sequences...) are the user's business, not something to print here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(data)
    except SyntaxError as e:
        where = f" (line {e.lineno})" if e.lineno else ""
        return {"error": f"{type(e).__name__}: {e.msg}{where}", "lines": lines}
    except (ValueError, RecursionError, MemoryError) as e:
        # null bytes, undecodable source, absurd nesting
        return {"error": f"{type(e).__name__}: {e}", "lines": lines}

    out: dict[str, object] = {}
    summary = _summary(tree)
    if summary:
        out["summary"] = summary
    # As at run time a later definition of a name replaces an earlier one (overloads, a
    # conditional redefinition); the dicts keep the position of the first.
    classes = {node.name: _class(node) for node in tree.body
               if isinstance(node, ast.ClassDef) and _public(node.name)}
    if classes:
        out["classes"] = list(classes.values())
    functions = {node.name: _signature(node) for node in tree.body
                 if isinstance(node, _FunctionNode) and _public(node.name)}
    if functions:
        out["functions"] = list(functions.values())
    imports = sorted(_imports(tree.body))
    if imports:
        out["imports"] = imports
    all_ = _dunder_all(tree)
    if all_ is not None:
        out["all"] = all_
    out["lines"] = lines
    return out


def _public(name: str) -> bool:
    return not name.startswith("_")


def _summary(tree: ast.Module) -> str | None:
    doc = ast.get_docstring(tree, clean=True)
    if not doc:
        return None
    for line in doc.splitlines():
        if line.strip():
            text = _SURROGATE.sub("\ufffd", line.strip())
            return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
    return None


def _class(node: ast.ClassDef) -> dict[str, object]:
    # A redefinition (a property setter, an overload) is one method: keep first-seen order.
    methods = dict.fromkeys(
        item.name for item in node.body if isinstance(item, _FunctionNode) and _public(item.name)
    )
    return {"name": node.name, "methods": list(methods)}


def _signature(node: _FunctionNode) -> str:
    a = node.args
    parts: list[str] = []
    positional = [*a.posonlyargs, *a.args]
    first_default = len(positional) - len(a.defaults)
    for i, arg in enumerate(positional):
        parts.append(arg.arg + ("=..." if i >= first_default else ""))
        if a.posonlyargs and i == len(a.posonlyargs) - 1:
            parts.append("/")
    if a.vararg:
        parts.append("*" + a.vararg.arg)
    elif a.kwonlyargs:
        parts.append("*")
    for arg, default in zip(a.kwonlyargs, a.kw_defaults, strict=True):
        parts.append(arg.arg + ("=..." if default is not None else ""))
    if a.kwarg:
        parts.append("**" + a.kwarg.arg)
    prefix = "async " if isinstance(node, ast.AsyncFunctionDef) else ""
    return f"{prefix}{node.name}({', '.join(parts)})"


def _imports(body: list[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:  # relative imports name no top-level module
                names.add(node.module.split(".")[0])
        elif isinstance(node, (ast.If, ast.Try, ast.With)) or _is_try_star(node):
            for field in ("body", "orelse", "finalbody"):
                names |= _imports(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                names |= _imports(handler.body)
    return names


def _is_try_star(node: ast.stmt) -> bool:
    try_star = getattr(ast, "TryStar", None)  # Python 3.11+
    return try_star is not None and isinstance(node, try_star)


def _dunder_all(tree: ast.Module) -> list[str] | None:
    found: list[str] | None = None
    for node in tree.body:
        value: ast.expr | None = None
        if (isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        )) or (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "__all__"
        ):
            value = node.value
        if value is None:
            continue
        found = _string_list(value)  # the last assignment wins; a non-literal one unsets it
    return found


def _string_list(value: ast.expr) -> list[str] | None:
    if not isinstance(value, (ast.List, ast.Tuple)):
        return None
    items = []
    for elt in value.elts:
        if not (isinstance(elt, ast.Constant) and isinstance(elt.value, str)):
            return None
        items.append(_SURROGATE.sub("\ufffd", elt.value))
    return items
