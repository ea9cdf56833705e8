"""Carrying ids (SPEC §4.2): which effect a file needs to carry its doc_id — a rename for
``prefix`` mode, a header for ``header`` mode — made through the pipeline's
:class:`~regauto.automation.effects.Effects`, and the content its record then describes.
"""

from __future__ import annotations

from collections.abc import Callable

from regauto import safe_replace
from regauto.automation import file_renamer, headers
from regauto.automation.effects import Action, Effects
from regauto.automation.recording import Item, Recorder
from regauto.automation.tree import Content, DiskFile, FileContent


class Carrier:
    """One run's carrying: ``contents`` (path -> content) follows each rename and header,
    so a retry of the run starts from the files as they now are."""

    def __init__(self, effects: Effects, recorder: Recorder,
                 contents: Callable[[], dict[str, Content | None]]) -> None:
        self.effects = effects
        self.recorder = recorder
        self.contents = contents

    def carry(self, it: Item, doc: str, actions: list[Action],
              skipped: dict[str, str]) -> tuple[str, Item]:
        """Make the file carry ``doc``; returns the path and the item its record describes
        (as the file becomes, unless the effects carry nothing)."""
        path = it.path
        fx = self.effects
        if it.mode == "prefix" and file_renamer.claimed_prefix_id(path) != doc:
            target = file_renamer.prefixed_name(path, doc)
            if not fx.carries:
                actions.append(Action("rename", path, target, doc, False))
                return path, it
            try:
                fx.rename(path, target)
            except file_renamer.RenameError as e:
                skipped[path] = f"not renamed: {e}"
                return path, it
            actions.append(Action("rename", path, target, doc, fx.done))
            self._moved(path, target)
            return target, Item(target, it.content.renamed(target), it.cls, it.mode, it.role)
        if it.mode == "header" and self.recorder.header_id(it) != doc:
            actions.append(Action("header", path, path, doc, fx.done))
            if not fx.carries:
                return path, it
            if fx.done and isinstance(self.contents().get(path), DiskFile):
                self.recorder.pending[path] = doc  # written by a disk job, with its extraction
                return path, it  # the disk job describes the result
            try:
                fx.write_header(path, it.cls.kind, doc)
            except safe_replace.ChangedError as e:  # not recorded now: the next run does it
                self.recorder.failed[path] = str(e)
                return path, it
            new = headers.embed_header(it.cls.kind, it.content.data, doc)
            if new is not None:
                content = FileContent(path, new, it.content.mode)
                self.contents()[path] = content
                return path, Item(path, content, it.cls, it.mode, it.role)
        return path, it

    def _moved(self, old: str, new: str) -> None:
        contents = self.contents()
        content = contents.pop(old)
        assert content is not None
        contents[new] = content.renamed(new)
