"""Help > Keyboard and Mouse (built from the actions, so it never disagrees with them) and Help > About."""

from __future__ import annotations

import platform

import pyqtgraph as pg
import PySide6
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

import crowdgui

MOUSE_GESTURES = [
    ("Left click on the image", "Add a point"),
    ("Left click on a point", "Select it (Ctrl or Shift: add to / remove from the selection)"),
    ("Left drag a point", "Move it"),
    ("Right click on a point", "Delete it"),
    ("Shift + left drag, or left drag in Select mode", "Select the points in a box (Ctrl: add to selection)"),
    ("Proposed point (orange ring)", "As a point (click, drag, right click, Delete); not counted until accepted"),
    ("Double click on a proposed point", "Accept it: it becomes an ordinary point"),
    ("Wheel", "Zoom around the cursor"),
    ("Middle or right drag, or Space + left drag", "Pan"),
    ("Drop a folder onto the window", "Open it"),
]


class ShortcutsDialog(QDialog):
    """A two-column table: what to press, what it does."""

    def __init__(self, actions: list[QAction], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard and Mouse")
        rows = [(gesture, effect) for gesture, effect in MOUSE_GESTURES]
        for action in actions:
            keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
            if keys:
                rows.append((keys, action.text().replace("&", "").rstrip(".…")))
        table = QTableWidget(len(rows), 2)
        table.setHorizontalHeaderLabels(["Press", "To"])
        for row, (keys, effect) in enumerate(rows):
            table.setItem(row, 0, QTableWidgetItem(keys))
            table.setItem(row, 1, QTableWidgetItem(effect))
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        table.setAlternatingRowColors(True)
        self.table = table
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.resize(620, 640)


def show_about(parent: QWidget | None) -> None:
    QMessageBox.about(
        parent, "About CrowdGUI",
        "<h3>CrowdGUI</h3>"
        "<p>Count objects in images by density-map estimation: annotate points, preview density maps, "
        "train counting networks and count new folders.</p>"
        f"<p><small>{crowdgui.__name__} · Python {platform.python_version()} · "
        f"PySide6 {PySide6.__version__} · pyqtgraph {pg.__version__}</small></p>")
