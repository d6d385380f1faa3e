"""Batch counting from the window: the "Count folder…" action, the engine job, the results dock, exports.

``install(main_window)`` adds the menu action and the dock. A count is one child process,
``python -m engine count FOLDER --checkpoint CKPT --out DIR/counts.csv --density-dir DIR/density ...``, run by
:class:`crowdgui.jobs.EngineJob`: the window stays responsive, Cancel stops it at any moment, and the command
shown in the log is exactly what a user can run on a server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QCoreApplication, QObject, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox

from crowdgui.counting.count_dialog import CountDialog, CountRequest
from crowdgui.counting.export import OverlayStyle, ResultsExporter
from crowdgui.counting.results import ResultsPanel
from crowdgui.counting.results_model import CountRow
from crowdgui.dialogs.messages import show_message
from crowdgui.jobs import EngineJob

COUNTS_CSV = "counts.csv"
DENSITY_FOLDER = "density"


def engine_arguments(request: CountRequest, output_dir: Path) -> list[str]:
    """The ``python -m engine`` arguments of one count (without ``--events``, which EngineJob adds)."""
    args = ["count", str(request.folder), "--checkpoint", str(request.checkpoint),
            "--out", str(output_dir / COUNTS_CSV), "--density-dir", str(output_dir / DENSITY_FOLDER)]
    if request.device and request.device != "auto":
        args += ["--device", request.device]
    if request.points:
        args.append("--points")
    if request.flips:
        args.append("--flips")
    if request.roi is not None:
        args += ["--roi", str(request.roi)]
    if request.pixel_size:
        args += ["--pixel-size", request.pixel_size]
    return args


def fresh_folder(path: Path) -> Path:
    """``path`` if it is free, else ``path-2``, ``path-3``...: a new count never mixes with an old one."""
    candidate, number = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name}-{number}")
        number += 1
    return candidate


class CountingController(QObject):
    """Owns the count action, the results dock, the running job and the exporter.

    ``window`` is the MainWindow: the dock is added with its ``add_dock`` (so it is listed in View > Panels),
    the dialog remembers its choices in the window's settings (``window.preferences.settings``).

    ``dataset_folder`` and ``chosen_checkpoint`` are callables asked each time the dialog opens: the open
    dataset (offered as the folder to count) and the model picked in the run history (offered as the model).
    """

    job_started = Signal(object)  # the EngineJob
    job_finished = Signal(str)  # outcome: succeeded, failed, cancelled, crashed

    def __init__(self, window, dataset_folder: Callable[[], Path | None] | None = None,
                 chosen_checkpoint: Callable[[], Path | None] | None = None):
        super().__init__(window)
        self.window = window
        self._dataset_folder = dataset_folder or (lambda: None)
        self._chosen_checkpoint = chosen_checkpoint or (lambda: None)
        self.job: EngineJob | None = None
        self.request: CountRequest | None = None
        self.output_dir: Path | None = None
        self.stride = 1
        self.last_message = None  # the latest error box (tests read it)

        self.panel = ResultsPanel()
        self.dock = window.add_dock(self.panel, "Count results", Qt.DockWidgetArea.BottomDockWidgetArea,
                                    object_name="CountResultsDock")
        self.dock.hide()  # appears with the first count; View > Panels and the Count menu bring it back
        self.panel.cancel_requested.connect(self.cancel)
        self.panel.export_requested.connect(self.export)
        self.panel.open_folder_requested.connect(self.open_output_folder)
        self.panel.annotate_requested.connect(self.annotate)
        self.exporter = ResultsExporter(self)
        self.exporter.progress.connect(self._export_progress)
        self.exporter.succeeded.connect(self._export_done)
        self.exporter.failed.connect(self._export_failed)

        self.count_action = QAction("Count folder…", self)
        self.count_action.setShortcut(QKeySequence("Ctrl+Shift+K"))
        self.count_action.setStatusTip("Count every image of a folder with a trained model")
        self.count_action.triggered.connect(self.open_dialog)
        self.results_action = self.dock.toggleViewAction()
        self.results_action.setText("Count results")

    # -------------------------------------------------------------- starting
    def make_dialog(self) -> CountDialog:
        """The "Count folder" dialog, preset with the open dataset and the run history's model."""
        return CountDialog(self.window, dataset_folder=self._dataset_folder(),
                           checkpoint=self._chosen_checkpoint(), settings=self.window.preferences.settings)

    def open_dialog(self) -> None:
        """Ask what to count, then count it."""
        if self.is_running() and not self._confirm_replace():
            return
        dialog = self.make_dialog()
        if dialog.exec() == CountDialog.DialogCode.Accepted:
            self.start(dialog.request())

    def _confirm_replace(self) -> bool:
        answer = QMessageBox.question(self.window, "Count folder",
                                      "A count is still running. Stop it and start a new one?")
        if answer != QMessageBox.StandardButton.Yes:
            return False
        self._stop_job(wait=True)
        return True

    def start(self, request: CountRequest) -> EngineJob | None:
        """Start counting ``request`` in a child process and show the results dock."""
        self._stop_job(wait=True)
        # The engine reads the sidecars from disk: write pending edits first, so the annotated counts and
        # errors are those of what the user sees (a failed save is reported by the session itself).
        self.window.session.save_dirty()
        self.request = request
        self.output_dir = fresh_folder(request.resolved_output_dir())
        self.stride = 1
        self.panel.begin(request.folder, self.output_dir)
        self.panel.viewer.show_points.setChecked(request.points)
        self._show_dock()
        try:
            self.output_dir.mkdir(parents=True)
        except OSError as exc:
            self.panel.finish(f"Could not create the results folder {self.output_dir}: {exc.strerror or exc}")
            self.job_finished.emit("failed")
            return None
        job = EngineJob.engine(engine_arguments(request, self.output_dir), parent=self, cancel_grace_ms=5000)
        job.event_received.connect(self._on_event)
        job.finished.connect(self._on_finished)
        self.job = job
        job.start()
        self.job_started.emit(job)
        return job

    def _show_dock(self) -> None:
        first_time = self.dock.isHidden()
        self.dock.show()
        self.dock.raise_()
        if first_time and not self.dock.isFloating():
            # Half the window: enough for the table, the scatter plot and a useful view of the heatmap.
            height = max(420, self.window.height() // 2)
            self.window.resizeDocks([self.dock], [height], Qt.Orientation.Vertical)

    def is_running(self) -> bool:
        return self.job is not None and self.job.is_running()

    def cancel(self) -> None:
        """Stop the count; what was counted stays in the table and on disk."""
        if self.is_running():
            self.panel.cancelling()
            self.job.cancel()

    def _stop_job(self, wait: bool) -> None:
        if self.is_running():
            self.job.finished.disconnect(self._on_finished)
            self.job.cancel()
            if wait:
                self.job.wait(10000)
            self.job_finished.emit("cancelled")

    def shutdown(self) -> None:
        """The window closes: stop a running count (it would otherwise keep a core busy for nothing)."""
        self._stop_job(wait=True)
        self.exporter.wait()
        self.panel.thumbnails.wait()

    # ---------------------------------------------------------------- events
    def _on_event(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "start":
            self.stride = int(event.get("stride") or self.stride)
            if event.get("total"):
                self.panel.set_progress(0, int(event["total"]))
            if isinstance(event.get("classes"), list) and len(event["classes"]) > 1:
                self.panel.show_classes([str(name) for name in event["classes"]])
        elif kind == "progress":
            self.panel.set_progress(int(event.get("done") or 0), int(event.get("total") or 0))
        elif kind == "result":
            row = CountRow.from_event(event)
            if row.stride:
                self.stride = row.stride
            self.panel.add_result(row)
        elif kind == "warning":
            path = event.get("path")
            self.panel.add_problem(Path(path).name if path else "", str(event.get("message", "")))
        elif kind == "done":
            mae, rmse = event.get("mae"), event.get("rmse")
            if mae is not None:
                self.panel.set_engine_metrics(int(event.get("annotated") or 0), float(mae), float(rmse))

    def _on_finished(self, outcome: str, _exit_code: int) -> None:
        job, counted = self.job, len(self.panel.model.rows)
        images = f"{counted} image{'s' if counted != 1 else ''}"
        if outcome == "succeeded":
            link = QUrl.fromLocalFile(str(self.output_dir)).toString()
            self.panel.finish(f"Counted {images} — results in <a href='{link}'>{self.output_dir.name}</a>")
        elif outcome == "cancelled":
            self.panel.finish(f"Cancelled — the {images} counted so far are kept" if counted
                              else "Cancelled before any image was counted")
        else:
            summary = job.failure_summary() if job else "the count did not finish"
            self.panel.finish(f"Counting failed after {images}: {summary.splitlines()[0] if summary else ''}")
            log = "\n".join(job.log_tail) if job else None  # the command line and the engine's last words
            self.last_message = show_message(self.window, "error", "Counting failed",
                                             f"The count stopped with an error:\n\n{summary}", log)
        self.job_finished.emit(outcome)

    # --------------------------------------------------------------- exports
    def export(self, kind: str) -> None:
        """Ask where to save, then save in a worker thread (the dock shows progress)."""
        rows = self.panel.model.rows
        if not rows or self.exporter.busy:
            return
        start = str(self.output_dir or Path.home())
        if kind == "csv":
            target, _ = QFileDialog.getSaveFileName(self.window, "Save counts as CSV",
                                                    str(Path(start) / COUNTS_CSV), "CSV files (*.csv)")
            if target:
                self.export_csv(Path(target))
        elif kind == "hdf5":
            suggested = str(Path(start) / "density.h5")
            target, _ = QFileDialog.getSaveFileName(self.window, "Save density maps", suggested,
                                                    "HDF5 files (*.h5 *.hdf5)")
            if target:
                self.export_bundle(Path(target))
        elif kind in ("overlays_all", "overlay_selected"):
            folder = QFileDialog.getExistingDirectory(self.window, "Save overlay images in", start)
            if folder:
                chosen = rows if kind == "overlays_all" else self.panel.selected_rows()
                self.export_overlays(Path(folder), chosen)

    def export_csv(self, target: Path) -> None:
        finished = self.job is not None and self.job.outcome == "succeeded"
        engine_csv = self.output_dir / COUNTS_CSV if (finished and self.output_dir) else None
        self.exporter.csv(target, self.panel.model.rows, engine_csv)

    def export_bundle(self, target: Path) -> None:
        attributes = {"checkpoint": str(self.request.checkpoint), "folder": str(self.request.folder)}
        self.exporter.bundle(target, self.panel.model.rows, self.stride, attributes)

    def export_overlays(self, folder: Path, rows: list[CountRow]) -> None:
        viewer = self.panel.viewer
        style = OverlayStyle(lut=viewer.lookup_table(), opacity=viewer.opacity(),
                             points=viewer.show_points.isChecked())
        self.panel.progress.setRange(0, len(rows))
        self.panel.progress.setValue(0)
        self.panel.progress.setVisible(True)
        self.panel.status.setText(f"Saving {len(rows)} overlay image{'s' if len(rows) != 1 else ''}…")
        self.exporter.overlays(folder, rows, style)

    def _export_progress(self, done: int, total: int) -> None:
        self.panel.set_progress(done, total)

    def _export_done(self, message: str) -> None:
        self.panel.finish(message)

    def _export_failed(self, message: str) -> None:
        self.panel.finish(f"Export failed: {message}")
        self.last_message = show_message(self.window, "error", "Export failed", message)

    def annotate(self, row: CountRow) -> bool:
        """Show a counted image in the main annotation view, if it belongs to the open dataset."""
        folder = self._dataset_folder()
        if folder is None or row.path.resolve().parent != Path(folder).resolve():
            self.window.statusBar().showMessage(
                f"{row.image} is not in the open folder: open its folder to annotate it", 5000)
            return False
        return self.window.session.select(row.image)

    def open_output_folder(self) -> None:
        if self.output_dir is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.output_dir)))


def _open_dataset_folder(window) -> Path | None:
    dataset = window.session.dataset
    return dataset.folder if dataset is not None else None


def _run_history_choice(window) -> Path | None:
    """The model chosen in the training run history, if the training feature is installed."""
    from crowdgui.training.controller import TrainingController

    training = window.findChild(TrainingController)
    return training.selected_checkpoint() if training is not None else None


def install(window) -> CountingController:
    """Add a Count menu ("Count folder…", "Count results") and the results dock to the MainWindow.

    The dialog offers the window's open dataset as the folder and the model chosen in the run history (when
    training is installed too, in either order) as the model. Returns the controller.
    """
    controller = CountingController(window, dataset_folder=lambda: _open_dataset_folder(window),
                                    chosen_checkpoint=lambda: _run_history_choice(window))
    menu = window.menu("&Count")
    menu.addAction(controller.count_action)
    menu.addAction(controller.results_action)
    QCoreApplication.instance().aboutToQuit.connect(controller.shutdown)
    return controller
