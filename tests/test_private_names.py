"""A module uses another module's public names only (STYLE), anywhere in ``src/``: no
``from regauto.x import _name``, no ``x._name`` on a regauto module, class or object it
imports, and no override of an imported class's private method."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

# Uses still to be removed: none.  This list only ever shrinks: the test fails on an entry
# that is no longer needed, so it cannot go stale.
ALLOWED: set[tuple[str, str]] = set()


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _resolve(dotted: str) -> object:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def private_uses(path: Path) -> set[str]:
    """``module._name`` for each private name of another regauto module ``path`` uses
    (``module.Class._name`` for a private attribute of a class or object it imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    modules: dict[str, str] = {}  # local alias -> the regauto module, class or object
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("regauto.") and a.asname:
                    modules[a.asname] = a.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module == "regauto" or node.module.startswith("regauto.")):
            for a in node.names:
                if _is_private(a.name):
                    found.add(f"{node.module}.{a.name}")
                else:  # a module, or a class or object: its private attributes are its own
                    modules[a.asname or a.name] = f"{node.module}.{a.name}"
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules and _is_private(node.attr)):
            found.add(f"{modules[node.value.id]}.{node.attr}")
        elif isinstance(node, ast.ClassDef):  # overriding a private method is using it
            bases = [modules[b.id] for b in node.bases
                     if isinstance(b, ast.Name) and b.id in modules]
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and \
                        _is_private(item.name):
                    found.update(f"{base}.{item.name}" for base in bases
                                 if hasattr(_resolve(base), item.name))
    return found


def test_no_module_uses_another_modules_private_names() -> None:
    uses = {(p.relative_to(SRC).as_posix(), u)
            for p in sorted(SRC.rglob("*.py")) for u in private_uses(p)}
    assert sorted(uses - ALLOWED) == [], "uses of another module's private names"
    assert sorted(ALLOWED - uses) == [], "no longer needed: remove from ALLOWED"


def test_the_check_sees_both_forms(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("from regauto.automation.pipeline import Pipeline, _Item\n"
                 "from regauto import git\nfrom regauto.automation import identity as ident\n"
                 "git._git('x')\nident._walk\ngit.__name__\nident.keeper\nPipeline._read\n"
                 "class P(Pipeline):\n    def _compute(self): ...\n    def _mine(self): ...\n")
    assert private_uses(f) == {"regauto.automation.pipeline._Item", "regauto.git._git",
                               "regauto.automation.identity._walk",
                               "regauto.automation.pipeline.Pipeline._read",
                               "regauto.automation.pipeline.Pipeline._compute"}
