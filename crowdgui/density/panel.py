"""The density dock's widget: how maps are made (saved with the dataset) and how the overlay looks.

The panel holds no data and computes nothing: it shows settings and figures it is given and announces what the
user changed. The controller (controller.py) stores the settings in the dataset and drives the preview.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from crowdgui.density.colormaps import (
    COLORMAPS,
    DEFAULT_COLORMAP,
    DEFAULT_SCALE,
    SCALES,
    overlay_lut,
    scale_for_mode,
)
from crowdgui.density.suggestion import SuggestionBox
from engine.density import MAX_SIGMA, MIN_SIGMA, DensitySettings

MODES = (("fixed", "Fixed sigma"), ("adaptive", "Adaptive (k nearest neighbours)"))
DEFAULT_OPACITY = 0.6


class ColorBar(QWidget):
    """A horizontal strip of the overlay's colours with the scale's two ends written under it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._strip = QLabel(self)
        self._strip.setMinimumHeight(14)
        self._strip.setScaledContents(True)
        self._strip.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.low_label = QLabel("0", self)
        self.high_label = QLabel("", self)
        self.high_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        labels = QHBoxLayout()
        labels.setContentsMargins(0, 0, 0, 0)
        labels.addWidget(self.low_label)
        labels.addStretch(1)
        labels.addWidget(self.high_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addWidget(self._strip)
        layout.addLayout(labels)

    def set_lut(self, lut: np.ndarray) -> None:
        """Show the colours of an (N, 4) RGBA table, drawn over a checkerboard so the fade to clear shows."""
        rgba = np.ascontiguousarray(lut[None, :, :], dtype=np.uint8)
        image = QImage(rgba.data, rgba.shape[1], 1, rgba.shape[1] * 4, QImage.Format.Format_RGBA8888).copy()
        pixmap_size = QSize(256, 14)
        pixmap = QPixmap(pixmap_size)
        pixmap.fill(QColor("white"))
        painter = QPainter(pixmap)
        square = 7
        for column in range(0, pixmap_size.width(), square):
            for row in range(0, pixmap_size.height(), square):
                if (column // square + row // square) % 2:
                    painter.fillRect(column, row, square, square, QColor(200, 200, 200))
        painter.drawImage(QRectF(0, 0, pixmap_size.width(), pixmap_size.height()), image)
        painter.end()
        self._strip.setPixmap(pixmap)

    def set_range(self, high: float | None, unit: str = "") -> None:
        """Write the scale's top (``None``: no map shown)."""
        self.high_label.setText("" if high is None else f"{high:.3g}{unit}")


class DensityPanel(QWidget):
    """Density settings, overlay look, and the current map's figures.

    Signals (emitted only for the user's changes, never for :meth:`set_settings`):
        settings_changed(DensitySettings)
        overlay_toggled(bool)
        colormap_changed(str)     a key of ``colormaps.COLORMAPS``
        scale_changed(str)        a key of ``colormaps.SCALES``
        opacity_changed(float)    0..1
    """

    settings_changed = Signal(object)
    overlay_toggled = Signal(bool)
    colormap_changed = Signal(str)
    scale_changed = Signal(str)
    opacity_changed = Signal(float)
    class_changed = Signal(str)  # the class whose map is shown ("": all classes together)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("densityPanel")
        self._updating = False

        self.mode_combo = QComboBox()
        for key, label in MODES:
            self.mode_combo.addItem(label, key)
        self.mode_combo.setToolTip("Fixed: every point gets the same Gaussian. Adaptive: each point's sigma is\n"
                                   "beta x the mean distance to its k nearest neighbours (dense crowds).")
        self.sigma_spin = _double_spin(MIN_SIGMA, MAX_SIGMA, 0.5, 1, " px")
        self.sigma_spin.setToolTip("Gaussian spread in pixels (adaptive mode: used for a point with no "
                                   "neighbours)")
        self.beta_spin = _double_spin(0.01, 2.0, 0.05, 2, "")
        self.beta_spin.setToolTip("Adaptive mode: sigma = beta x mean distance to the k nearest points")
        self.k_spin = QSpinBox()
        self.k_spin.setRange(1, 50)
        self.k_spin.setKeyboardTracking(False)
        self.k_spin.setToolTip("Adaptive mode: how many nearest points to average the distance over")

        settings_box = QGroupBox("Density map (saved with the dataset)")
        form = QFormLayout(settings_box)
        form.addRow("Mode", self.mode_combo)
        form.addRow("Sigma", self.sigma_spin)
        form.addRow("Beta", self.beta_spin)
        form.addRow("k", self.k_spin)
        # Filled in by the controller (worked out from the dataset's points on a worker thread).
        self.suggestion_box = SuggestionBox()
        form.addRow(self.suggestion_box)

        self.overlay_check = QCheckBox("Show density overlay")
        self.colormap_combo = QComboBox()
        self.colormap_combo.addItems(list(COLORMAPS))
        self.scale_combo = QComboBox()
        self.scale_combo.addItems(list(SCALES))
        self.scale_combo.setToolTip("How colours spread over the density. Square root and logarithmic make\n"
                                    "faint areas visible (in adaptive mode near objects have wide, low kernels).\n"
                                    "Auto: logarithmic in adaptive mode, square root in fixed mode.")
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setToolTip("Overlay opacity")
        self.colorbar = ColorBar()
        self.class_combo = QComboBox()
        self.class_combo.setToolTip("The map of one class is made from its points only")
        self.class_combo.currentIndexChanged.connect(
            lambda _index: self._updating or self.class_changed.emit(self.chosen_class()))
        overlay_box = QGroupBox("Overlay")
        overlay_form = QFormLayout(overlay_box)
        overlay_form.addRow(self.overlay_check)
        overlay_form.addRow("Class", self.class_combo)
        overlay_form.setRowVisible(self.class_combo, False)  # shown when the dataset has 2+ classes
        overlay_form.addRow("Colours", self.colormap_combo)
        overlay_form.addRow("Scale", self.scale_combo)
        overlay_form.addRow("Opacity", self.opacity_slider)
        overlay_form.addRow(self.colorbar)

        self.summary_label = QLabel()
        self.summary_label.setObjectName("densitySummary")
        self.summary_label.setWordWrap(True)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #b00020;")
        self.message_label.hide()

        layout = QVBoxLayout(self)
        layout.addWidget(settings_box)
        layout.addWidget(overlay_box)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.message_label)
        layout.addStretch(1)

        self.set_settings(DensitySettings())
        self.set_overlay_look(True, DEFAULT_COLORMAP, DEFAULT_OPACITY, DEFAULT_SCALE)
        self.set_summary(None, None)

        self.mode_combo.currentIndexChanged.connect(self._on_settings_edited)
        for spin in (self.sigma_spin, self.beta_spin, self.k_spin):
            spin.valueChanged.connect(self._on_settings_edited)
        self.overlay_check.toggled.connect(self._on_overlay_toggled)
        self.colormap_combo.currentTextChanged.connect(self._on_colormap_changed)
        self.scale_combo.currentTextChanged.connect(self._on_scale_changed)
        self.opacity_slider.valueChanged.connect(lambda value: self.opacity_changed.emit(value / 100.0))

    # ------------------------------------------------------------------ classes
    def set_classes(self, names: list[str]) -> None:
        """Offer "All" and each class (2+ names); with one class the chooser is hidden."""
        items = ["", *names] if len(names) >= 2 else []
        if [self.class_combo.itemData(i) for i in range(self.class_combo.count())] == items:
            return
        chosen = self.chosen_class()
        self._updating = True
        self.class_combo.clear()
        for name in items:
            self.class_combo.addItem(name or "All classes", name)
        self.class_combo.setCurrentIndex(max(self.class_combo.findData(chosen), 0))
        self._updating = False
        form = self.class_combo.parentWidget().layout()
        form.setRowVisible(self.class_combo, bool(items))

    def chosen_class(self) -> str:
        """The class whose map is wanted; "" for all of them."""
        return self.class_combo.currentData() or ""

    # ----------------------------------------------------------------- settings
    def settings(self) -> DensitySettings:
        """The density settings as the widgets show them."""
        return DensitySettings(mode=self.mode_combo.currentData(), sigma=self.sigma_spin.value(),
                               beta=self.beta_spin.value(), k=self.k_spin.value())

    def set_settings(self, settings: DensitySettings) -> None:
        """Show ``settings`` (a dataset was opened) without announcing a change."""
        self._updating = True
        try:
            index = self.mode_combo.findData(settings.mode)
            self.mode_combo.setCurrentIndex(max(index, 0))
            self.sigma_spin.setValue(settings.sigma)
            self.beta_spin.setValue(settings.beta)
            self.k_spin.setValue(settings.k)
        finally:
            self._updating = False
        self._enable_adaptive_fields()
        self.suggestion_box.set_current(self.settings())

    def _on_settings_edited(self) -> None:
        self._enable_adaptive_fields()
        if not self._updating:
            self.suggestion_box.set_current(self.settings())
        self.colorbar.set_lut(self.lut())  # the "Auto" scale follows the mode
        if not self._updating:
            self.settings_changed.emit(self.settings())

    def _enable_adaptive_fields(self) -> None:
        adaptive = self.mode_combo.currentData() == "adaptive"
        self.beta_spin.setEnabled(adaptive)
        self.k_spin.setEnabled(adaptive)

    # ------------------------------------------------------------------ overlay
    def set_overlay_look(self, visible: bool, colormap: str, opacity: float, scale: str) -> None:
        """Show stored overlay preferences without announcing changes (unknown names fall back)."""
        widgets = (self.overlay_check, self.colormap_combo, self.opacity_slider, self.scale_combo)
        for widget in widgets:
            widget.blockSignals(True)
        self.overlay_check.setChecked(visible)
        self.colormap_combo.setCurrentText(colormap if colormap in COLORMAPS else DEFAULT_COLORMAP)
        self.scale_combo.setCurrentText(scale if scale in SCALES else DEFAULT_SCALE)
        self.opacity_slider.setValue(round(min(max(opacity, 0.0), 1.0) * 100))
        for widget in widgets:
            widget.blockSignals(False)
        self.colorbar.set_lut(self.lut())

    def overlay_visible(self) -> bool:
        return self.overlay_check.isChecked()

    def colormap(self) -> str:
        return self.colormap_combo.currentText()

    def scale(self) -> str:
        """The chosen scale's panel name (a key of ``colormaps.SCALES``)."""
        return self.scale_combo.currentText()

    def opacity(self) -> float:
        return self.opacity_slider.value() / 100.0

    def lut(self) -> np.ndarray:
        """The overlay's colour table for the chosen colours and scale."""
        return overlay_lut(self.colormap(), scale_for_mode(SCALES[self.scale()], self.mode_combo.currentData()))

    def _on_overlay_toggled(self, visible: bool) -> None:
        self.overlay_toggled.emit(visible)

    def _on_colormap_changed(self, name: str) -> None:
        self.colorbar.set_lut(self.lut())
        self.colormap_changed.emit(name)

    def _on_scale_changed(self, name: str) -> None:
        self.colorbar.set_lut(self.lut())
        self.scale_changed.emit(name)

    # ------------------------------------------------------------------ figures
    def set_summary(self, count: int | None, integral: float | None, ignored: float = 0.0) -> None:
        """Write "points N · density integral X" (``None``: nothing known yet); ``ignored``: the density
        inside ignore regions, left out of the map."""
        if count is None:
            self.summary_label.setText("No image")
            return
        text = f"points {count}"
        text += " · density integral …" if integral is None else f" · density integral {integral:.1f}"
        if ignored > 0.05:
            text += f"\n({ignored:.1f} inside ignore regions: left out, never trained on or counted)"
            integral = None if integral is None else integral + ignored
        if integral is not None and count - integral > 0.5:
            # density_map ignores points outside the image, so the two figures can differ; say why.
            text += f"\n({count - round(integral)} point(s) lie outside the image and are not in the map)"
        self.summary_label.setText(text)

    def set_scale(self, high_per_pixel: float | None) -> None:
        """The colour scale's top, in objects per image pixel (``None``: no map)."""
        self.colorbar.set_range(high_per_pixel, " / px")

    def set_message(self, text: str | None) -> None:
        """Show a problem in plain words (``None`` hides it)."""
        self.message_label.setText(text or "")
        self.message_label.setVisible(bool(text))


def _double_spin(low: float, high: float, step: float, decimals: int, suffix: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setDecimals(decimals)
    spin.setSuffix(suffix)
    # Typing "12" must not make a map for "1" first: the value counts when Enter is pressed or focus leaves.
    spin.setKeyboardTracking(False)
    return spin
