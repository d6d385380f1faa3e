"""A thin message bar above the canvas for things the user should know but need not click away."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from crowdgui.icons import icon

LEVEL_ICONS = {"info": "info", "warning": "state-warning", "error": "state-error"}


class NoticeBar(QFrame):
    """Shows one message with a level ("info", "warning", "error"), an optional action and a close button."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("noticeBar")
        self.icon_label = QLabel()
        self.text_label = QLabel(wordWrap=True)
        self.text_label.setObjectName("noticeText")
        self.action_button = QPushButton()
        self.action_button.hide()
        self.close_button = QToolButton(autoRaise=True, text="✕")
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.icon_label)
        layout.addWidget(self.text_label, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(self.close_button)
        self._action: Callable[[], None] | None = None
        self.action_button.clicked.connect(self._run_action)
        self.level = "info"
        self.hide()

    def show_notice(self, level: str, text: str, action_text: str | None = None,
                    action: Callable[[], None] | None = None) -> None:
        self.level = level
        self.setProperty("level", level)
        self.style().unpolish(self)  # re-apply the style sheet rules that depend on the level
        self.style().polish(self)
        self.icon_label.setPixmap(icon(LEVEL_ICONS.get(level, "info")).pixmap(QSize(18, 18)))
        self.text_label.setText(text)
        self._action = action
        self.action_button.setText(action_text or "")
        self.action_button.setVisible(bool(action_text and action))
        self.show()

    @property
    def text(self) -> str:
        return self.text_label.text() if self.isVisible() else ""

    def _run_action(self) -> None:
        if self._action is not None:
            self._action()
