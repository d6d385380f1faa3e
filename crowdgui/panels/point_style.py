"""A small toolbar widget: point size and colour (kept in the preferences by the main window)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QColorDialog, QHBoxLayout, QLabel, QSpinBox, QToolButton, QWidget


class PointStyleWidget(QWidget):
    """Signals: style_changed(int size, QColor color)."""

    style_changed = Signal(int, QColor)

    def __init__(self, size: int, color: QColor, parent: QWidget | None = None):
        super().__init__(parent)
        self.size_box = QSpinBox(minimum=2, maximum=40, value=int(size), suffix=" px")
        self.size_box.setToolTip("Point size on screen  ([ and ])")
        self.color_button = QToolButton()
        self.color_button.setToolTip("Point colour")
        self.color_button.setFixedSize(24, 24)
        self.color_button.clicked.connect(self.choose_color)
        self._color = QColor(color)
        self._paint_swatch()
        self.size_box.valueChanged.connect(lambda _v: self.style_changed.emit(self.size, self.color))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(QLabel("Points"))
        layout.addWidget(self.size_box)
        layout.addWidget(self.color_button)

    @property
    def size(self) -> int:
        return self.size_box.value()

    @property
    def color(self) -> QColor:
        return QColor(self._color)

    def set_size(self, size: int) -> None:
        self.size_box.setValue(int(size))  # emits style_changed when it differs

    def set_color(self, color: QColor) -> None:
        if QColor(color) != self._color:
            self._color = QColor(color)
            self._paint_swatch()
            self.style_changed.emit(self.size, self.color)

    def choose_color(self) -> None:
        color = QColorDialog.getColor(self._color, self, "Point colour")
        if color.isValid():
            self.set_color(color)

    def _paint_swatch(self) -> None:
        self.color_button.setStyleSheet(
            f"QToolButton {{ background: {self._color.name()}; border: 1px solid #555; border-radius: 4px; }}")
