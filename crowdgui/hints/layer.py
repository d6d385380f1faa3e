"""The missed-objects overlay on the canvas: the residual density as a red/blue heatmap, under two kinds of marker.

Red where the model sees more objects than the points make (likely unclicked objects), blue where the points
make more than the model sees (extra or double clicks); values near zero are see-through so the photo shows.
A ring marks each object the model is confident nobody clicked, a cross each click that looks like a second
click on one object. The layer only draws: crowdgui.hints.missed decides what.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QTransform

from crowdgui.canvas.points_scatter import PointsScatter

RESIDUAL_Z = 6  # above the density overlay (5), below the proposals (9) and points (10)
MARKERS_Z = 12  # above the points: a cross on a doubled click must not hide under it
MISSED_COLOR = QColor(255, 40, 40)
DOUBLED_COLOR = QColor(40, 170, 255)
# |residual| at this percentile of the map sets the colour scale; this share of it or more is fully opaque.
PEAK_PERCENTILE = 99.5
SATURATION = 0.5


def diverging_lut() -> np.ndarray:
    """256 x 4 RGBA: blue (negative) - transparent (zero) - red (positive); alpha grows with |value|."""
    ramp = np.linspace(-1.0, 1.0, 256)
    lut = np.zeros((256, 4), dtype=np.uint8)
    lut[:, 0] = np.where(ramp > 0, 230, 30)
    lut[:, 1] = np.where(ramp > 0, 30, 110)
    lut[:, 2] = np.where(ramp > 0, 30, 255)
    lut[:, 3] = (np.clip(np.abs(ramp) / SATURATION, 0.0, 1.0) * 220).astype(np.uint8)
    return lut


class HintsLayer:
    """The residual image and the two marker scatters, added to the canvas's view box."""

    def __init__(self, view_box: pg.ViewBox):
        self.residual = pg.ImageItem()
        self.residual.setZValue(RESIDUAL_Z)
        self.residual.setLookupTable(diverging_lut())
        self.residual.setAcceptedMouseButtons(Qt.MouseButton.NoButton)  # clicks go to the canvas
        self.missed = PointsScatter(size=22, pen=pg.mkPen(MISSED_COLOR, width=2.5), brush=pg.mkBrush(None))
        self.doubled = PointsScatter(size=16, pen=pg.mkPen(QColor(0, 0, 0), width=1),
                                     brush=pg.mkBrush(DOUBLED_COLOR), symbol="x")
        for item, z in ((self.missed, MARKERS_Z), (self.doubled, MARKERS_Z)):
            item.setZValue(z)
        for item in (self.residual, self.missed, self.doubled):
            view_box.addItem(item, ignoreBounds=True)
        self.clear()

    def show_residual(self, residual: np.ndarray, stride: int) -> None:
        """Draw ``residual`` (objects per cell at ``stride``), colour levels symmetric around zero."""
        residual = np.asarray(residual, dtype=np.float32)
        # Scaled to a high percentile, not the maximum: one dense clump would otherwise fade every lone
        # missing object to nearly transparent.
        peak = float(np.percentile(np.abs(residual), PEAK_PERCENTILE)) if residual.size else 0.0
        peak = peak if peak > 0 else 1.0
        self.residual.setImage(residual, levels=(-peak, peak), autoLevels=False)
        self.residual.setTransform(QTransform.fromScale(stride, stride))
        self.residual.show()

    def show_markers(self, missed: np.ndarray, doubled: np.ndarray) -> None:
        """Rings at ``missed`` (M, 2) x, y; crosses at ``doubled`` (D, 2) x, y."""
        self.missed.set_positions(np.asarray(missed, dtype=np.float64).reshape(-1, 2))
        self.doubled.set_positions(np.asarray(doubled, dtype=np.float64).reshape(-1, 2))
        self.missed.show()
        self.doubled.show()

    def clear(self) -> None:
        self.residual.clear()
        self.residual.hide()
        self.show_markers(np.zeros((0, 2)), np.zeros((0, 2)))
        self.missed.hide()
        self.doubled.hide()

    def marker_positions(self) -> tuple[np.ndarray, np.ndarray]:
        """(missed, doubled) positions as drawn (tests and the status bar read them)."""
        return tuple(np.column_stack([scatter.data["x"], scatter.data["y"]]).astype(np.float64)
                     for scatter in (self.missed, self.doubled))
