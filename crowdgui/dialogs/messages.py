"""Message boxes that do not block the event loop (window-modal, opened with ``open()``).

The app keeps running behind them (autosave, tests driving the window) and the caller can keep a reference.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

_ICONS = {"info": QMessageBox.Icon.Information, "warning": QMessageBox.Icon.Warning,
          "error": QMessageBox.Icon.Critical}


def show_message(parent: QWidget | None, level: str, title: str, text: str,
                 details: str | None = None) -> QMessageBox:
    """Open a message box and return it without waiting for the user."""
    box = QMessageBox(_ICONS.get(level, QMessageBox.Icon.Information), title, text,
                      QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)  # freed once the user closes it
    box.open()
    return box
