"""The image list dock: every image of the folder with its point count and state; choosing one shows it.

States: complete (green check: every object clicked, or marked "no objects"), partial (half-filled green ring:
points complete only inside annotated regions, or only stated counts), unlabeled (grey ring), proposed (points a
model proposed wait to be accepted: dashed orange ring, "12 (+35)" in the points column; such an image is not
annotated yet), unsaved edits (orange, name marked *), a sidecar that cannot be read (warning sign; it is kept
aside), an image that cannot be read (greyed, skipped, red sign).
The reason is in each row's tooltip. The list reads the session; it changes nothing itself.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from crowdgui.annotation.session import AnnotationSession
from crowdgui.icons import icon

STATE_ROLE = Qt.ItemDataRole.UserRole + 1
FILTERS = (("All images", "all"), ("Not annotated", "todo"), ("Annotated (complete or partial)", "annotated"),
           ("Complete", "done"), ("Partial", "partial"), ("With proposals", "proposed"), ("Unsaved", "unsaved"),
           ("With problems", "problem"))
# The annotation status of an image (engine.dataset.store.ImageEntry.status) as a list state.
STATUS_STATES = {"complete": "done", "partial": "partial", "proposed": "proposed", "unlabeled": "todo"}
STATUS_WORDS = {"complete": "complete: every object is clicked",
                "partial": "partial: points are complete only inside its annotated regions (or it has only "
                           "stated counts)",
                "proposed": "proposed points wait to be accepted or discarded (not annotated until then)",
                "unlabeled": "not annotated yet"}
UNCERTAINTY_COLUMN = 2  # the chosen model's uncertainty (crowdgui.hints), hidden until it ranked the images


class ImageListModel(QAbstractTableModel):
    """Rows are the dataset's images; columns: name, points, the model's uncertainty."""

    uncertainty_changed = Signal(bool)  # whether any image has an uncertainty to show

    def __init__(self, session: AnnotationSession, parent=None):
        super().__init__(parent)
        self.session = session
        self.uncertainty: dict[str, float] = {}  # image -> spread of the model's counts, in objects
        self._names: list[str] = []
        self._rows: dict[str, int] = {}

    def reload(self) -> None:
        self.beginResetModel()
        self._names = self.session.dataset.names() if self.session.dataset else []
        self._rows = {name: row for row, name in enumerate(self._names)}
        self.endResetModel()

    def refresh(self, name: str) -> None:
        row = self._rows.get(name)
        if row is not None:
            self.dataChanged.emit(self.index(row, 0), self.index(row, 1))

    def set_uncertainty(self, scores: dict[str, float]) -> None:
        """Show these images' uncertainty (objects); an empty dict hides the column."""
        self.uncertainty = dict(scores)
        if self._names:
            self.dataChanged.emit(self.index(0, UNCERTAINTY_COLUMN),
                                  self.index(len(self._names) - 1, UNCERTAINTY_COLUMN))
        self.uncertainty_changed.emit(bool(self.uncertainty))

    def name_at(self, row: int) -> str:
        return self._names[row]

    def row_of(self, name: str) -> int | None:
        return self._rows.get(name)

    def state(self, name: str) -> str:
        """One of "error", "unsaved", "warning", "proposed", "done" (complete), "partial", "todo"."""
        entry = self.session.dataset.entry(name)
        if entry.image_error:
            return "error"
        if self.session.is_dirty(name):
            return "unsaved"
        if entry.sidecar_error:
            return "warning"
        return self.status_state(name)

    def status_state(self, name: str) -> str:
        """The annotation status alone ("done", "partial", "proposed" or "todo"), unsaved edits included."""
        return STATUS_STATES[self.session.state_of(name).status]

    # ------------------------------------------------------------- Qt model
    def rowCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._names)

    def columnCount(self, parent: QModelIndex | None = None) -> int:
        return 3

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return ("Image", "Points", "±")[section]
        return None

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if self.session.dataset.entry(self._names[index.row()]).image_error:
            return Qt.ItemFlag.NoItemFlags  # unreadable images cannot be chosen
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        name = self._names[index.row()]
        column = index.column()
        state = self.state(name)
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return f"{name} *" if state == "unsaved" else name
            if column == UNCERTAINTY_COLUMN:
                return f"±{self.uncertainty[name]:.1f}" if name in self.uncertainty else ""
            shown = self.session.state_of(name)
            if shown.count is None or state == "error":
                return "—"
            text = f"{shown.count:,}"
            if shown.class_counts:  # "238 = 120 + 118", in the order of the classes (names in the tooltip)
                text += " = " + " + ".join(f"{number:,}" for number in shown.class_counts.values())
            return f"{text} (+{shown.proposed:,})" if shown.proposed else text
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return icon(f"state-{state}")
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(name, state)
        if role == Qt.ItemDataRole.ForegroundRole and state == "error":
            return QBrush(QColor(150, 150, 150))
        if role == Qt.ItemDataRole.FontRole and state == "unsaved":
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (1, UNCERTAINTY_COLUMN):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == STATE_ROLE:
            return state
        return None

    def _tooltip(self, name: str, state: str) -> str:
        entry = self.session.dataset.entry(name)
        if state == "error":
            return f"{name} cannot be read: {entry.image_error}. It is skipped."
        lines = [f"{name} — {entry.width} × {entry.height} px"]
        shown = self.session.state_of(name)
        lines.append(STATUS_WORDS[shown.status])
        if shown.count is not None:
            lines.append(f"{shown.count:,} points")
        if shown.class_counts:
            lines.append(" + ".join(f"{number:,} {name}" for name, number in shown.class_counts.items()))
        if shown.proposed:
            lines.append(f"{shown.proposed:,} proposed points to accept or discard")
        if entry.region_problems and not self.session.is_dirty(name):
            lines.extend(entry.region_problems)
        if name in self.uncertainty:
            lines.append(f"the model's count is unsure by ±{self.uncertainty[name]:.1f} objects")
        if state == "unsaved":
            lines.append("unsaved changes")
        if entry.sidecar_error:
            lines.append(f"{entry.sidecar.name} cannot be read ({entry.sidecar_error}); it is kept aside, "
                         "never overwritten")
        return "\n".join(lines)


class ImageFilter(QSortFilterProxyModel):
    """Shows the rows that match the chosen state and the typed text."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.mode = "all"
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(0)

    def set_mode(self, mode: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.10+, where invalidateFilter() is deprecated
            self.beginFilterChange()
            self.mode = mode
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.mode = mode
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row, source_parent) -> bool:
        if not super().filterAcceptsRow(source_row, source_parent):
            return False
        if self.mode == "all":
            return True
        model = self.sourceModel()
        state = model.index(source_row, 0, source_parent).data(STATE_ROLE)
        if self.mode == "problem":
            return state in ("error", "warning")
        if self.mode == "unsaved" or state == "error":
            return state == self.mode
        # The annotation status, also of images with unsaved edits or an unreadable file.
        status = model.status_state(model.name_at(source_row))
        if self.mode == "annotated":
            return status in ("done", "partial")
        if self.mode == "todo":
            return status in ("todo", "proposed")
        return status == self.mode


class ImageListPanel(QWidget):
    """The image list with a state filter, a name filter and a progress line.

    Signals:
        image_activated(str)   the user chose an image (click, arrow keys)
    """

    image_activated = Signal(str)

    def __init__(self, session: AnnotationSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.model = ImageListModel(session, self)
        self.proxy = ImageFilter(self)
        self.proxy.setSourceModel(self.model)
        self._syncing = False

        self.state_filter = QComboBox()
        for label, mode in FILTERS:
            self.state_filter.addItem(label, mode)
        self.state_filter.currentIndexChanged.connect(
            lambda _i: self.proxy.set_mode(self.state_filter.currentData()))
        self.name_filter = QLineEdit(placeholderText="Filter by name", clearButtonEnabled=True)
        self.name_filter.textChanged.connect(self.proxy.setFilterFixedString)

        self.view = QTreeView()
        self.view.setModel(self.proxy)
        self.view.setRootIsDecorated(False)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(UNCERTAINTY_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        self.view.setColumnHidden(UNCERTAINTY_COLUMN, True)
        self.model.uncertainty_changed.connect(lambda shown: self.view.setColumnHidden(UNCERTAINTY_COLUMN,
                                                                                       not shown))
        self.view.selectionModel().currentRowChanged.connect(self._on_current_row_changed)

        self.summary = QLabel()
        self.summary.setObjectName("listSummary")
        palette = self.summary.palette()
        palette.setColor(QPalette.ColorRole.WindowText, QColor(110, 110, 110))
        self.summary.setPalette(palette)

        filters = QHBoxLayout()
        filters.setContentsMargins(0, 0, 0, 0)
        filters.addWidget(self.state_filter)
        filters.addWidget(self.name_filter, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(filters)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.summary)

        session.dataset_opened.connect(lambda _d: self.reload())
        session.dataset_closed.connect(self.reload)
        session.dataset_rescanned.connect(self._on_rescanned)
        session.image_state_changed.connect(self._on_image_state_changed)
        session.current_image_changed.connect(self.set_current)

    def reload(self) -> None:
        self.model.reload()
        self._update_summary()

    def _on_rescanned(self) -> None:
        self.reload()
        self.set_current(self.session.current_name or "")

    def set_current(self, name: str) -> None:
        """Highlight ``name`` without announcing it again."""
        row = self.model.row_of(name) if name else None
        self._syncing = True
        try:
            if row is None:
                self.view.selectionModel().clearCurrentIndex()
                self.view.clearSelection()
                return
            index = self.proxy.mapFromSource(self.model.index(row, 0))
            if index.isValid():
                self.view.selectionModel().setCurrentIndex(
                    index, self.view.selectionModel().SelectionFlag.ClearAndSelect
                    | self.view.selectionModel().SelectionFlag.Rows)
                self.view.scrollTo(index)
        finally:
            self._syncing = False

    def _on_current_row_changed(self, current, _previous) -> None:
        if self._syncing or not current.isValid():
            return
        name = self.model.name_at(self.proxy.mapToSource(current).row())
        self.image_activated.emit(name)

    def _on_image_state_changed(self, name: str) -> None:
        self.model.refresh(name)
        self._update_summary()

    def _update_summary(self) -> None:
        dataset = self.session.dataset
        if dataset is None:
            self.summary.setText("")
            return
        names = dataset.names()
        done = partial = points = proposed = 0
        for name in names:
            shown = self.session.state_of(name)
            # Only confirmed images count as annotated: pending proposals keep an image out of training.
            done += shown.annotated
            partial += shown.status == "partial"
            points += shown.count or 0
            proposed += bool(shown.proposed)
        text = f"{done} of {len(names)} annotated · {points:,} points"
        if partial:
            text += f" · {partial} partial"
        if proposed:
            text += f" · {proposed} with proposals"
        self.summary.setText(text)
