"""The regions a count was taken in, drawn over a counted image: ROI outlined, ignore areas hatched.

Read-only: the polygons come from the engine's ``result`` event (``roi``, ``ignore``), so what is drawn is
exactly the area the engine counted in, not a region the window would re-derive.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsPathItem

ROI_COLOR = QColor(255, 214, 0)
IGNORE_COLOR = QColor(230, 60, 60)
REGIONS_Z = 15  # above the density overlay, below the predicted points


def _path(polygons) -> QPainterPath:
    path = QPainterPath()
    for polygon in polygons:
        path.addPolygon(QPolygonF([QPointF(float(x), float(y)) for x, y in polygon]))
        path.closeSubpath()
    return path


def _item(pen: QPen, brush: QBrush) -> QGraphicsPathItem:
    item = QGraphicsPathItem()
    pen.setCosmetic(True)  # the same width at every zoom
    item.setPen(pen)
    item.setBrush(brush)
    item.setZValue(REGIONS_Z)
    return item


class RegionOutlines:
    """Two path items on a view box: the ROI polygons and the ignore polygons of one counted image."""

    def __init__(self, view_box):
        self.roi = _item(QPen(ROI_COLOR, 2), QBrush(Qt.BrushStyle.NoBrush))
        ignore_pen = QPen(IGNORE_COLOR, 2, Qt.PenStyle.DashLine)
        self.ignore = _item(ignore_pen, QBrush(IGNORE_COLOR, Qt.BrushStyle.BDiagPattern))
        for item in (self.roi, self.ignore):
            view_box.addItem(item, ignoreBounds=True)

    def show(self, roi, ignore) -> None:
        """Draw these polygons ([[x, y], ...] image pixels each); empty lists clear them."""
        self.roi.setPath(_path(roi or []))
        self.ignore.setPath(_path(ignore or []))
