"""The built-in descriptor extractors, one module per language or format.

Each module exposes ``KINDS`` (the classifier kinds it handles) and
``extract(data: bytes) -> dict[str, object]``.  A new language is one new module added to
``BUILTIN``; code outside regauto can use ``descriptor_extractor.register`` instead.
"""

from __future__ import annotations

from collections.abc import Callable

from regauto.automation.extractors import markdown, python, text

Extractor = Callable[[bytes], dict[str, object]]

BUILTIN = (python, markdown, text)


def builtin_table() -> dict[str, Extractor]:
    return {kind: module.extract for module in BUILTIN for kind in module.KINDS}
