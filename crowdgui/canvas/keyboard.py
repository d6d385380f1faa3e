"""Keyboard, focus and cursor of the image canvas, as an event filter on it.

Space held turns a left drag into a pan (open hand cursor, closed while panning); Enter closes the polygon a
region tool is drawing. Hovering the canvas takes the keyboard (Space, Delete), except from a text or number
field the user is typing in; leaving it clears the cursor read-out.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit


class CanvasKeyboard(QObject):
    """Installed on an ImageCanvas (``canvas.installEventFilter``)."""

    def __init__(self, canvas):
        super().__init__(canvas)
        self.canvas = canvas

    def on_pan_state(self, panning: bool) -> None:
        if panning:
            self.canvas.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        else:
            self.restore_cursor()

    def restore_cursor(self) -> None:
        held = self.canvas.view_box.space_held
        self.canvas.viewport().setCursor(Qt.CursorShape.OpenHandCursor if held else Qt.CursorShape.CrossCursor)

    def _space(self, held: bool, event) -> bool:
        if not event.isAutoRepeat():
            self.canvas.view_box.space_held = held
            self.restore_cursor()
        return True

    def eventFilter(self, _watched, event) -> bool:
        kind = event.type()
        if kind == QEvent.Type.KeyPress:
            gestures = self.canvas.region_gestures
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and gestures.tool == "polygon" \
                    and not event.modifiers():
                gestures.finish_polygon()
                return True
            if event.key() == Qt.Key.Key_Space:
                return self._space(True, event)
        elif kind == QEvent.Type.KeyRelease and event.key() == Qt.Key.Key_Space:
            return self._space(False, event)
        elif kind == QEvent.Type.FocusOut:
            self.canvas.view_box.space_held = False  # a Space released while another widget has focus
        elif kind == QEvent.Type.Enter:
            focused = QApplication.focusWidget()
            if not isinstance(focused, (QLineEdit, QAbstractSpinBox)):
                self.canvas.setFocus(Qt.FocusReason.MouseFocusReason)
            self.restore_cursor()
        elif kind == QEvent.Type.Leave:
            self.canvas.cursor_left.emit()
        return False
