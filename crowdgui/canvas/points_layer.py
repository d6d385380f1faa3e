"""The points drawn over the image: one scatter for all points, one for the selection, and hit-testing.

The layer reads a PointsModel and redraws from its change descriptions; it never edits the points. The
selection (indices into the model's array) is view state and lives here. With 2+ classes the points are drawn
by class (crowdgui/canvas/class_scatters.py), and the points of a hidden class can be neither seen nor picked.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, Signal
from PySide6.QtGui import QColor

from crowdgui.annotation.points_model import PointsChange, PointsModel
from crowdgui.canvas.class_scatters import ClassScatters
from crowdgui.canvas.points_scatter import PointsScatter

POINTS_Z = 10
SELECTION_Z = 11
SELECTION_COLOR = QColor(255, 221, 0)


class PointsLayer(QObject):
    """Draws a PointsModel on a ViewBox and answers "which point is here?"."""

    selection_changed = Signal(int)  # number of selected points

    def __init__(self, view_box: pg.ViewBox, parent: QObject | None = None):
        super().__init__(parent)
        self.view_box = view_box
        self.scatter = PointsScatter()
        self.scatter.setZValue(POINTS_Z)
        self.selection_scatter = PointsScatter(symbol="o")
        self.selection_scatter.setZValue(SELECTION_Z)
        view_box.addItem(self.scatter, ignoreBounds=True)
        view_box.addItem(self.selection_scatter, ignoreBounds=True)
        self.classes = ClassScatters(view_box, POINTS_Z)
        self._model: PointsModel | None = None
        self._selected = np.zeros(0, dtype=np.intp)
        self.size = 8.0
        self.set_style(8, QColor(255, 59, 48))

    # ------------------------------------------------------------------ model
    def bind(self, model: PointsModel) -> None:
        if self._model is not None:
            self._model.points_changed.disconnect(self._on_points_changed)
        self._model = model
        model.points_changed.connect(self._on_points_changed)
        self._on_points_changed(PointsChange("reset", np.zeros(0, dtype=np.intp)))

    @property
    def points(self) -> np.ndarray:
        return self._model.points if self._model is not None else np.zeros((0, 2))

    def set_classes(self, names: list[str], colours: list[QColor], hidden: set[str] = frozenset()) -> None:
        """Draw the points by class (2+ names) in these colours, without the ``hidden`` classes."""
        self.classes.set_classes(names, colours, hidden)
        self.classes.set_style(self.size)
        self.scatter.setVisible(not self.classes.active)
        self._on_points_changed(PointsChange("reset", np.zeros(0, dtype=np.intp)))

    def _on_points_changed(self, change: PointsChange) -> None:
        points = self.points
        if self.classes.active:
            labels = self._model.labels if self._model is not None else None
            self.classes.update_classes(labels, len(points), change.kind, change.indices)
            self.classes.draw(points)
        if change.kind == "relabelled":
            # Same points, other classes: the selection stays, less what a hidden class now holds.
            self._set_selected(self._selected[self.visible_mask()[self._selected]])
        elif change.kind in ("added", "moved"):
            if not self.classes.active:
                self.scatter.set_positions(points, changed=change.indices)
            self._show_selection()
        elif self.classes.active:
            self._set_selected(np.zeros(0, dtype=np.intp))
        else:
            # Indices shift after removals and mean nothing after a reset: drop the selection.
            self.scatter.set_positions(points)
            self._set_selected(np.zeros(0, dtype=np.intp))

    # ------------------------------------------------------------------ style
    def set_style(self, size: float, color: QColor) -> None:
        """Point diameter in screen pixels and fill colour (a dark outline keeps them visible on any image)."""
        self.size = float(size)
        outline = pg.mkPen(QColor(0, 0, 0, 200), width=1)
        self.scatter.set_style(size, outline, pg.mkBrush(color))
        self.classes.set_style(size)
        ring = pg.mkPen(SELECTION_COLOR, width=2.5)
        self.selection_scatter.set_style(size + 6, ring, pg.mkBrush(None))

    # ------------------------------------------------------------ hit-testing
    def hit_radius_px(self) -> float:
        """How far (screen pixels) from a point's centre a click still grabs it."""
        return max(self.size / 2 + 3, 6.0)

    def point_at(self, x: float, y: float) -> int | None:
        """Index of the point drawn under view position (x, y), the nearest if several; None if none.

        Vectorised over all points (about 1 ms for 50,000), so no spatial index has to be kept in sync.
        """
        points = self.points
        if not len(points):
            return None
        sx, sy = self.view_box.viewPixelSize()  # image pixels per screen pixel, per axis
        d2 = ((points[:, 0] - x) / sx) ** 2 + ((points[:, 1] - y) / sy) ** 2
        d2[~self.visible_mask()] = np.inf
        nearest = int(np.argmin(d2))
        return nearest if d2[nearest] <= self.hit_radius_px() ** 2 else None

    def points_in_rect(self, rect: QRectF) -> np.ndarray:
        """Indices of the points inside a view rectangle."""
        points = self.points
        rect = rect.normalized()
        inside = ((points[:, 0] >= rect.left()) & (points[:, 0] <= rect.right())
                  & (points[:, 1] >= rect.top()) & (points[:, 1] <= rect.bottom()))
        return np.flatnonzero(inside & self.visible_mask())

    def visible_mask(self) -> np.ndarray:
        """Which points are drawn: all, less those of hidden classes."""
        return self.classes.visible_mask(len(self.points))

    def visible_indices(self) -> np.ndarray:
        return np.flatnonzero(self.visible_mask())

    # -------------------------------------------------------------- selection
    @property
    def selected(self) -> np.ndarray:
        return self._selected.copy()

    def select(self, indices, add: bool = False, toggle: bool = False) -> None:
        indices = np.asarray(indices, dtype=np.intp)
        if toggle:
            chosen = np.setxor1d(self._selected, indices)
        elif add:
            chosen = np.union1d(self._selected, indices)
        else:
            chosen = np.unique(indices)
        self._set_selected(chosen)

    def clear_selection(self) -> None:
        self._set_selected(np.zeros(0, dtype=np.intp))

    def _set_selected(self, indices: np.ndarray) -> None:
        changed = len(indices) != len(self._selected) or not np.array_equal(indices, self._selected)
        self._selected = indices.astype(np.intp)
        self._show_selection()
        if changed:
            self.selection_changed.emit(len(self._selected))

    def _show_selection(self) -> None:
        self.selection_scatter.set_positions(self.points[self._selected] if len(self._selected)
                                             else np.zeros((0, 2)))

    # ----------------------------------------------------------- drag preview
    def preview_move(self, index: int, x: float, y: float) -> None:
        """Draw a point at a new place without changing the model (while it is being dragged)."""
        if self.classes.active:
            self.classes.move_one(index, x, y)
        else:
            self.scatter.move_one(index, x, y)
        where = np.flatnonzero(self._selected == index)
        if len(where):
            self.selection_scatter.move_one(int(where[0]), x, y)

    def sync_point(self, index: int) -> None:
        """Draw one point where the model has it (ends a drag preview)."""
        if 0 <= index < len(self.points):
            self.preview_move(index, *self.points[index])
