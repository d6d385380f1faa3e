"""The "Count results" dock: progress, the results table, MAE/RMSE, the scatter plot, problems, a viewer.

The dock only shows things and says what the user asked for (``cancel_requested``, ``export_requested``...);
the controller runs the job and the exports. Results are shown in the dock's own viewer, never on the main
annotation canvas, so looking at predictions can never touch the user's annotations or their undo history.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStyle,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from crowdgui.counting.results_model import (
    ROW_ROLE,
    CountRow,
    ResultsSortProxy,
    ResultsTableModel,
    class_mae,
    error_metrics,
)
from crowdgui.counting.scatter import CountScatter
from crowdgui.counting.thumbnails import ThumbnailLoader
from crowdgui.counting.viewer import ResultViewer

EXPORT_KINDS = (
    ("csv", "Save counts as CSV…"),
    ("hdf5", "Save density maps (HDF5)…"),
    ("overlays_all", "Save overlay images for all…"),
    ("overlay_selected", "Save overlay image of the selected…"),
)


def summary_html(rows: list[CountRow], problems: int, metrics: tuple[int, float | None, float | None],
                 per_class: dict[str, float]) -> str:
    """The line over the table: images counted, their total, problems, MAE/RMSE and the MAE of each class."""
    parts = [f"<b>{len(rows)}</b> image{'s' if len(rows) != 1 else ''} counted"]
    if rows:
        parts.append(f"total <b>{sum(r.count for r in rows):.1f}</b>")
    if problems:
        parts.append(f"<span style='color:#c0392b'><b>{problems}</b> problem{'s' if problems != 1 else ''}</span>")
    annotated, mae, rmse = metrics
    if mae is not None:
        parts.append(f"MAE <b>{mae:.2f}</b> · RMSE <b>{rmse:.2f}</b> on {annotated} annotated")
    elif rows:
        parts.append("no annotated images, so no MAE/RMSE")
    if per_class:
        parts.append("MAE per class: " + ", ".join(f"{name} <b>{value:.2f}</b>" for name, value in per_class.items()))
    return " · ".join(parts)


class ResultsPanel(QWidget):
    """Everything of one batch count, shown in the "Count results" dock."""

    cancel_requested = Signal()
    export_requested = Signal(str)  # one of the EXPORT_KINDS keys
    open_folder_requested = Signal()
    selection_changed = Signal(object)  # CountRow or None
    annotate_requested = Signal(object)  # CountRow double-clicked: open it in the annotation view

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model = ResultsTableModel(self)
        self.proxy = ResultsSortProxy(self)
        self.proxy.setSourceModel(self.model)
        self.problems: list[tuple[str, str]] = []
        self.engine_metrics: tuple[int, float | None, float | None] | None = None
        self.output_dir: Path | None = None
        self.thumbnails = ThumbnailLoader(size=36, parent=self)
        self.thumbnails.ready.connect(self.model.set_thumbnail)
        # Results can arrive many per second: the scatter and summary are redrawn at most every 150 ms.
        self._refresh_timer = QTimer(self, singleShot=True, interval=150)
        self._refresh_timer.timeout.connect(self._refresh_summary)

        self._build_header()
        self._build_body()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(self._header)
        layout.addWidget(self.summary)
        layout.addWidget(self.splitter, 1)
        self.set_idle("No count yet: Count ▸ Count folder… counts a folder of images with a trained model.")

    # ------------------------------------------------------------------ layout
    def _build_header(self) -> None:
        self.status = QLabel(self)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.setOpenExternalLinks(True)
        self.progress = QProgressBar(self)
        self.progress.setMaximumWidth(260)
        self.progress.setFormat("%v / %m")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop counting; the images counted so far are kept")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.export_button = QToolButton(self)
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.export_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogSaveButton))
        menu = QMenu(self.export_button)
        self.export_actions: dict[str, QAction] = {}
        for kind, text in EXPORT_KINDS:
            action = menu.addAction(text)
            action.triggered.connect(lambda _=False, k=kind: self.export_requested.emit(k))
            self.export_actions[kind] = action
        self.export_button.setMenu(menu)
        self.open_button = QToolButton(self)
        self.open_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon))
        self.open_button.setToolTip("Open the folder with the saved counts and density maps")
        self.open_button.clicked.connect(self.open_folder_requested)
        self._header = QHBoxLayout()
        self._header.addWidget(self.status, 1)
        self._header.addWidget(self.progress)
        self._header.addWidget(self.cancel_button)
        self._header.addWidget(self.export_button)
        self._header.addWidget(self.open_button)
        self.summary = QLabel(self)
        self.summary.setTextFormat(Qt.TextFormat.RichText)

    def _build_body(self) -> None:
        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(ResultsTableModel.IMAGE, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(40)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(ResultsTableModel.IMAGE, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(ResultsTableModel.THUMB, 44)
        for column in (ResultsTableModel.COUNT, ResultsTableModel.ANNOTATED, ResultsTableModel.ERROR,
                       ResultsTableModel.TIME, ResultsTableModel.UNCERTAINTY):
            header.resizeSection(column, 78)
        self.table.setColumnHidden(ResultsTableModel.UNCERTAINTY, True)  # until a result carries one
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table.doubleClicked.connect(lambda index: self.annotate_requested.emit(index.data(ROW_ROLE)))
        self.table.setToolTip("Double-click an image of the open dataset to annotate it in the main view")

        self.scatter = CountScatter(self)
        self.scatter.image_clicked.connect(self.select_image)
        self.problem_list = QListWidget(self)
        self.problem_list.setWordWrap(True)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.scatter, "True vs predicted")
        self.tabs.addTab(self.problem_list, "Problems")

        left = QSplitter(Qt.Orientation.Vertical, self)
        left.addWidget(self.table)
        left.addWidget(self.tabs)
        left.setStretchFactor(0, 3)
        left.setStretchFactor(1, 2)
        self.viewer = ResultViewer(self)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.viewer)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        left.setMinimumWidth(420)
        self.splitter.setSizes([560, 800])  # the table's columns all visible; the viewer takes the rest

    # ------------------------------------------------------------ job states
    def set_idle(self, message: str) -> None:
        self.status.setText(message)
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self._update_export_state()

    def begin(self, folder: Path, output_dir: Path) -> None:
        """A new count starts: forget the previous one."""
        self.thumbnails.clear()
        self.model.clear()
        self.table.setColumnHidden(ResultsTableModel.UNCERTAINTY, True)
        self.viewer.set_classes([])
        self.problems.clear()
        self.problem_list.clear()
        self.tabs.setTabText(1, "Problems")
        self.engine_metrics = None
        self.viewer.show_row(None)
        self.output_dir = output_dir
        self.status.setText(f"Counting <b>{folder.name or folder}</b>…")
        self.progress.setRange(0, 0)  # busy until the engine says how many images there are
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.cancel_button.setEnabled(True)
        self._refresh_summary()

    def set_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))

    def cancelling(self) -> None:
        self.cancel_button.setEnabled(False)
        self.status.setText("Cancelling… (images counted so far are kept)")

    def finish(self, message: str) -> None:
        self.set_idle(message)
        self._refresh_summary()

    # -------------------------------------------------------------- results
    def add_result(self, row: CountRow) -> None:
        if row.class_counts and not self.model.class_names:  # the first result of a 2+ class model
            self.show_classes(list(row.class_counts))
        self.model.append(row)
        if row.uncertainty is not None:
            self.table.setColumnHidden(ResultsTableModel.UNCERTAINTY, False)
        self.thumbnails.request(row.path)
        if self.progress.maximum() == 0:  # the engine never said the total: show how many so far
            self.status.setText(f"Counting… {len(self.model.rows)} images done")
        if not self.table.selectionModel().hasSelection():
            self.select_image(str(row.path))  # show the first image at once, the user sees something happen
        self._refresh_timer.start()

    def show_classes(self, names: list[str]) -> None:
        """A column per class (the table's pane widens to keep the image names readable) and the chooser.

        The controller passes the start event's ``classes`` (channel order): a result's per-class dict comes
        through Qt's signals as a map, whose keys Qt sorts."""
        self.model.set_classes(names)
        self.viewer.set_classes(names)
        header = self.table.horizontalHeader()
        for offset in range(len(names)):
            header.resizeSection(len(ResultsTableModel.HEADERS) + offset, 78)
        left, right = self.splitter.sizes()
        extra = min(78 * len(names), max(0, right - 400))
        self.splitter.setSizes([left + extra, right - extra])

    def add_problem(self, name: str, reason: str) -> None:
        self.problems.append((name, reason))
        # The engine's messages usually begin with the file name already.
        text = reason if not name or reason.startswith(name) else f"{name} — {reason}"
        item = QListWidgetItem(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning), text)
        self.problem_list.addItem(item)
        self.tabs.setTabText(1, f"Problems ({len(self.problems)})")
        self._refresh_timer.start()

    def set_engine_metrics(self, annotated: int, mae: float | None, rmse: float | None) -> None:
        """The engine's own MAE/RMSE at the end of the run (they replace the ones computed on the fly)."""
        self.engine_metrics = (annotated, mae, rmse)
        self._refresh_summary()

    def metrics(self) -> tuple[int, float | None, float | None]:
        """(annotated images, MAE, RMSE) as shown."""
        if self.engine_metrics is not None and self.engine_metrics[1] is not None:
            return self.engine_metrics
        return error_metrics(self.model.rows)

    def _refresh_summary(self) -> None:
        self._refresh_timer.stop()
        rows = self.model.rows
        self.summary.setText(summary_html(rows, len(self.problems), self.metrics(),
                                          class_mae(rows, self.model.class_names)))
        self.scatter.set_rows(rows)
        self._update_export_state()

    def _update_export_state(self) -> None:
        has_rows = bool(self.model.rows)
        self.export_button.setEnabled(has_rows)
        self.open_button.setEnabled(has_rows or bool(self.problems))
        self.export_actions["overlay_selected"].setEnabled(bool(self.selected_rows()))

    # ------------------------------------------------------------ selection
    def selected_rows(self) -> list[CountRow]:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return [index.data(ROW_ROLE) for index in rows]

    def select_image(self, path: str) -> None:
        source_row = self.model.row_index(path)
        if source_row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(source_row, ResultsTableModel.IMAGE))
        self.table.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(index)

    def _current_changed(self, current, _previous) -> None:
        row = current.data(ROW_ROLE) if current.isValid() else None
        self.viewer.show_row(row)
        self.scatter.show_selected(row)
        self._update_export_state()
        self.selection_changed.emit(row)
