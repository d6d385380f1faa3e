"""Unexpected errors are shown in a dialog (with the traceback to copy) instead of killing the window.

The user's points are saved by the session independently, so an error in one feature does not lose them.
"""

from __future__ import annotations

import sys
import traceback

from PySide6.QtWidgets import QApplication, QMessageBox

_showing = False  # an error raised while the dialog is up is only printed, never stacked into more dialogs


def install_excepthook() -> None:
    sys.excepthook = _show_exception


def _show_exception(exc_type, exc, tb) -> None:
    global _showing
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    sys.stderr.write(text)
    if issubclass(exc_type, KeyboardInterrupt):
        QApplication.quit()
        return
    if _showing or QApplication.instance() is None:
        return
    _showing = True
    try:
        box = QMessageBox(QMessageBox.Icon.Critical, "Something went wrong",
                          f"CrowdGUI hit an unexpected error and carried on:\n\n{exc_type.__name__}: {exc}\n\n"
                          "Your annotations are saved as usual. If this keeps happening, please report it "
                          "with the details below.",
                          QMessageBox.StandardButton.Ok, QApplication.activeWindow())
        box.setDetailedText(text)
        box.exec()
    finally:
        _showing = False
