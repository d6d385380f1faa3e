"""The first screen when no folder is open: open a folder, try the demo, or reopen a recent folder."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from crowdgui.icons import icon


class WelcomePanel(QWidget):
    """Signals: open_folder_requested(), demo_requested(), recent_folder_requested(str)."""

    open_folder_requested = Signal()
    demo_requested = Signal()
    recent_folder_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("welcome")
        card = QFrame(objectName="welcomeCard")
        card.setMaximumWidth(560)

        logo = QLabel()
        logo.setPixmap(icon("app").pixmap(QSize(64, 64)))
        title = QLabel("CrowdGUI", objectName="welcomeTitle")
        subtitle = QLabel("Count objects in images: click one point per object, see the density map, "
                          "train a counting network and count new folders.", objectName="welcomeSubtitle")
        subtitle.setWordWrap(True)

        self.open_button = QPushButton(icon("open"), "  Open a folder of images…", objectName="primaryButton")
        self.open_button.clicked.connect(self.open_folder_requested)
        self.demo_button = QPushButton(icon("demo"), "  Try the demo dataset")
        self.demo_button.setToolTip("Synthetic cell images, a few of them annotated, in your data folder")
        self.demo_button.clicked.connect(self.demo_requested)
        for button in (self.open_button, self.demo_button):
            button.setMinimumHeight(40)
            button.setCursor(Qt.CursorShape.PointingHandCursor)

        self.recent_title = QLabel("Recent folders", objectName="welcomeSection")
        self.recent_list = QListWidget(objectName="recentList")
        self.recent_list.setMaximumHeight(190)
        self.recent_list.itemActivated.connect(
            lambda item: self.recent_folder_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.recent_list.itemClicked.connect(
            lambda item: self.recent_folder_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        hint = QLabel("You can also drop a folder onto this window, or start with  python main.py FOLDER",
                      objectName="welcomeHint")
        hint.setWordWrap(True)

        header = QHBoxLayout()
        header.addWidget(logo)
        header.addSpacing(12)
        titles = QVBoxLayout()
        titles.addWidget(title)
        titles.addWidget(subtitle)
        header.addLayout(titles, 1)

        inner = QVBoxLayout(card)
        inner.setContentsMargins(32, 28, 32, 28)
        inner.setSpacing(12)
        inner.addLayout(header)
        inner.addSpacing(10)
        inner.addWidget(self.open_button)
        inner.addWidget(self.demo_button)
        inner.addSpacing(10)
        inner.addWidget(self.recent_title)
        inner.addWidget(self.recent_list)
        inner.addWidget(hint)

        outer = QVBoxLayout(self)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(card, 3)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)

    def set_recent_folders(self, folders: list[str]) -> None:
        self.recent_list.clear()
        for folder in folders:
            path = Path(folder)
            item = QListWidgetItem(icon("open"), f"{path.name}    —    {path.parent}")
            item.setData(Qt.ItemDataRole.UserRole, folder)
            item.setToolTip(folder)
            self.recent_list.addItem(item)
        self.recent_title.setVisible(bool(folders))
        self.recent_list.setVisible(bool(folders))
