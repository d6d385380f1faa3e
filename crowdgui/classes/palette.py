"""The Classes palette: one row per class (colour, key, name, points in this image, shown or hidden).

It only shows and asks: clicking a row asks for that class to be the active one, ticking its box to show or
hide it, the buttons to add, rename, recolour or remove one. The controller (crowdgui/classes/controller.py)
decides and answers with :meth:`ClassesPanel.show_classes`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

NAME_COLUMN, KEY_COLUMN, COUNT_COLUMN = 0, 1, 2


def swatch(colour: str, size: int = 14) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


class ClassesPanel(QWidget):
    """Signals: activate_requested(str), visibility_requested(str, bool), add_requested(),
    rename_requested(str), recolour_requested(str), remove_requested(str)."""

    activate_requested = Signal(str)
    visibility_requested = Signal(str, bool)
    add_requested = Signal()
    rename_requested = Signal(str)
    recolour_requested = Signal(str)
    remove_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Class (tick: shown)", "Key", "Here"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setSectionResizeMode(NAME_COLUMN, QHeaderView.ResizeMode.Stretch)
        for column in (KEY_COLUMN, COUNT_COLUMN):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.hint = QLabel("One class: every point is an object. Add a class to tell kinds of objects apart "
                           "(keys 1-9 choose the class of new points).")
        self.hint.setWordWrap(True)
        self.buttons = {}
        row = QHBoxLayout()
        for key, text, tip in (("add", "Add…", "Add a class of objects"),
                               ("rename", "Rename…", "Rename the chosen class (the points files follow)"),
                               ("recolour", "Colour…", "Change the colour of the chosen class"),
                               ("remove", "Remove", "Remove the chosen class (only when no point is of it)")):
            button = QPushButton(text, toolTip=tip)
            row.addWidget(button)
            self.buttons[key] = button
        self.buttons["add"].clicked.connect(self.add_requested)
        for key, signal in (("rename", self.rename_requested), ("recolour", self.recolour_requested),
                            ("remove", self.remove_requested)):
            self.buttons[key].clicked.connect(lambda _=False, signal=signal: self._ask_for_current(signal))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.hint)
        layout.addWidget(self.tree)
        layout.addLayout(row)
        # As tall as its rows: with one class only the hint and Add show, leaving the image list its room.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.tree.currentItemChanged.connect(self._on_current_changed)
        self.tree.itemChanged.connect(self._on_item_changed)
        self._filling = False

    def show_classes(self, classes, counts: dict[str, int], active: str, hidden: set[str]) -> None:
        """``classes``: ObjectClass list (empty: the dataset's one default class, shown as the hint only)."""
        self._filling = True
        self.tree.clear()
        for number, object_class in enumerate(classes):
            key = object_class.key or (number + 1 if number < 9 else None)
            item = QTreeWidgetItem([object_class.name, str(key or ""), f"{counts.get(object_class.name, 0):,}"])
            item.setIcon(NAME_COLUMN, swatch(object_class.colour))
            item.setData(NAME_COLUMN, Qt.ItemDataRole.UserRole, object_class.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(NAME_COLUMN, Qt.CheckState.Unchecked if object_class.name in hidden
                               else Qt.CheckState.Checked)
            item.setTextAlignment(COUNT_COLUMN, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.tree.addTopLevelItem(item)
            if object_class.name == active:
                self.tree.setCurrentItem(item)
                font = item.font(NAME_COLUMN)
                font.setBold(True)
                item.setFont(NAME_COLUMN, font)
        several = len(classes) >= 2
        self.tree.setMaximumHeight(self.tree.header().sizeHint().height()
                                   + max(len(classes), 1) * (self.tree.sizeHintForRow(0) if classes else 20) + 6)
        self.tree.setVisible(several)
        self.hint.setVisible(not several)
        for key in ("rename", "recolour", "remove"):
            self.buttons[key].setVisible(several)
        self._filling = False

    def update_counts(self, counts: dict[str, int]) -> None:
        """Show the points per class of the current image (the rows stay as they are)."""
        for row in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(row)
            item.setText(COUNT_COLUMN, f"{counts.get(self.class_at(row), 0):,}")

    def class_at(self, row: int) -> str:
        return self.tree.topLevelItem(row).data(NAME_COLUMN, Qt.ItemDataRole.UserRole)

    def current_class(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(NAME_COLUMN, Qt.ItemDataRole.UserRole) if item is not None else None

    def _ask_for_current(self, signal) -> None:
        name = self.current_class()
        if name is not None:
            signal.emit(name)

    def _on_current_changed(self, item, _previous) -> None:
        if not self._filling and item is not None:
            self.activate_requested.emit(item.data(NAME_COLUMN, Qt.ItemDataRole.UserRole))

    def _on_item_changed(self, item, column) -> None:
        if not self._filling and column == NAME_COLUMN:
            shown = item.checkState(NAME_COLUMN) == Qt.CheckState.Checked
            self.visibility_requested.emit(item.data(NAME_COLUMN, Qt.ItemDataRole.UserRole), shown)
