"""Permanent status-bar fields: cursor position and pixel value, zoom, selection and save state."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

SAVE_STATES = {
    "saved": ("All changes saved", "#2e7d4f"),
    "unsaved": ("Unsaved changes", "#b36b00"),
    "failed": ("Not saved — see message", "#c0392b"),
    "none": ("", "#666666"),
}


class StatusFields:
    """Adds its labels to a QStatusBar; the main window feeds them from signals."""

    def __init__(self, status_bar: QStatusBar):
        self.cursor = QLabel()
        self.cursor.setMinimumWidth(260)
        self.selection = QLabel()
        self.zoom = QLabel()
        self.zoom.setMinimumWidth(70)
        self.save_state = QLabel()
        for label in (self.cursor, self.selection, self.zoom, self.save_state):
            status_bar.addPermanentWidget(label)
        self.show_save_state("none")

    def show_cursor(self, x: float, y: float, value) -> None:
        text = f"x {x:8.1f}   y {y:8.1f}"
        if value is not None:
            text += "   RGB " + ", ".join(str(v) for v in value)
        self.cursor.setText(text)

    def clear_cursor(self) -> None:
        self.cursor.setText("")

    def show_zoom(self, factor: float) -> None:
        self.zoom.setText(f"{factor * 100:.0f} %")

    def show_selection(self, count: int) -> None:
        self.selection.setText(f"{count:,} selected" if count else "")

    def show_save_state(self, state: str) -> None:
        text, color = SAVE_STATES[state]
        self.save_state.setText(text)
        self.save_state.setStyleSheet(f"color: {color}; padding: 0 6px;")
        self.state = state
