"""ONE pyqtgraph ScatterPlotItem for all points, with a fast path for changing positions.

ScatterPlotItem.setData looks up every spot's symbol in its pixmap atlas in a Python loop (about 90 ms for
50,000 points) and addPoints copies every record including five object columns (about 25 ms). All our spots
share one style, so the atlas entry is looked up once and the record array lives in a buffer with spare
capacity whose style columns are filled when it grows: a position change then only writes the x and y
columns (well under a millisecond for 50,000 points). Painting is pyqtgraph's own (pxMode pixmap fragments).
tests/gui/test_points_scatter.py checks that this draws exactly what setData draws.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg


class PointsScatter(pg.ScatterPlotItem):
    """A scatter item whose spots all share one symbol, size, pen and brush (pxMode: size in screen pixels)."""

    def __init__(self, size: float = 8, pen=None, brush=None, symbol: str = "o"):
        super().__init__(pxMode=True, size=size, pen=pen if pen is not None else pg.mkPen("k"),
                         brush=brush if brush is not None else pg.mkBrush("r"), symbol=symbol)
        self._buffer = np.zeros(0, dtype=self.data.dtype)
        self._rect: tuple | None = None  # the atlas rectangle every buffered row holds

    # Mouse handling belongs to the canvas: pyqtgraph's per-spot click/hover would build 50k SpotItems.
    def mouseClickEvent(self, ev):
        ev.ignore()

    def hoverEvent(self, ev):
        pass

    def set_style(self, size: float, pen, brush, symbol: str = "o") -> None:
        """Change the look of every spot."""
        self.setSymbol(symbol, update=False)
        self.setSize(size, update=False)
        self.setPen(pen, update=False)
        self.setBrush(brush, update=False)
        self._write_rects(len(self.data))
        self._changed()

    def set_positions(self, xy: np.ndarray, changed: np.ndarray | None = None) -> None:
        """Show the points of the (N, 2) array ``xy``.

        ``changed``: indices that differ from what is shown (None: all). With appended points that is the new
        tail, with a moved point its index; other rows are left untouched.
        """
        n = len(xy)
        if n > len(self._buffer):
            self._grow(n)
            changed = None
        self._write_rects(n)
        if changed is None:
            self._buffer["x"][:n] = xy[:, 0]
            self._buffer["y"][:n] = xy[:, 1]
        elif len(changed):
            self._buffer["x"][changed] = xy[changed, 0]
            self._buffer["y"][changed] = xy[changed, 1]
        self.data = self._buffer[:n]
        self._changed()

    def move_one(self, index: int, x: float, y: float) -> None:
        """Draw one spot elsewhere (the live preview while a point is dragged)."""
        self.data["x"][index] = x
        self.data["y"][index] = y
        self._changed()

    def _grow(self, n: int) -> None:
        capacity = max(n + n // 2, 2 * len(self._buffer)) + 1024  # headroom: appending stays cheap
        buffer = np.zeros(capacity, dtype=self.data.dtype)
        for column in ("symbol", "pen", "brush", "data", "item"):
            buffer[column] = None  # None means "the item's default style" to pyqtgraph
        buffer["size"] = -1
        buffer["visible"] = True
        self._buffer = buffer
        self._rect = None

    def _write_rects(self, n: int) -> None:
        """Make sure every buffered spot points at the atlas entry of the current style."""
        style = (self.opts["symbol"], self.opts["size"], self.opts["pen"], self.opts["brush"])
        rect = tuple(self.fragmentAtlas[[style]][0])  # one dict lookup when the style is known
        # pyqtgraph's style setters zero the rects of the shown rows; a changed screen pixel ratio rebuilds
        # the atlas. Either way every row is refreshed, otherwise nothing is written.
        stale = len(self.data) > 0 and self.data["sourceRect"]["w"][0] == 0
        if rect != self._rect or stale:
            self._buffer["sourceRect"] = rect
            if len(self.data) and self.data.base is not self._buffer:
                self.data["sourceRect"] = rect
            self._rect = rect

    def _changed(self) -> None:
        self.prepareGeometryChange()
        self.informViewBoundsChanged()
        self.bounds = [None, None]
        self._updateMaxSpotSizes(data=self.data)
        self.invalidate()
