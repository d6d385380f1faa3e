"""Mouse gestures of the region tools: they turn input into requests, never edit regions themselves.

Rectangle tool: left drag draws a rectangle. Polygon tool: each left click adds a corner, right click takes
the last one back, double click or Enter closes the polygon (3 corners at least), Esc abandons it. Edit tool:
click selects a region (the topmost under the cursor), drag a corner of the selected region to move that
corner, drag inside a region to move it whole, double click a count region to state its count again, Delete
removes the selected region. Corners stay on the image (clamped to its edges).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QPointF, Qt, Signal

from crowdgui.canvas.regions_layer import RegionsLayer

TOOLS = ("rectangle", "polygon", "edit")
MIN_SIDE = 1.0  # image pixels: a rectangle drawn thinner than this is a slip, not a region


class RegionGestures(QObject):
    """The region tool in use and the shape being drawn or dragged."""

    add_requested = Signal(str, object)  # kind, (N, 2) polygon
    change_requested = Signal(int, object)  # region index, its new (N, 2) polygon
    delete_requested = Signal(int)
    count_requested = Signal(int)  # the count region to ask a new number for

    def __init__(self, layer: RegionsLayer, parent: QObject | None = None):
        super().__init__(parent)
        self.layer = layer
        self.tool: str | None = None  # None: the point tools have the mouse
        self.kind = "annotated"
        self._corners: list[tuple[float, float]] = []
        self._drag: tuple | None = None

    @property
    def active(self) -> bool:
        return self.tool is not None

    def set_tool(self, tool: str | None, kind: str | None = None) -> None:
        if tool is not None and tool not in TOOLS:
            raise ValueError(f"unknown region tool {tool!r}")
        self.cancel()
        self.tool = tool
        if kind is not None:
            self.kind = kind
        if tool != "edit":
            self.layer.select(None)

    def cancel(self) -> None:
        """Abandon the shape being drawn or dragged."""
        self._corners, self._drag = [], None
        self.layer.show_draft(None)
        self.layer.redraw()

    def _clamp(self, pos: QPointF) -> tuple[float, float]:
        width, height = self.layer.view_box.image_size
        return float(np.clip(pos.x(), 0, width)), float(np.clip(pos.y(), 0, height))

    # ------------------------------------------------------------------ clicks
    def click(self, button, pos: QPointF, double: bool) -> None:
        if self.tool == "polygon":
            if button == Qt.MouseButton.RightButton:
                self._corners = self._corners[:-1]
            elif double:
                self.finish_polygon()
                return
            elif button == Qt.MouseButton.LeftButton:
                self._corners.append(self._clamp(pos))
            self.layer.show_draft(np.array(self._corners) if self._corners else None, closed=False)
        elif self.tool == "edit" and button == Qt.MouseButton.LeftButton:
            index = self.layer.region_at(pos.x(), pos.y())
            self.layer.select(index)
            if double and index is not None and self.layer.regions[index].kind == "count":
                self.count_requested.emit(index)

    def finish_polygon(self) -> None:
        """Close the polygon being drawn and ask for it (fewer than 3 corners: nothing)."""
        corners = list(dict.fromkeys(self._corners))  # a double click may repeat the last corner
        self.cancel()
        if self.tool == "polygon" and len(corners) >= 3:
            self.add_requested.emit(self.kind, np.array(corners, dtype=np.float64))

    def delete_selected(self) -> bool:
        """Ask to delete the selected region; False when none is selected."""
        if self.tool != "edit" or self.layer.selected is None:
            return False
        self.delete_requested.emit(self.layer.selected)
        return True

    # ------------------------------------------------------------------- drags
    def drag_start(self, down: QPointF) -> bool:
        """Start a left drag at ``down``; False when the region tool has no use for it (it is then a pan)."""
        x, y = self._clamp(down)
        if self.tool == "rectangle":
            self._drag = ("rectangle", (x, y))
            return True
        if self.tool != "edit":
            return False
        selected = self.layer.selected
        corner = self.layer.corner_at(selected, down.x(), down.y()) if selected is not None else None
        if corner is not None:
            self._drag = ("corner", selected, corner)
            return True
        index = self.layer.region_at(down.x(), down.y())
        self.layer.select(index)
        if index is None:
            return False
        self._drag = ("move", index, (down.x(), down.y()))
        return True

    def drag_move(self, pos: QPointF) -> None:
        polygon = self._dragged(pos)
        if polygon is not None:
            self.layer.show_draft(polygon)

    def drag_finish(self, pos: QPointF) -> None:
        polygon, drag = self._dragged(pos), self._drag
        self.cancel()
        if polygon is None or drag is None:
            return
        if drag[0] == "rectangle":
            sides = polygon.max(axis=0) - polygon.min(axis=0)
            if np.all(sides >= MIN_SIDE):
                self.add_requested.emit(self.kind, polygon)
        elif not np.array_equal(polygon, self.layer.regions[drag[1]].polygon):
            self.change_requested.emit(drag[1], polygon)

    def _dragged(self, pos: QPointF) -> np.ndarray | None:
        """The polygon the current drag makes with the mouse at ``pos``."""
        if self._drag is None:
            return None
        if self._drag[0] == "rectangle":
            (x0, y0), (x1, y1) = self._drag[1], self._clamp(pos)
            left, right, top, bottom = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
            return np.array([[left, top], [right, top], [right, bottom], [left, bottom]], dtype=np.float64)
        polygon = self.layer.regions[self._drag[1]].polygon.copy()
        if self._drag[0] == "corner":
            polygon[self._drag[2]] = self._clamp(pos)
            return polygon
        start_x, start_y = self._drag[2]
        width, height = self.layer.view_box.image_size
        # Move whole, as far as the image allows (the shape never changes while it moves).
        dx = float(np.clip(pos.x() - start_x, -polygon[:, 0].min(), width - polygon[:, 0].max()))
        dy = float(np.clip(pos.y() - start_y, -polygon[:, 1].min(), height - polygon[:, 1].max()))
        return polygon + (dx, dy)
