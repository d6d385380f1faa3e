"""The regions drawn over the image (one outline, fill and label per region), the one being drawn, and
hit-testing ("which region or corner is here?"). The layer reads a RegionsModel; it never edits regions.
The selected region (edit mode) is view state and lives here.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, Qt
from PySide6.QtGui import QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsPathItem

from crowdgui.annotation.regions_model import RegionsModel
from crowdgui.canvas.region_styles import SELECTED_COLOR, brush_of, label_of, pen_of, style_of, tooltip_of
from engine.dataset.regions import Region, region_problem

REGIONS_Z = 7  # above the density overlay (5), below proposals (9) and points (10)
HANDLE_PX = 7.0  # how near (screen pixels) a press must be to a corner to grab it


def polygon_path(polygon: np.ndarray, closed: bool = True) -> QPainterPath:
    path = QPainterPath()
    if len(polygon):
        path.addPolygon(QPolygonF([QPointF(float(x), float(y)) for x, y in polygon]))
        if closed:
            path.closeSubpath()
    return path


class RegionsLayer(QObject):
    """Draws a RegionsModel on a ViewBox."""

    def __init__(self, view_box: pg.ViewBox, parent: QObject | None = None):
        super().__init__(parent)
        self.view_box = view_box
        self._model: RegionsModel | None = None
        self._items: list[tuple[QGraphicsPathItem, pg.TextItem]] = []
        self.selected: int | None = None
        self._draft = QGraphicsPathItem()
        draft_pen = QPen(SELECTED_COLOR, 2, Qt.PenStyle.DashLine)
        draft_pen.setCosmetic(True)
        self._draft.setPen(draft_pen)
        self._draft.setZValue(REGIONS_Z + 1)
        view_box.addItem(self._draft, ignoreBounds=True)
        # The corners of the selected region, which the edit tool can drag.
        self._handles = pg.ScatterPlotItem(symbol="s", size=2 * HANDLE_PX - 4, pen=pg.mkPen(40, 40, 40),
                                           brush=pg.mkBrush(SELECTED_COLOR))
        self._handles.setZValue(REGIONS_Z + 1)
        view_box.addItem(self._handles, ignoreBounds=True)

    @property
    def regions(self) -> list[Region]:
        return self._model.regions if self._model is not None else []

    def bind(self, model: RegionsModel) -> None:
        if self._model is not None:
            self._model.regions_changed.disconnect(self.redraw)
        self._model = model
        model.regions_changed.connect(self.redraw)
        self.redraw()

    def redraw(self) -> None:
        for path_item, text_item in self._items:
            self.view_box.removeItem(path_item)
            self.view_box.removeItem(text_item)
        self._items = []
        regions = self.regions
        if self.selected is not None and self.selected >= len(regions):
            self.selected = None
        width, height = self.view_box.image_size or (0, 0)
        for index, region in enumerate(regions):
            problem = region_problem(region, width, height) if width else None
            self._items.append(self._draw(region, problem, index == self.selected))
        corners = regions[self.selected].polygon if self.selected is not None else np.zeros((0, 2))
        self._handles.setData(pos=corners)

    def _draw(self, region: Region, problem: str | None, selected: bool):
        style = style_of(region, problem)
        path_item = QGraphicsPathItem(polygon_path(region.polygon))
        path_item.setPen(pen_of(style, selected))
        path_item.setBrush(brush_of(style))
        path_item.setToolTip(tooltip_of(region, problem))
        path_item.setZValue(REGIONS_Z)
        text = pg.TextItem(label_of(region, problem), color=style.color, anchor=(0, 1),
                           fill=pg.mkBrush(20, 20, 20, 210))
        if len(region.polygon):
            corner = region.polygon[np.argmin(region.polygon[:, 0] + region.polygon[:, 1])]
            text.setPos(float(corner[0]), float(corner[1]))
        text.setZValue(REGIONS_Z)
        self.view_box.addItem(path_item, ignoreBounds=True)
        self.view_box.addItem(text, ignoreBounds=True)
        return path_item, text

    # ------------------------------------------------------------- selection
    def select(self, index: int | None) -> None:
        if index != self.selected:
            self.selected = index
            self.redraw()

    # ----------------------------------------------------------- hit testing
    def region_at(self, x: float, y: float) -> int | None:
        """The topmost (last drawn) region containing (x, y)."""
        point = QPointF(x, y)
        for index in range(len(self.regions) - 1, -1, -1):
            polygon = self.regions[index].polygon
            if len(polygon) >= 3 and polygon_path(polygon).contains(point):
                return index
        return None

    def corner_at(self, index: int, x: float, y: float) -> int | None:
        """The corner of region ``index`` within HANDLE_PX screen pixels of (x, y)."""
        polygon = self.regions[index].polygon
        if not len(polygon):
            return None
        pixel_x, pixel_y = self.view_box.viewPixelSize()
        reach = HANDLE_PX * max(pixel_x, pixel_y)
        distances = np.hypot(polygon[:, 0] - x, polygon[:, 1] - y)
        nearest = int(np.argmin(distances))
        return nearest if distances[nearest] <= reach else None

    # ------------------------------------------------------------------ draft
    def show_draft(self, polygon: np.ndarray | None, closed: bool = True) -> None:
        """Draw the outline being drawn or dragged (None hides it)."""
        self._draft.setPath(polygon_path(np.asarray(polygon).reshape(-1, 2), closed)
                            if polygon is not None else QPainterPath())
