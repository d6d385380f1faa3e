"""PointsScatter's fast path (crowdgui/canvas/points_scatter.py) must draw exactly what pyqtgraph's own
ScatterPlotItem.setData draws: it writes pyqtgraph's record array directly, so a pyqtgraph change that breaks
that shortcut shows up here as a pixel difference."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

import crowdgui.canvas  # noqa: F401  (pyqtgraph configuration)
from crowdgui.canvas.points_scatter import PointsScatter

PEN = pg.mkPen(QColor(0, 0, 0), width=1)
BRUSH = pg.mkBrush(QColor(255, 59, 48))


def _render(qtbot, item) -> bytes:
    """Paint ``item`` in a 240x180 view of the rectangle [0, 100] x [0, 75] and return the pixels."""
    view = pg.GraphicsView(background="w")
    qtbot.addWidget(view)
    box = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
    view.setCentralItem(box)
    box.addItem(item, ignoreBounds=True)
    view.resize(240, 180)
    view.show()
    qtbot.waitExposed(view)
    box.setRange(QRectF(0, 0, 100, 75), padding=0)
    QApplication.processEvents()
    image = view.grab().toImage()
    return bytes(image.constBits())


def _reference(qtbot, points, size=8) -> bytes:
    item = pg.ScatterPlotItem(pxMode=True, size=size, pen=PEN, brush=BRUSH, symbol="o")
    item.setData(x=points[:, 0], y=points[:, 1])
    return _render(qtbot, item)


def _fast(points, size=8) -> PointsScatter:
    item = PointsScatter(size=size, pen=PEN, brush=BRUSH)
    item.set_positions(points)
    return item


def test_fast_positions_draw_like_set_data(qtbot):
    points = np.random.default_rng(0).uniform(0, [100, 75], size=(300, 2))
    assert _render(qtbot, _fast(points)) == _reference(qtbot, points)


def test_appending_and_moving_draw_like_set_data(qtbot):
    rng = np.random.default_rng(1)
    points = rng.uniform(0, [100, 75], size=(50, 2))
    item = _fast(points)
    grown = np.vstack([points, [[50.0, 40.0], [10.0, 60.0]]])
    item.set_positions(grown, changed=np.array([50, 51]))  # what an added point does
    grown[7] = (90.0, 5.0)
    item.set_positions(grown, changed=np.array([7]))  # what a moved point does
    assert _render(qtbot, item) == _reference(qtbot, grown)


def test_a_new_style_and_a_shrinking_set_draw_like_set_data(qtbot):
    points = np.random.default_rng(2).uniform(0, [100, 75], size=(120, 2))
    item = _fast(points)
    item.set_style(14, PEN, BRUSH)
    fewer = points[::3]
    item.set_positions(fewer)  # what a deletion or undo does
    assert len(item.data) == len(fewer)
    assert _render(qtbot, item) == _reference(qtbot, fewer, size=14)


def test_growing_past_the_buffer_keeps_every_point(qtbot):
    item = _fast(np.zeros((0, 2)))
    points = np.random.default_rng(3).uniform(0, [100, 75], size=(3000, 2))
    for end in (1, 10, 1500, 3000):  # each step beyond the spare capacity reallocates the buffer
        item.set_positions(points[:end])
    np.testing.assert_array_equal(np.column_stack(item.getData()), points)
    assert np.all(item.data["sourceRect"]["w"] > 0)
