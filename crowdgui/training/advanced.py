"""The training dialog's collapsible "Advanced" section: loss, optimiser, crops, density targets, seed, width.

Numbers the engine chooses per model (learning rate, batch, crop, width) show "engine default" at their lowest
value and are then left off the command line, so the engine's defaults stay the single source of truth.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QLabel,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from crowdgui.training.options import TrainOptions
from engine.density import DensitySettings

DEFAULT_TEXT = "engine default"
# The training losses (engine.training.config.LOSSES) as the dialog names them, with one line on each.
LOSS_CHOICES = (
    ("mse", "Density map (MSE)", "Squared error to the density map drawn from your points"),
    ("bayesian", "Bayesian loss", "From the points: each gets a count of one nearby (Ma et al. 2019)"),
    ("dmcount", "DM-Count", "From the points: count and spread match theirs (Wang et al. 2020)"),
)


def fit_height(window: QWidget) -> None:
    """Make ``window`` tall enough for its wrapped labels: a size hint ignores how many lines they wrap to
    at the window's width, so the form's rows would be squeezed over each other."""
    layout = window.layout()
    if layout is None:
        return
    layout.activate()
    window.resize(window.width(), max(window.height(), layout.totalHeightForWidth(window.width())))


def _optional_spin(maximum: int, step: int = 1) -> QSpinBox:
    spin = QSpinBox(minimum=0, maximum=maximum, singleStep=step)
    spin.setSpecialValueText(DEFAULT_TEXT)
    return spin


class AdvancedOptions(QWidget):
    """A header button that folds open a form of rarely changed options."""

    changed = Signal()

    def __init__(self, density: DensitySettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.dataset_density = density
        self.toggle = QToolButton()
        self.toggle.setText("Advanced options")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.RightArrow)
        self.toggle.setStyleSheet("QToolButton { border: none; font-weight: bold; }")
        self.toggle.toggled.connect(self._fold)

        self.lr_spin = QDoubleSpinBox(minimum=0.0, maximum=1.0, decimals=6, singleStep=1e-4)
        self.lr_spin.setSpecialValueText(DEFAULT_TEXT)
        self.batch_spin = _optional_spin(512)
        self.crop_spin = _optional_spin(4096, step=32)
        self.crop_spin.setToolTip("Side of the square patches cut from the images for training (pixels)")
        self.width_spin = _optional_spin(512, step=8)
        self.width_spin.setToolTip("Channels of the network's first layer: smaller trains faster, larger "
                                   "learns more")
        self.sigma_mode = QComboBox()
        self.sigma_mode.addItem("Fixed sigma", "fixed")
        self.sigma_mode.addItem("Adaptive (k nearest neighbours)", "adaptive")
        self.sigma_spin = QDoubleSpinBox(minimum=0.1, maximum=500.0, decimals=1, singleStep=0.5, suffix=" px")
        self.beta_spin = QDoubleSpinBox(minimum=0.01, maximum=5.0, decimals=2, singleStep=0.05)
        self.k_spin = QSpinBox(minimum=1, maximum=50)
        self.loss_combo = QComboBox()
        for value, text, explanation in LOSS_CHOICES:
            self.loss_combo.addItem(text, value)
            self.loss_combo.setItemData(self.loss_combo.count() - 1, explanation, Qt.ToolTipRole)
        self.loss_hint = QLabel()
        self.loss_combo.currentIndexChanged.connect(self._loss_changed)
        self.seed_spin = QSpinBox(minimum=0, maximum=2**31 - 1)
        self.seed_spin.setToolTip("The same seed on the same machine repeats a run")
        self.reset_density = QPushButton("Use the dataset's density settings")
        self.reset_density.clicked.connect(lambda: self.set_density(self.dataset_density))

        self.body = QFrame()
        self.body.setFrameShape(QFrame.StyledPanel)
        form = QFormLayout(self.body)
        form.setFieldGrowthPolicy(QFormLayout.FieldsStayAtSizeHint)
        form.addRow("Loss:", self.loss_combo)
        form.addRow("", self.loss_hint)
        form.addRow("Learning rate:", self.lr_spin)
        form.addRow("Batch size:", self.batch_spin)
        form.addRow("Crop size:", self.crop_spin)
        form.addRow("Network width:", self.width_spin)
        form.addRow("Density targets:", self.sigma_mode)
        form.addRow("Sigma:", self.sigma_spin)
        form.addRow("Beta:", self.beta_spin)
        form.addRow("Neighbours (k):", self.k_spin)
        form.addRow("", self.reset_density)
        form.addRow("Random seed:", self.seed_spin)
        self._form = form
        self.body.setVisible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toggle)
        layout.addWidget(self.body)

        for spin in (self.lr_spin, self.batch_spin, self.crop_spin, self.width_spin, self.sigma_spin,
                     self.beta_spin, self.k_spin, self.seed_spin):
            spin.valueChanged.connect(self.changed)
        self.sigma_mode.currentIndexChanged.connect(self._sigma_mode_changed)

    def _fold(self, open_: bool) -> None:
        self.toggle.setArrowType(Qt.DownArrow if open_ else Qt.RightArrow)
        self.body.setVisible(open_)
        if self.window() is not None and self.window() is not self:
            self.window().adjustSize()
            fit_height(self.window())

    def _loss_changed(self) -> None:
        self.loss_hint.setText(self.loss_combo.currentData(Qt.ToolTipRole) or "")
        self.changed.emit()

    def _sigma_mode_changed(self) -> None:
        adaptive = self.sigma_mode.currentData() == "adaptive"
        for spin in (self.beta_spin, self.k_spin):
            spin.setEnabled(adaptive)
            self._form.labelForField(spin).setEnabled(adaptive)
        self.changed.emit()

    def add_row(self, widget: QWidget) -> None:
        """One more full-width row in the folded form, after the density settings."""
        self._form.insertRow(self._form.getWidgetPosition(self.reset_density)[0] + 1, widget)

    def density(self) -> DensitySettings:
        """The density targets as the form shows them."""
        return DensitySettings(mode=self.sigma_mode.currentData(), sigma=self.sigma_spin.value(),
                               beta=self.beta_spin.value(), k=self.k_spin.value())

    def set_density(self, density: DensitySettings) -> None:
        self.sigma_mode.setCurrentIndex(max(0, self.sigma_mode.findData(density.mode)))
        self.sigma_spin.setValue(density.sigma)
        self.beta_spin.setValue(density.beta)
        self.k_spin.setValue(density.k)
        self._sigma_mode_changed()

    def apply(self, options: TrainOptions) -> None:
        self.lr_spin.setValue(options.lr or 0.0)
        self.batch_spin.setValue(options.batch or 0)
        self.crop_spin.setValue(options.crop or 0)
        self.width_spin.setValue(options.width or 0)
        self.seed_spin.setValue(options.seed)
        self.loss_combo.setCurrentIndex(max(0, self.loss_combo.findData(options.loss)))
        self._loss_changed()
        self.set_density(DensitySettings(mode=options.sigma_mode, sigma=options.sigma, beta=options.beta,
                                         k=options.k))

    def fill(self, options: TrainOptions) -> None:
        """Copy the section's values into ``options`` (0 = engine default = ``None``)."""
        options.lr = self.lr_spin.value() or None
        options.batch = self.batch_spin.value() or None
        options.crop = self.crop_spin.value() or None
        options.width = self.width_spin.value() or None
        density = self.density()
        options.sigma_mode, options.sigma, options.beta, options.k = (density.mode, density.sigma,
                                                                      density.beta, density.k)
        options.seed = self.seed_spin.value()
        options.loss = self.loss_combo.currentData()
