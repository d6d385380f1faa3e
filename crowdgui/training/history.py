"""The run history table of the open dataset: model, date, images used, best MAE, status — and which model counts.

A view: the controller gives it :class:`engine.training.runs.RunInfo` rows and listens to ``use_requested`` (this run's
best checkpoint becomes the model for counting and proposing points) and ``resume_requested``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QBrush, QColor, QDesktopServices, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.training.runs import RunInfo

COLUMNS = ("", "Model", "Started", "Images", "Epochs", "MAE", "Status")
COLUMN_TIPS = ("Used for counting", "Network architecture", "When the run started",
               "Images used: training / validation", "Epochs done / planned",
               "Best validation MAE (mean absolute count error per image; lower is better)", "")
STATUS_COLORS = {"finished": "#3fb950", "stopped": "#d29922", "failed": "#f85149", "running": "#4c9be8"}
IN_USE_MARK = "●"


def _item(text: str, tooltip: str = "", align=Qt.AlignLeft | Qt.AlignVCenter) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemIsSelectable | Qt.ItemIsEnabled)
    item.setTextAlignment(align)
    if tooltip:
        item.setToolTip(tooltip)
    return item


def _number(value: float | None) -> str:
    """An error in counts: '12.3', '1.23', '0.0421' (three significant digits below 10)."""
    if value is None:
        return "–"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"


def _short_date(when) -> str:
    """'14:03' today, 'May 01 14:03' this year, '2023-05-01' before."""
    if when is None:
        return "?"
    now = datetime.now()
    if when.date() == now.date():
        return when.strftime("today %H:%M")
    if when.year == now.year:
        return when.strftime("%b %d %H:%M")
    return when.strftime("%Y-%m-%d")


class RunHistoryPanel(QWidget):
    """Runs of one dataset, newest first; the run whose model is in use is marked with a dot."""

    use_requested = Signal(object)  # RunInfo
    resume_requested = Signal(object)  # RunInfo
    refresh_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.runs: list[RunInfo] = []
        self.in_use: Path | None = None
        self.busy_folder: Path | None = None
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for column, tip in enumerate(COLUMN_TIPS):
            self.table.horizontalHeaderItem(column).setToolTip(tip)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.cellDoubleClicked.connect(lambda *_: self._use())

        self.empty_label = QLabel("No trained model yet for this dataset. Annotate some images, then "
                                  "Training ▸ Train model…")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignCenter)
        self.empty_label.setStyleSheet("color: palette(mid); padding: 12px;")
        self.in_use_label = QLabel()
        self.in_use_label.setWordWrap(True)
        self.in_use_label.setTextInteractionFlags(Qt.TextSelectableByMouse)

        self.use_button = QPushButton("Use for counting")
        self.use_button.setToolTip("Count images and propose points with this run's best checkpoint")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue this stopped run from its last checkpoint")
        self.folder_button = QPushButton("Show folder")
        self.refresh_button = QPushButton("Refresh")
        self.use_button.clicked.connect(self._use)
        self.resume_button.clicked.connect(self._resume)
        self.folder_button.clicked.connect(self._show_folder)
        self.refresh_button.clicked.connect(self.refresh_requested)
        buttons = QHBoxLayout()
        for button in (self.use_button, self.resume_button, self.folder_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.in_use_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_label, 1)
        layout.addLayout(buttons)
        self.set_runs([], None)

    # ---------------------------------------------------------------- content
    def set_runs(self, runs: list[RunInfo], in_use: Path | None, busy_folder: Path | None = None) -> None:
        """Show ``runs``; ``in_use`` is the checkpoint used for counting; ``busy_folder`` the run training now."""
        selected = self.selected_run()
        self.runs, self.in_use, self.busy_folder = list(runs), in_use, busy_folder
        self.table.setRowCount(len(self.runs))
        for row, run in enumerate(self.runs):
            self._fill_row(row, run)
        self.table.setVisible(bool(self.runs))
        self.empty_label.setVisible(not self.runs)
        used = next((run for run in self.runs if self._is_in_use(run)), None)
        if in_use is None:
            self.in_use_label.setText("<b>Model for counting:</b> none chosen")
        elif used is not None:
            self.in_use_label.setText(f"<b>Model for counting:</b> {used.label}")
        else:
            self.in_use_label.setText(f"<b>Model for counting:</b> {in_use}")
        if selected is not None:
            self.select_folder(selected.folder)
        elif used is not None:
            self.select_folder(used.folder)
        elif self.runs:
            self.table.selectRow(0)
        self._update_buttons()

    def _is_in_use(self, run: RunInfo) -> bool:
        return self.in_use is not None and run.best_checkpoint is not None and (
            Path(run.best_checkpoint).resolve() == Path(self.in_use).resolve())

    def _fill_row(self, row: int, run: RunInfo) -> None:
        in_use = self._is_in_use(run)
        images = (f"{run.train_images} / {run.val_images}" if run.train_images is not None else "–")
        epochs = str(run.epochs_done) + (f" / {run.epochs_planned}" if run.epochs_planned else
                                         f" ({run.minutes_planned:g} min)" if run.minutes_planned else "")
        mae = _number(run.best_mae)
        rmse = f"RMSE {_number(run.best_rmse)}" if run.best_rmse is not None else ""
        status = "training" if self.busy_folder is not None and run.folder == self.busy_folder else run.status
        when = _short_date(run.started)
        cells = [
            _item(IN_USE_MARK if in_use else "", "Used for counting" if in_use else "", Qt.AlignCenter),
            _item(run.model, str(run.folder)),
            _item(when, run.started.strftime("%Y-%m-%d %H:%M:%S") if run.started else ""),
            _item(images, align=Qt.AlignRight | Qt.AlignVCenter),
            _item(epochs, align=Qt.AlignRight | Qt.AlignVCenter),
            _item(mae, rmse, Qt.AlignRight | Qt.AlignVCenter),
            _item(status, "\n".join(part for part in (run.message, run.device and f"device: {run.device}",
                                                        str(run.folder)) if part)),
        ]
        cells[0].setForeground(QBrush(QColor("#3fb950")))
        cells[-1].setForeground(QBrush(QColor(STATUS_COLORS.get(run.status, "#6e7681"))))
        if in_use:
            for cell in cells:
                font = QFont(cell.font())
                font.setBold(True)
                cell.setFont(font)
        for column, cell in enumerate(cells):
            self.table.setItem(row, column, cell)

    # -------------------------------------------------------------- selection
    def selected_run(self) -> RunInfo | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.runs):
            return None
        return self.runs[rows[0].row()]

    def select_folder(self, folder: Path) -> None:
        for row, run in enumerate(self.runs):
            if run.folder == Path(folder):
                self.table.selectRow(row)
                return

    def _update_buttons(self) -> None:
        run = self.selected_run()
        busy = run is not None and self.busy_folder is not None and run.folder == self.busy_folder
        self.use_button.setEnabled(run is not None and run.best_checkpoint is not None)
        self.resume_button.setEnabled(run is not None and run.can_resume and self.busy_folder is None)
        self.folder_button.setEnabled(run is not None)
        if busy:
            self.resume_button.setEnabled(False)

    def _use(self) -> None:
        run = self.selected_run()
        if run is not None and run.best_checkpoint is not None:
            self.use_requested.emit(run)

    def _resume(self) -> None:
        run = self.selected_run()
        if run is not None and run.can_resume:
            self.resume_requested.emit(run)

    def _show_folder(self) -> None:
        run = self.selected_run()
        if run is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(run.folder)))
