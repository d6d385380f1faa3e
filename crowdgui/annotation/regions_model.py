"""The current image's regions (sidecar ``regions``: annotated, ignore, roi, count) and its "no objects" mark.

Like the points model, only undo commands (crowdgui/annotation/region_undo.py, undo.py) edit them, so every
change can be undone; views listen to the ``*_changed`` signals. A Region is treated as a value: an edit
replaces it by another, never changes it in place, so an undo command can keep the old one.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from engine.dataset.regions import Region


class RegionsModel(QObject):
    """The regions of the image being annotated, in file order."""

    regions_changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._regions: list[Region] = []
        self.image_name: str | None = None

    @property
    def regions(self) -> list[Region]:
        return list(self._regions)

    @property
    def count(self) -> int:
        return len(self._regions)

    def reset(self, image_name: str | None, regions) -> None:
        """Show another image's regions (not an edit: nothing to undo)."""
        self.image_name = image_name
        self._regions = list(regions or [])
        self.regions_changed.emit()

    def insert(self, index: int, region: Region) -> None:
        self._regions.insert(index, region)
        self.regions_changed.emit()

    def remove(self, index: int) -> Region:
        region = self._regions.pop(index)
        self.regions_changed.emit()
        return region

    def replace(self, index: int, region: Region) -> Region:
        """Put ``region`` in the place of region ``index``; returns the one it replaced."""
        old, self._regions[index] = self._regions[index], region
        self.regions_changed.emit()
        return old


    def replace_all(self, regions) -> None:
        self._regions = list(regions)
        self.regions_changed.emit()


class NoObjectsMark(QObject):
    """True when a person said the image holds no objects ("Mark as annotated: no objects").

    Only then is an annotation with no points, proposals or regions written as an (empty) file: without the
    mark, an image whose points were all deleted or undone has no file, so it counts as unlabeled, never as
    "annotated, nothing there" (which would put it into training and validation as a zero-count image).
    """

    changed = Signal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.value = False
        self.image_name: str | None = None

    def reset(self, image_name: str | None, value: bool) -> None:
        self.image_name, self.value = image_name, bool(value)
        self.changed.emit(self.value)

    def set(self, value: bool) -> None:
        self.value = bool(value)
        self.changed.emit(self.value)
