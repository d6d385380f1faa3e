"""Region edits and the "no objects" mark as QUndoCommands, on the image's own stack with its point edits.

As in crowdgui/annotation/undo.py, a command holds the model of the current image and checks on every
redo/undo that it still belongs to the image it was made for.
"""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from crowdgui.annotation.regions_model import NoObjectsMark, RegionsModel
from engine.dataset.regions import KIND_TITLES, Region


class _ModelCommand(QUndoCommand):
    def __init__(self, model, text: str):
        super().__init__(text)
        self.model = model
        self.image_name = model.image_name

    def _check(self) -> None:
        assert self.model.image_name == self.image_name, (
            f"undo command for {self.image_name!r} applied to {self.model.image_name!r}")


def _title(region: Region) -> str:
    return KIND_TITLES.get(region.kind, region.kind).lower()


class AddRegion(_ModelCommand):
    """Add a region at the end of the image's list."""

    def __init__(self, model: RegionsModel, region: Region):
        super().__init__(model, f"Add {_title(region)} region")
        self.region = region
        self.index = model.count

    def redo(self) -> None:
        self._check()
        self.model.insert(self.index, self.region)

    def undo(self) -> None:
        self._check()
        self.model.remove(self.index)


class DeleteRegion(_ModelCommand):
    """Remove one region (it comes back at the same place on undo)."""

    def __init__(self, model: RegionsModel, index: int):
        self.index = int(index)
        self.region = model.regions[self.index]
        super().__init__(model, f"Delete {_title(self.region)} region")

    def redo(self) -> None:
        self._check()
        self.model.remove(self.index)

    def undo(self) -> None:
        self._check()
        self.model.insert(self.index, self.region)


class EditRegion(_ModelCommand):
    """Replace one region by an edited copy (moved, a corner moved, another stated count)."""

    def __init__(self, model: RegionsModel, index: int, region: Region, text: str = "Edit region"):
        super().__init__(model, text)
        self.index = int(index)
        self.old = model.regions[self.index]
        self.new = region

    def redo(self) -> None:
        self._check()
        self.model.replace(self.index, self.new)

    def undo(self) -> None:
        self._check()
        self.model.replace(self.index, self.old)


class ReplaceRegions(_ModelCommand):
    """Replace every region of the image (restoring journaled edits)."""

    def __init__(self, model: RegionsModel, regions, text: str = "Replace regions"):
        super().__init__(model, text)
        self.old, self.new = model.regions, list(regions)

    def redo(self) -> None:
        self._check()
        self.model.replace_all(self.new)

    def undo(self) -> None:
        self._check()
        self.model.replace_all(self.old)


class MarkNoObjects(_ModelCommand):
    """The person says the image holds no objects: it is saved as annotated with nothing in it."""

    def __init__(self, mark: NoObjectsMark):
        super().__init__(mark, "Mark as annotated: no objects")
        self.before = mark.value

    def redo(self) -> None:
        self._check()
        self.model.set(True)

    def undo(self) -> None:
        self._check()
        self.model.set(self.before)
