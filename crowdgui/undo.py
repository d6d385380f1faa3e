"""Every edit of the points is a QUndoCommand pushed on the image's own QUndoStack.

Commands hold the points model of the current image. A stack is active only while its image is shown (the
session switches the QUndoGroup's active stack), so a command always acts on its own image's points; the
assertion guards that promise.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QUndoCommand

from crowdgui.points_model import PointsModel
from engine.dataset.sidecar import as_points


class _PointsCommand(QUndoCommand):
    def __init__(self, model: PointsModel, text: str):
        super().__init__(text)
        self.model = model
        self.image_name = model.image_name

    def _check(self) -> None:
        assert self.model.image_name == self.image_name, (
            f"undo command for {self.image_name!r} applied to {self.model.image_name!r}")


class AddPoint(_PointsCommand):
    """Add one point at the end of the list."""

    def __init__(self, model: PointsModel, x: float, y: float):
        super().__init__(model, "Add point")
        self.xy = (float(x), float(y))
        self.index: int | None = None

    def redo(self) -> None:
        self._check()
        self.index = int(self.model.append([self.xy])[0])

    def undo(self) -> None:
        self._check()
        self.model.remove([self.index])


class DeletePoints(_PointsCommand):
    """Remove the points at the given indices (they come back at the same indices on undo)."""

    def __init__(self, model: PointsModel, indices):
        self.indices = np.unique(np.asarray(indices, dtype=np.intp))
        count = len(self.indices)
        super().__init__(model, "Delete point" if count == 1 else f"Delete {count} points")
        self.removed: np.ndarray | None = None

    def redo(self) -> None:
        self._check()
        self.removed = self.model.remove(self.indices)

    def undo(self) -> None:
        self._check()
        self.model.insert(self.indices, self.removed)


class MovePoint(_PointsCommand):
    """Move one point; a whole drag is one command (the canvas asks only when the drag ends)."""

    def __init__(self, model: PointsModel, index: int, x: float, y: float):
        super().__init__(model, "Move point")
        self.index = int(index)
        self.old = tuple(float(v) for v in model.points[self.index])
        self.new = (float(x), float(y))

    def redo(self) -> None:
        self._check()
        self.model.move(self.index, *self.new)

    def undo(self) -> None:
        self._check()
        self.model.move(self.index, *self.old)


class ReplacePoints(_PointsCommand):
    """Replace all points by another set (bulk operations such as accepting proposed points)."""

    def __init__(self, model: PointsModel, points, text: str = "Replace points"):
        super().__init__(model, text)
        self.old = model.points.copy()
        self.new = as_points(points).copy()

    def redo(self) -> None:
        self._check()
        self.model.replace(self.new)

    def undo(self) -> None:
        self._check()
        self.model.replace(self.old)


class ClearPoints(ReplacePoints):
    """Remove every point of the image."""

    def __init__(self, model: PointsModel):
        super().__init__(model, np.zeros((0, 2)), text=f"Clear {model.count} points")
