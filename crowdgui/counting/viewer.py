"""The results viewer: one counted image with its predicted density as a heatmap, its count and its points.

It is a second :class:`ImageCanvas`, not the main one: nothing it shows is an annotation, no point model is
bound to it and its edit requests are connected to nothing, so browsing results can never change a sidecar
or an undo history. The image's ROI and ignore regions, when its annotation file has them, are drawn as on
the annotation canvas (what counting reported inside / left out). Image, density map, regions and predicted
points are loaded on a worker thread (big photos take
a moment to decode); a newer selection makes older loads drop their result.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from crowdgui.annotation.regions_model import RegionsModel
from crowdgui.canvas import ImageCanvas
from crowdgui.canvas.points_scatter import PointsScatter
from crowdgui.counting.results_model import CountRow
from crowdgui.density.colormaps import COLORMAPS, DEFAULT_COLORMAP, overlay_lut
from crowdgui.density.panel import ColorBar
from crowdgui.density.preview import robust_max
from engine.counting.overlays import load_density
from engine.dataset.images import ImageReadError, read_image
from engine.dataset.sidecar import SidecarError, read_sidecar, sidecar_path

DEFAULT_OPACITY = 0.6
# A predicted map is never exactly zero in the background: a faint haze of noise covers the whole image.
# The heatmap stays fully clear below NOISE_FLOOR of the colour scale and becomes opaque over the next RAMP,
# so the photo shows where the model predicts nothing and only real blobs glow.
NOISE_FLOOR = 0.04
RAMP = 0.3
POINTS_Z = 20  # above the density overlay
POINT_COLOR = QColor(0, 255, 170)
SHOWN_REGION_KINDS = ("roi", "ignore")  # the regions counting honours


def prediction_lut(name: str) -> np.ndarray:
    """The density panel's colour table for ``name`` with the noise floor cleared (see NOISE_FLOOR)."""
    lut = overlay_lut(name)
    position = np.linspace(0.0, 1.0, len(lut))
    lut[:, 3] = np.round(np.clip((position - NOISE_FLOOR) / RAMP, 0.0, 1.0) * 255).astype(np.uint8)
    return lut


@dataclass
class LoadedResult:
    """What the viewer shows for one row, made on the worker thread."""

    generation: int
    row: CountRow
    image: np.ndarray | None = None
    density: np.ndarray | None = None
    stride: int = 1
    points: np.ndarray | None = None
    problem: str | None = None
    regions: list = None  # the image's ROI and ignore regions (engine.dataset.regions.Region)


def counting_regions(image_path: Path) -> list:
    """The ROI and ignore regions of a counted image's annotation file (none without a readable file)."""
    sidecar = sidecar_path(image_path)
    if not sidecar.is_file():
        return []
    try:
        return [r for r in read_sidecar(sidecar).regions if r.kind in SHOWN_REGION_KINDS]
    except SidecarError:
        return []


def estimate_stride(image_shape: tuple[int, ...], density_shape: tuple[int, ...]) -> int:
    """The stride of a map of ceil(H / s) x ceil(W / s) cells, for results that do not say it."""
    return max(1, int(round(image_shape[0] / max(1, density_shape[0]))))


def read_points_csv(path: Path) -> np.ndarray:
    """The engine's ``NAME.points.csv`` (header x,y) as an (N, 2) array."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [(float(r["x"]), float(r["y"])) for r in csv.DictReader(handle)]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 2)


def load_result(row: CountRow, generation: int, with_points: bool) -> LoadedResult:
    """Read one row's image, density map and (if asked) predicted points; problems become plain words."""
    loaded = LoadedResult(generation, row, regions=counting_regions(row.path))
    try:
        loaded.image = read_image(row.path)
    except ImageReadError as exc:
        loaded.problem = f"The image cannot be shown: {exc.reason}"
        return loaded
    if row.density_path is None or not row.density_path.is_file():
        loaded.problem = "No density map was saved for this image."
        return loaded
    try:
        loaded.density = load_density(row.density_path)
    except (OSError, ValueError) as exc:
        loaded.problem = f"The density map cannot be read: {exc}"
        return loaded
    loaded.stride = row.stride or estimate_stride(loaded.image.shape, loaded.density.shape)
    if with_points:
        if row.points_path is not None and row.points_path.is_file():
            loaded.points = read_points_csv(row.points_path)
        else:
            from engine.counting.blob_split import locate_objects

            height, width = loaded.image.shape[:2]
            loaded.points = locate_objects(loaded.density, loaded.stride, image_size=(width, height))
    return loaded


class _Signals(QObject):
    loaded = Signal(object)


class _LoadTask(QRunnable):
    def __init__(self, row: CountRow, generation: int, with_points: bool, signals: _Signals):
        super().__init__()
        self.row, self.generation, self.with_points, self.signals = row, generation, with_points, signals

    def run(self) -> None:
        try:
            loaded = load_result(self.row, self.generation, self.with_points)
        except Exception as exc:  # never let a worker die silently: the viewer says what went wrong
            loaded = LoadedResult(self.generation, self.row, problem=f"{type(exc).__name__}: {exc}")
        self.signals.loaded.emit(loaded)


class ResultViewer(QWidget):
    """A read-only canvas with the heatmap controls: colours, opacity, colour bar, predicted points."""

    loaded = Signal(object)  # LoadedResult, after it is on screen (tests wait for it)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.row: CountRow | None = None
        self.current: LoadedResult | None = None
        self._generation = 0
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = _Signals(self)
        self._signals.loaded.connect(self._show_loaded)

        self.title = QLabel(self)
        self.title.setObjectName("resultTitle")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.canvas = ImageCanvas(self)
        self.canvas.setMinimumSize(260, 200)
        self.points = PointsScatter(size=7, pen=QColor(0, 0, 0, 200), brush=POINT_COLOR)
        self.points.setZValue(POINTS_Z)
        self.canvas.view_box.addItem(self.points, ignoreBounds=True)
        self.regions = RegionsModel(self)  # read-only here: no tool is ever given the mouse
        self.canvas.bind_regions(self.regions)
        self.message = QLabel(self.canvas)
        self.message.setObjectName("resultMessage")
        self.message.setWordWrap(True)
        self.message.hide()

        self.colormap = QComboBox(self)
        self.colormap.addItems(list(COLORMAPS))
        self.colormap.setCurrentText(DEFAULT_COLORMAP)
        self.colormap.setToolTip("Colours of the density heatmap")
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(int(DEFAULT_OPACITY * 100))
        self.opacity_slider.setMaximumWidth(140)
        self.opacity_slider.setToolTip("Heatmap opacity")
        self.colorbar = ColorBar(self)
        self.colorbar.setMinimumWidth(140)
        self.colorbar.setMaximumWidth(320)
        self.colorbar.setToolTip("Predicted objects per image pixel")
        self.show_points = QCheckBox("Predicted points", self)
        self.show_points.setToolTip("Local maxima of the density map, as many as the count says")

        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(QLabel("Heatmap", self))
        controls.addWidget(self.colormap)
        controls.addWidget(QLabel("Opacity", self))
        controls.addWidget(self.opacity_slider)
        controls.addWidget(self.colorbar, 1)
        controls.addSpacing(8)
        controls.addWidget(self.show_points)
        controls.addStretch(0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(controls)

        self.colormap.currentTextChanged.connect(self._apply_colormap)
        self.opacity_slider.valueChanged.connect(lambda v: self.canvas.set_overlay_opacity(v / 100.0))
        self.show_points.toggled.connect(self._points_toggled)
        self._apply_colormap(self.colormap.currentText())
        self.canvas.set_overlay_opacity(DEFAULT_OPACITY)
        self.show_row(None)

    # ------------------------------------------------------------------- look
    def lookup_table(self) -> np.ndarray:
        """The overlay's RGBA colour table (exports use it so saved pictures look like the screen)."""
        return prediction_lut(self.colormap.currentText())

    def opacity(self) -> float:
        return self.opacity_slider.value() / 100.0

    def _apply_colormap(self, name: str) -> None:
        lut = prediction_lut(name)
        self.canvas.overlay.setLookupTable(lut)
        self.colorbar.set_lut(lut)

    # ---------------------------------------------------------------- showing
    def show_row(self, row: CountRow | None) -> None:
        """Show a counted image (None: nothing); the pixels arrive from the worker thread."""
        self.row = row
        self._generation += 1
        if row is None:
            self.current = None
            self.canvas.set_image(None)
            self.regions.reset(None, [])
            self.points.set_positions(np.zeros((0, 2)))
            self.title.setText("<i>Select a counted image to see its density map</i>")
            self.colorbar.set_range(None)
            self._say(None)
            return
        self.title.setText(self._title(row) + " <i>(loading…)</i>")
        self._pool.start(_LoadTask(row, self._generation, self.show_points.isChecked(), self._signals))

    def wait(self, msecs: int = 10000) -> bool:
        return self._pool.waitForDone(msecs)

    def _show_loaded(self, loaded: LoadedResult) -> None:
        if loaded.generation != self._generation:
            return  # the user has moved on to another image
        self.current = loaded
        keep_view = self.canvas.image is not None and loaded.image is not None and \
            self.canvas.image.shape == loaded.image.shape
        self.canvas.set_image(loaded.image, fit=not keep_view)
        self.regions.reset(loaded.row.image, loaded.regions or [])
        self.title.setText(self._title(loaded.row))
        if loaded.density is not None:
            high = robust_max(loaded.density)
            self.canvas.set_overlay(loaded.density, stride=loaded.stride, levels=(0.0, high))
            self.colorbar.set_range(high / loaded.stride**2, " / px")
        else:
            self.colorbar.set_range(None)
        self.points.set_positions(loaded.points if loaded.points is not None else np.zeros((0, 2)))
        self.canvas.set_count_text(f"Count {loaded.row.count:.1f}")
        self._say(loaded.problem)
        self.loaded.emit(loaded)

    def _points_toggled(self, on: bool) -> None:
        if self.row is not None:
            self.show_row(self.row)  # reload with (or without) the points; the view stays where it is

    @staticmethod
    def _title(row: CountRow) -> str:
        text = f"<b>{row.image}</b> · count <b>{row.count:.1f}</b>"
        if row.annotated_count is not None:
            text += f" · annotated {row.annotated_count:g} · error {row.error:+.1f}"
        return text

    def _say(self, text: str | None) -> None:
        self.message.setText(text or "")
        self.message.adjustSize()
        self.message.move(12, 40)
        self.message.setVisible(bool(text))
