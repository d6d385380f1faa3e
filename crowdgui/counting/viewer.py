"""The results viewer: one counted image with its predicted density as a heatmap, its count and its points.

It is a second :class:`ImageCanvas`, not the main one: nothing it shows is an annotation, no point model is
bound to it and its edit requests are connected to nothing, so browsing results can never change a sidecar
or an undo history. Image, density map and predicted points are loaded on a worker thread (big photos take
a moment to decode); a newer selection makes older loads drop their result. With a model of 2+ classes a
class chooser shows every object's map (All classes) or one class's map, with that class's count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from crowdgui.background import BackgroundWorker
from crowdgui.canvas import ImageCanvas
from crowdgui.canvas.points_scatter import PointsScatter
from crowdgui.counting.region_outlines import RegionOutlines
from crowdgui.counting.results_model import CountRow
from crowdgui.density.colormaps import COLORMAPS, DEFAULT_COLORMAP, overlay_lut
from crowdgui.density.panel import ColorBar
from crowdgui.density.preview import robust_max
from engine.counting.outputs import read_points_csv
from engine.counting.overlays import load_density
from engine.dataset.images import ImageReadError, read_image

DEFAULT_OPACITY = 0.6
# A predicted map is never exactly zero in the background: a faint haze of noise covers the whole image.
# The heatmap stays fully clear below NOISE_FLOOR of the colour scale and becomes opaque over the next RAMP,
# so the photo shows where the model predicts nothing and only real blobs glow.
NOISE_FLOOR = 0.04
RAMP = 0.3
POINTS_Z = 20  # above the density overlay
POINT_COLOR = QColor(0, 255, 170)
PER_AREA_UNITS = {"per_mm2": "/ mm²", "per_hectare": "/ ha"}


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
    class_name: str | None = None  # the class whose map is shown (None: every object's)


def load_result(row: CountRow, generation: int, with_points: bool,
                class_name: str | None = None) -> LoadedResult:
    """Read one row's image, density map (of ``class_name`` alone when given) and (if asked) predicted
    points; problems become plain words."""
    loaded = LoadedResult(generation, row, class_name=class_name)
    try:
        loaded.image = read_image(row.path)
    except ImageReadError as exc:
        loaded.problem = f"The image cannot be shown: {exc.reason}"
        return loaded
    if row.density_path is None or not row.density_path.is_file():
        loaded.problem = "No density map was saved for this image."
        return loaded
    try:
        loaded.density = load_density(row.density_path) if class_name is None else _class_map(row, class_name)
    except (OSError, ValueError) as exc:
        loaded.problem = f"The density map cannot be read: {exc}"
        return loaded
    try:
        loaded.stride = row.map_stride()
    except ValueError as exc:
        loaded.density, loaded.problem = None, f"The density map cannot be placed: {exc}"
        return loaded
    if with_points:
        if row.points_path is not None and row.points_path.is_file():
            loaded.points = read_points_csv(row.points_path)
        else:
            from engine.counting.blob_split import locate_objects

            height, width = loaded.image.shape[:2]
            loaded.points = locate_objects(loaded.density, loaded.stride, image_size=(width, height))
    return loaded


def _class_map(row: CountRow, class_name: str) -> np.ndarray:
    """One class's map from the row's (classes, h, w) stack; its channel is the class's place in the counts."""
    names = list(row.class_counts or {})
    if row.class_density_path is None or class_name not in names:
        raise ValueError(f"no map of {class_name} was saved for this image")
    stack = np.load(row.class_density_path, allow_pickle=False)
    if stack.ndim != 3 or len(stack) != len(names):
        raise ValueError(f"{row.class_density_path.name} does not hold one map per class")
    return np.asarray(stack[names.index(class_name)], dtype=np.float32)


def load_or_say_why(row: CountRow, generation: int, with_points: bool, class_name: str | None) -> LoadedResult:
    """:func:`load_result` on the worker thread; whatever goes wrong becomes the viewer's message."""
    try:
        return load_result(row, generation, with_points, class_name)
    except Exception as exc:  # noqa: BLE001 - the viewer says what went wrong instead of showing nothing
        return LoadedResult(generation, row, problem=f"{type(exc).__name__}: {exc}")


class ResultViewer(QWidget):
    """A read-only canvas with the heatmap controls: colours, opacity, colour bar, predicted points."""

    loaded = Signal(object)  # LoadedResult, after it is on screen (tests wait for it)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.row: CountRow | None = None
        self.current: LoadedResult | None = None
        self._generation = 0
        self._worker = BackgroundWorker(self)
        self._worker.finished.connect(lambda _generation, loaded: self._show_loaded(loaded))

        self.title = QLabel(self)
        self.title.setObjectName("resultTitle")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.canvas = ImageCanvas(self)
        self.canvas.setMinimumSize(260, 200)
        self.points = PointsScatter(size=7, pen=QColor(0, 0, 0, 200), brush=POINT_COLOR)
        self.points.setZValue(POINTS_Z)
        self.canvas.view_box.addItem(self.points, ignoreBounds=True)
        self.regions = RegionOutlines(self.canvas.view_box)
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
        self.class_choice = QComboBox(self)
        self.class_choice.setToolTip("Whose density to show: every object's, or one class's")
        self.class_choice.hide()  # until a model of 2+ classes has counted
        self.show_points = QCheckBox("Predicted points", self)
        self.show_points.setToolTip("Local maxima of the density map, as many as the count says")

        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(QLabel("Heatmap", self))
        controls.addWidget(self.class_choice)
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
        self.class_choice.currentIndexChanged.connect(self._points_toggled)  # reload the same row
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

    def set_classes(self, names: list[str]) -> None:
        """Offer All classes and each of ``names`` (2+ classes; fewer hides the chooser)."""
        self.class_choice.blockSignals(True)
        self.class_choice.clear()
        if len(names) > 1:
            self.class_choice.addItem("All classes", None)
            for name in names:
                self.class_choice.addItem(name, name)
        self.class_choice.blockSignals(False)
        self.class_choice.setVisible(len(names) > 1)

    def chosen_class(self) -> str | None:
        """The class whose map is shown (None: all of them)."""
        return self.class_choice.currentData() if self.class_choice.count() else None

    # ---------------------------------------------------------------- showing
    def show_row(self, row: CountRow | None) -> None:
        """Show a counted image (None: nothing); the pixels arrive from the worker thread."""
        self.row = row
        self._generation += 1
        if row is None:
            self.current = None
            self.canvas.set_image(None)
            self.points.set_positions(np.zeros((0, 2)))
            self.regions.show([], [])
            self.title.setText("<i>Select a counted image to see its density map</i>")
            self.colorbar.set_range(None)
            self._say(None)
            return
        self.title.setText(self._title(row) + " <i>(loading…)</i>")
        generation, with_points, class_name = self._generation, self.show_points.isChecked(), self.chosen_class()
        self._worker.submit(lambda: load_or_say_why(row, generation, with_points, class_name), generation)

    def wait(self, msecs: int = 10000) -> bool:
        return self._worker.wait(msecs)

    def _show_loaded(self, loaded: LoadedResult) -> None:
        if loaded.generation != self._generation:
            return  # the user has moved on to another image
        self.current = loaded
        keep_view = self.canvas.image is not None and loaded.image is not None and \
            self.canvas.image.shape == loaded.image.shape
        self.canvas.set_image(loaded.image, fit=not keep_view)
        self.title.setText(self._title(loaded.row))
        if loaded.density is not None:
            high = robust_max(loaded.density)
            self.canvas.set_overlay(loaded.density, stride=loaded.stride, levels=(0.0, high))
            self.colorbar.set_range(high / loaded.stride**2, " / px")
        else:
            self.colorbar.set_range(None)
        self.points.set_positions(loaded.points if loaded.points is not None else np.zeros((0, 2)))
        self.regions.show(loaded.row.roi, loaded.row.ignore)
        where = " in ROI" if loaded.row.roi else ""
        name = loaded.class_name
        if name is not None and loaded.row.class_counts and name in loaded.row.class_counts:
            self.canvas.set_count_text(f"{name}{where} {loaded.row.class_counts[name]:.1f}")
        else:
            self.canvas.set_count_text(f"Count{where} {loaded.row.count:.1f}")
        self._say(loaded.problem)
        self.loaded.emit(loaded)

    def _points_toggled(self, on: bool) -> None:
        if self.row is not None:
            self.show_row(self.row)  # reload with (or without) the points; the view stays where it is

    @staticmethod
    def _title(row: CountRow) -> str:
        text = f"<b>{row.image}</b> · count <b>{row.count:.1f}</b>"
        if row.roi or row.ignore:
            text += f" in {row.area_px:,} px" if row.area_px is not None else " in the regions"
        if row.per_area is not None and row.per_area[1] is not None:
            text += f" · <b>{row.per_area[1]:.4g}</b> {PER_AREA_UNITS.get(row.per_area[0], row.per_area[0])}"
        if row.annotated_count is not None:
            text += f" · annotated {row.annotated_count:g} · error {row.error:+.1f}"
        if row.class_counts:
            text += " · " + ", ".join(f"{name} {value:.1f}" for name, value in row.class_counts.items())
        return text

    def _say(self, text: str | None) -> None:
        self.message.setText(text or "")
        self.message.adjustSize()
        self.message.move(12, 40)
        self.message.setVisible(bool(text))
