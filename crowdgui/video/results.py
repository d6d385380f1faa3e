"""The video results: counts over time as a pyqtgraph plot, and the chosen frame with its heatmap.

Clicking the plot picks the counted frame nearest in time; the panel asks for it with ``frame_requested``
(the controller decodes it and loads its density map) and shows it with :meth:`show_frame`.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from crowdgui.canvas import ImageCanvas
from crowdgui.counting.viewer import DEFAULT_OPACITY, prediction_lut
from crowdgui.density.colormaps import DEFAULT_COLORMAP
from crowdgui.density.preview import robust_max

CURVE_PEN = pg.mkPen((80, 160, 255), width=2)
MARKER_PEN = pg.mkPen((255, 170, 0), width=2)


class VideoResultsPanel(QWidget):
    frame_requested = Signal(int, float)  # frame index, time_s
    export_csv_requested = Signal()
    export_overlay_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.frames: list[int] = []
        self.times: list[float] = []
        self.counts: list[float] = []
        self.title = QLabel(self)
        self.plot = pg.PlotWidget(self)
        self.plot.setBackground("w")
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.setLabel("bottom", "time", units="s")
        self.plot.setLabel("left", "count")
        self.plot.setMouseEnabled(y=False)
        self.curve = self.plot.plot([], [], pen=CURVE_PEN, symbol="o", symbolSize=5,
                                    symbolBrush=(80, 160, 255), symbolPen=None)
        self.marker = pg.InfiniteLine(angle=90, pen=MARKER_PEN)
        self.marker.hide()
        self.plot.addItem(self.marker)
        self.plot.scene().sigMouseClicked.connect(self._plot_clicked)
        self.canvas = ImageCanvas(self)
        self.canvas.setMinimumSize(260, 200)
        self.canvas.overlay.setLookupTable(prediction_lut(DEFAULT_COLORMAP))
        self.canvas.set_overlay_opacity(DEFAULT_OPACITY)
        self.frame_title = QLabel("<i>Click the plot to see that frame and its heatmap</i>", self)

        self.cancel_button = QPushButton("Cancel", self)
        self.export_csv_button = QPushButton("Export CSV…", self)
        self.export_overlay_button = QPushButton("Export overlay video…", self)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.export_csv_button.clicked.connect(self.export_csv_requested)
        self.export_overlay_button.clicked.connect(self.export_overlay_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.title, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.export_csv_button)
        buttons.addWidget(self.export_overlay_button)
        frame_side = QWidget(self)
        frame_layout = QVBoxLayout(frame_side)
        frame_layout.setContentsMargins(0, 0, 0, 0)
        frame_layout.addWidget(self.frame_title)
        frame_layout.addWidget(self.canvas, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.plot)
        splitter.addWidget(frame_side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(splitter, 1)
        self.set_running(False, has_overlay=False)

    # ---------------------------------------------------------------- filling
    def begin(self, video_name: str) -> None:
        self.frames, self.times, self.counts = [], [], []
        self.curve.setData([], [])
        self.marker.hide()
        self.canvas.set_image(None)
        self.title.setText(f"Counting <b>{video_name}</b>…")
        self.set_running(True, has_overlay=False)

    def add_count(self, frame: int, time_s: float, count: float) -> None:
        self.frames.append(frame)
        self.times.append(time_s)
        self.counts.append(count)
        self.curve.setData(self.times, self.counts)

    def finish(self, text: str, has_overlay: bool) -> None:
        self.title.setText(text)
        self.set_running(False, has_overlay)

    def set_running(self, running: bool, has_overlay: bool) -> None:
        self.cancel_button.setVisible(running)
        self.export_csv_button.setEnabled(not running and bool(self.frames))
        self.export_overlay_button.setEnabled(not running and has_overlay)

    # ---------------------------------------------------------------- picking
    def _plot_clicked(self, event) -> None:
        if not self.times or event.button() != Qt.MouseButton.LeftButton:
            return
        position = self.plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        self.pick_time(position.x())

    def pick_time(self, time_s: float) -> None:
        """Ask for the counted frame nearest to ``time_s``."""
        nearest = int(np.argmin(np.abs(np.asarray(self.times) - time_s)))
        self.marker.setValue(self.times[nearest])
        self.marker.show()
        self.frame_requested.emit(self.frames[nearest], self.times[nearest])

    def show_frame(self, frame: int, time_s: float, image: np.ndarray, density: np.ndarray | None,
                   stride: int, count: float | None) -> None:
        keep_view = self.canvas.image is not None and self.canvas.image.shape == image.shape
        self.canvas.set_image(image, fit=not keep_view)
        if density is not None:
            self.canvas.set_overlay(density, stride=stride, levels=(0.0, robust_max(density)))
        else:
            self.canvas.set_overlay(None)
        text = f"Frame {frame} at {time_s:.2f} s"
        if count is not None:
            text += f": count {count:.1f}"
            self.canvas.set_count_text(f"Count {count:.1f}")
        self.frame_title.setText(text)

    def say(self, text: str) -> None:
        self.frame_title.setText(text)
