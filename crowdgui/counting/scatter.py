"""True-vs-predicted scatter plot: a dot per annotated image; a perfect model puts all on the diagonal."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QStackedLayout, QWidget

from crowdgui.counting.results_model import CountRow

_DOT = pg.mkBrush(46, 111, 186, 170)
_SELECTED = pg.mkBrush(255, 140, 0, 255)


class CountScatter(QWidget):
    """Annotated count (x) against predicted count (y). Clicking a dot emits ``image_clicked(path)``."""

    image_clicked = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.plot = pg.PlotWidget(self, background=None)
        self.plot.setMinimumSize(160, 140)
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "Annotated count")
        item.setLabel("left", "Predicted count")
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setMenuEnabled(False)
        item.hideButtons()
        dashed = pg.mkPen((128, 128, 128), width=1, style=Qt.PenStyle.DashLine)
        self.identity = pg.PlotCurveItem(pen=dashed)
        self.dots = pg.ScatterPlotItem(size=8, pen=pg.mkPen(255, 255, 255, 160), brush=_DOT, hoverable=True,
                                       tip=self._tip)
        self.selected = pg.ScatterPlotItem(size=13, pen=pg.mkPen(0, 0, 0, 220, width=1.5), brush=_SELECTED)
        item.addItem(self.identity)
        item.addItem(self.dots)
        item.addItem(self.selected)
        self.dots.sigClicked.connect(self._clicked)

        self.empty = QLabel("The scatter plot needs annotated images:\nnone of the counted images has any.")
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: palette(mid);")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._stack = QStackedLayout(self)
        self._stack.addWidget(self.empty)
        self._stack.addWidget(self.plot)
        self._paths: list[str] = []

    def set_rows(self, rows: list[CountRow]) -> None:
        """Redraw from all rows (only annotated ones are plotted)."""
        annotated = [row for row in rows if row.annotated_count is not None]
        self._stack.setCurrentWidget(self.plot if annotated else self.empty)
        self._paths = [str(row.path) for row in annotated]
        if not annotated:
            self.dots.clear()
            self.identity.setData([], [])
            return
        x = np.array([row.annotated_count for row in annotated], dtype=float)
        y = np.array([row.count for row in annotated], dtype=float)
        self.dots.setData(x=x, y=y, data=self._paths)
        top = float(max(x.max(), y.max(), 1.0)) * 1.05
        self.identity.setData([0.0, top], [0.0, top])
        self.plot.getPlotItem().setRange(xRange=(0, top), yRange=(0, top), padding=0.02)

    def show_selected(self, row: CountRow | None) -> None:
        if row is None or row.annotated_count is None:
            self.selected.clear()
        else:
            self.selected.setData(x=[row.annotated_count], y=[row.count])

    def _clicked(self, _item, points, _event=None) -> None:
        if len(points):
            self.image_clicked.emit(str(points[0].data()))

    @staticmethod
    def _tip(x, y, data):
        name = str(data).replace("\\", "/").rsplit("/", 1)[-1]
        return f"{name}\nannotated {x:g}, predicted {y:.1f}"
