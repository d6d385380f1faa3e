"""Model-proposed points: a second points layer drawn apart from the confirmed points.

Hollow orange rings with a dark rim, under the confirmed (filled) points: a proposal reads as "not counted
yet" on any image and at any point colour the user picks, and a confirmed point added on top of one stays
visible. Same fast scatter, hit-testing and selection as the confirmed points (it is a PointsLayer).
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QObject
from PySide6.QtGui import QColor

from crowdgui.canvas.points_layer import SELECTION_COLOR, PointsLayer

PROPOSALS_Z = 9  # below the confirmed points (10), above the density overlay (5)
PROPOSALS_SELECTION_Z = 11
PROPOSAL_COLOR = QColor(255, 149, 0)  # the orange of the legend in the count label
PROPOSAL_COLOR_HEX = PROPOSAL_COLOR.name()


class ProposalsLayer(PointsLayer):
    """Draws the proposals model as rings; hit-testing and selection as for points."""

    def __init__(self, view_box: pg.ViewBox, parent: QObject | None = None):
        super().__init__(view_box, parent)
        self.scatter.setZValue(PROPOSALS_Z)
        self.selection_scatter.setZValue(PROPOSALS_SELECTION_Z)

    def set_style(self, size: float, color: QColor | None = None) -> None:
        """Ring diameter follows the points' size; the colour is always the proposals' own."""
        self.size = float(size) + 4  # a ring a little larger than a point, so one inside it stays visible
        # A thick orange pen over a transparent dark fill: the ring shows on bright and dark images alike.
        ring = pg.mkPen(PROPOSAL_COLOR, width=2.5)
        self.scatter.set_style(self.size, ring, pg.mkBrush(QColor(0, 0, 0, 70)))
        self.selection_scatter.set_style(self.size + 6, pg.mkPen(SELECTION_COLOR, width=2.5), pg.mkBrush(None))
