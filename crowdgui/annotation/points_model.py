"""The current image's points, as the Qt side sees them: an (N, 2) float array that announces its changes.

Only undo commands (crowdgui/annotation/undo.py) call the editing methods, so every edit can be undone. Views listen to
``points_changed`` and read ``points``; the change description lets the canvas redraw only what moved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.dataset.sidecar import as_points


@dataclass(frozen=True)
class PointsChange:
    """What happened to the points.

    kind: "reset" (another image or a reload), "added" (appended at the end), "removed", "inserted",
    "moved" (one point) or "replaced" (any other bulk change). ``indices`` are the affected rows, in the array
    as it is after the change for "added"/"inserted"/"moved", before it for "removed"; empty otherwise.
    """

    kind: str
    indices: np.ndarray


_NO_INDICES = np.zeros(0, dtype=np.intp)


def _empty() -> np.ndarray:
    return np.zeros((0, 2), dtype=np.float64)


class PointsModel(QObject):
    """The points of the image being annotated (x, y in image pixels, origin top-left)."""

    points_changed = Signal(object)  # PointsChange

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._points = _empty()
        self.image_name: str | None = None

    # ------------------------------------------------------------------ reading
    @property
    def points(self) -> np.ndarray:
        """A read-only view of the (N, 2) float64 array; copy it to keep it beyond the next change."""
        view = self._points.view()
        view.flags.writeable = False
        return view

    @property
    def count(self) -> int:
        return len(self._points)

    def __len__(self) -> int:
        return self.count

    # ------------------------------------------------------------------ editing
    def reset(self, image_name: str | None, points) -> None:
        """Show another image's points (not an edit: nothing to undo)."""
        self.image_name = image_name
        self._points = as_points(points).copy()
        self._emit("reset")

    def append(self, points) -> np.ndarray:
        """Add points at the end; returns their indices."""
        new = as_points(points)
        start = len(self._points)
        self._points = np.concatenate([self._points, new]) if len(new) else self._points
        indices = np.arange(start, start + len(new), dtype=np.intp)
        self._emit("added", indices)
        return indices

    def remove(self, indices) -> np.ndarray:
        """Remove the points at ``indices``; returns the removed points in ascending index order."""
        indices = np.unique(np.asarray(indices, dtype=np.intp))
        removed = self._points[indices].copy()
        self._points = np.delete(self._points, indices, axis=0)
        self._emit("removed", indices)
        return removed

    def insert(self, indices, points) -> None:
        """Undo of :meth:`remove`: put ``points`` back so that they end up at the ascending ``indices``."""
        indices = np.asarray(indices, dtype=np.intp)
        points = as_points(points)
        total = len(self._points) + len(indices)
        keep = np.ones(total, dtype=bool)
        keep[indices] = False
        merged = np.empty((total, 2), dtype=np.float64)
        merged[indices] = points
        merged[keep] = self._points
        self._points = merged
        self._emit("inserted", indices)

    def move(self, index: int, x: float, y: float) -> None:
        """Move one point (a new array, so copies handed out earlier stay as they were)."""
        moved = self._points.copy()
        moved[index] = (x, y)
        self._points = moved
        self._emit("moved", np.array([index], dtype=np.intp))

    def replace(self, points) -> None:
        """Replace every point (clear, accept proposals, ...)."""
        self._points = as_points(points).copy()
        self._emit("replaced")

    def _emit(self, kind: str, indices: np.ndarray = _NO_INDICES) -> None:
        self.points_changed.emit(PointsChange(kind, indices))
