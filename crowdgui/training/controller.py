"""Training from the window: the dialog, the background job, the monitor and run-history docks, the model in use.

A training run is one child process, ``python -m engine train DATASET --out RUN_DIR ... --events jsonl``, run by
:class:`crowdgui.jobs.EngineJob`: the window stays usable for annotating, a crash in training cannot take the
annotations down, and Cancel is SIGTERM, which the engine answers by saving ``last.pt`` and exiting. The engine
only reads the dataset, so a failed run never changes it.

The model used for counting and proposing points is chosen in the run history and remembered per dataset
(QSettings); :meth:`TrainingController.selected_checkpoint` and ``model_selected`` let other parts use it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox, QWidget

from crowdgui.jobs import EngineJob
from crowdgui.training.devices import gpu_count
from crowdgui.training.history import RunHistoryPanel
from crowdgui.training.monitor import TrainingMonitor
from crowdgui.training.options import ALL_GPUS, TrainOptions, launch_args, resume_args
from crowdgui.training.train_dialog import SETTINGS_KEY, TrainDialog
from engine.training.runs import RunInfo, list_runs, read_metrics, read_run

# The engine stops between steps; a CPU step on a big crop can take a while, so give it time to save.
CANCEL_GRACE_MS = 60000


def _settings_key(dataset_folder: Path) -> str:
    # Paths contain "/" (QSettings group separators) and may be long: key them by a hash of the folder.
    digest = hashlib.sha1(str(Path(dataset_folder).resolve()).encode("utf-8")).hexdigest()[:16]
    return f"training/model_for_dataset/{digest}"


class TrainingController(QObject):
    """Owns the training job, the monitor and history views, the Training actions and the model choice."""

    model_selected = Signal(Path)  # the checkpoint now used for counting in the open dataset
    training_started = Signal(Path)  # run folder
    training_finished = Signal(str, Path)  # outcome (EngineJob's), run folder
    notice = Signal(str, str)  # level ("info", "warning", "error") and a message for the window's notice bar
    density_applied = Signal(object)  # the dialog saved suggested density settings to the dataset

    def __init__(self, parent: QWidget, settings: QSettings | None = None,
                 save_all: Callable[[], list[str]] | None = None):
        """``save_all`` writes every unsaved annotation and returns the names it could not save."""
        super().__init__(parent)
        self.parent_widget = parent
        self.settings = settings if settings is not None else QSettings()
        self.save_all = save_all
        self.dataset_folder: Path | None = None
        self.job: EngineJob | None = None
        self.run_dir: Path | None = None
        self.job_dataset: Path | None = None
        self.runs: list[RunInfo] = []
        # How runs of this session ended, by folder: a run killed without a word would otherwise look
        # "running" in its folder for a while (see engine.training.runs.STALE_AFTER_S).
        self._ended: dict[Path, tuple[str, str]] = {}

        self.monitor = TrainingMonitor()
        self.history = RunHistoryPanel()
        self.monitor.train_requested.connect(self.open_train_dialog)
        self.monitor.cancel_requested.connect(self.cancel)
        self.monitor.resume_requested.connect(lambda: self.resume())
        self.history.use_requested.connect(lambda run: self.select_checkpoint(run.best_checkpoint))
        self.history.resume_requested.connect(self.resume)
        self.history.refresh_requested.connect(self.refresh_runs)

        self.train_action = QAction("Train model…", self)
        self.train_action.setShortcut(QKeySequence("Ctrl+Shift+T"))
        self.train_action.setStatusTip("Train a counting network on the annotated images of this folder")
        self.train_action.triggered.connect(self.open_train_dialog)
        self.cancel_action = QAction("Cancel training", self)
        self.cancel_action.setStatusTip("Stop training; a checkpoint is saved so the run can be resumed")
        self.cancel_action.triggered.connect(self.cancel)
        self.resume_action = QAction("Resume", self)
        self.resume_action.setStatusTip("Continue the last stopped run of this folder from its checkpoint")
        self.resume_action.triggered.connect(lambda: self.resume())
        self._update_actions()

    # ---------------------------------------------------------------- dataset
    def set_dataset(self, folder: Path | str | None) -> None:
        """The window opened another folder (None: none open). A running job keeps running."""
        self.dataset_folder = Path(folder).resolve() if folder else None
        self.refresh_runs()
        checkpoint = self.selected_checkpoint()
        if checkpoint is not None:
            self.model_selected.emit(checkpoint)

    def refresh_runs(self) -> None:
        """Read the open dataset's run history again."""
        self.runs = list_runs(self.dataset_folder) if self.dataset_folder else []
        for run in self.runs:
            ended = self._ended.get(run.folder)
            if run.status == "running" and ended is not None and not (self.is_running() and run.folder == self.run_dir):
                run.status, run.message = ended
        busy = self.run_dir if self.is_running() else None
        self.history.set_runs(self.runs, self.selected_checkpoint(), busy)
        self._update_actions()

    # ------------------------------------------------------------ model in use
    def selected_checkpoint(self) -> Path | None:
        """The checkpoint chosen for counting in the open dataset, if it still exists."""
        if self.dataset_folder is None:
            return None
        value = self.settings.value(_settings_key(self.dataset_folder))
        if not value:
            return None
        path = Path(str(value))
        return path if path.is_file() else None

    def select_checkpoint(self, path: Path | str | None) -> None:
        """Use ``path`` for counting and proposing points in the open dataset (remembered across sessions)."""
        if self.dataset_folder is None or path is None:
            return
        path = Path(path).resolve()
        self.settings.setValue(_settings_key(self.dataset_folder), str(path))
        self.settings.sync()
        self.history.set_runs(self.runs, path, self.run_dir if self.is_running() else None)
        self.model_selected.emit(path)

    # --------------------------------------------------------------- starting
    def is_running(self) -> bool:
        return self.job is not None and self.job.is_running()

    def make_dialog(self, resume: RunInfo | None = None) -> TrainDialog | None:
        """The training dialog for the open dataset (None, with a message, when training cannot start)."""
        if self.dataset_folder is None:
            QMessageBox.information(self.parent_widget, "Train model", "Open a folder of images first.")
            return None
        if self.is_running():
            QMessageBox.information(self.parent_widget, "Train model",
                                    "A training run is in progress. Cancel it first, or wait for it to finish.")
            return None
        from engine.dataset import Dataset

        self._save_annotations()  # the counts shown in the dialog must match what the engine will read
        self.refresh_runs()
        dialog = TrainDialog(Dataset(self.dataset_folder), self.runs, self.settings, self.parent_widget, resume)
        dialog.density_applied.connect(self.density_applied)
        return dialog

    def open_train_dialog(self, resume: RunInfo | None = None) -> None:
        dialog = self.make_dialog(resume if isinstance(resume, RunInfo) else None)
        if dialog is not None and dialog.exec() == TrainDialog.DialogCode.Accepted:
            self.start_from_dialog(dialog)

    def start_from_dialog(self, dialog: TrainDialog) -> EngineJob:
        """Start what an accepted dialog asked for."""
        run = dialog.resumed_run()
        title = (f"Resuming {run.model} — {run.name}" if run is not None
                 else f"Training {dialog.options().model} — {dialog.run_dir.name}")
        return self.start(dialog.engine_args(dialog.run_dir), dialog.run_dir, title,
                          device=dialog.device_combo.currentData())

    def resume(self, run: RunInfo | None = None) -> EngineJob | None:
        """Continue ``run`` (default: the newest resumable run of the open dataset) with ``--resume``."""
        if self.is_running():
            return None
        if run is None:
            self.refresh_runs()
            run = next((candidate for candidate in self.runs if candidate.can_resume), None)
            if run is None:
                return None
        device = self._last_device()
        args = resume_args(self.dataset_folder, run.folder, run.model, device)
        return self.start(args, run.folder, f"Resuming {run.model} — {run.name}", device=device)

    def start(self, args: list[str], run_dir: Path, title: str, device: str = "auto") -> EngineJob:
        """Run ``python -m engine <args>`` in the background and watch it in the monitor.

        ``device`` is the dialog's choice: for "all GPUs" the command runs through torchrun, one process per GPU.
        """
        self._save_annotations()
        self.run_dir = Path(run_dir)
        self.job_dataset = self.dataset_folder
        python_args = launch_args(args, device, gpu_count() if device == ALL_GPUS else 1)
        job = EngineJob([*python_args, "--events", "jsonl"], parent=self, cancel_grace_ms=CANCEL_GRACE_MS)
        job.event_received.connect(self._on_event)
        job.log_line.connect(self.monitor.append_log)
        job.finished.connect(self._on_finished)
        self.job = job
        previous = read_run(self.run_dir)  # a resumed run: its planned epochs and the curve so far
        self.monitor.begin(title, job.command_line,
                           epochs_total=previous.epochs_planned if previous else None,
                           history=[r for r in read_metrics(self.run_dir) if r.get("type") == "epoch"])
        job.start()
        self.refresh_runs()
        self.training_started.emit(self.run_dir)
        return job

    def cancel(self) -> None:
        """Ask the engine to stop; it saves a resumable checkpoint, then the monitor shows "Stopped"."""
        if self.is_running():
            self.monitor.stopping()
            self.job.cancel()
            self._update_actions()

    def shutdown(self, wait_ms: int = CANCEL_GRACE_MS) -> None:
        """The application quits: stop a run cleanly so it can be resumed next time."""
        if self.is_running():
            self.job.cancel()
            self.job.wait(wait_ms)

    # ----------------------------------------------------------------- events
    def _on_event(self, event: dict) -> None:
        self.monitor.handle_event(event)
        if event.get("type") == "epoch" and self.dataset_folder == self.job_dataset:
            self.refresh_runs()  # a new checkpoint and MAE: the history row changes

    def _on_finished(self, outcome: str, _exit_code: int) -> None:
        job, run_dir = self.job, self.run_dir
        summary = job.failure_summary() if outcome in ("failed", "crashed") else ""
        self.monitor.finish(outcome, summary)
        if outcome in ("failed", "crashed") and run_dir is not None:
            _remove_if_empty(run_dir)  # nothing was written: do not list a run that never began
            self._ended[run_dir] = ("failed", summary)
            self.notice.emit("error", f"Training failed: {summary.splitlines()[0] if summary else outcome}. "
                                      "The annotations were not changed; the Training panel shows the log.")
        elif outcome == "cancelled" and run_dir is not None:
            self._ended[run_dir] = ("stopped", "stopped on request")
        if outcome == "succeeded" and self.selected_checkpoint() is None and self.dataset_folder == self.job_dataset:
            best = read_run(run_dir) if run_dir and run_dir.exists() else None
            if best is not None and best.best_checkpoint is not None:
                self.select_checkpoint(best.best_checkpoint)  # the first model of a dataset is used at once
        self.refresh_runs()
        self.training_finished.emit(outcome, run_dir)

    # ---------------------------------------------------------------- helpers
    def _save_annotations(self) -> None:
        """Write unsaved points first: the engine reads the sidecars on disk, not the window's memory."""
        failed = self.save_all() if self.save_all is not None else []
        if failed:
            self.notice.emit("warning", f"The points of {len(failed)} image(s) could not be saved; training "
                                        "uses their last saved version.")

    def _last_device(self) -> str:
        try:
            return TrainOptions.from_dict(json.loads(str(self.settings.value(SETTINGS_KEY, "{}")))).device
        except (TypeError, ValueError, AttributeError):
            return "auto"

    def _update_actions(self) -> None:
        running = self.is_running()
        stopping = running and self.monitor.state == "stopping"
        resumable = any(run.can_resume for run in self.runs)
        self.train_action.setEnabled(not running and self.dataset_folder is not None)
        self.cancel_action.setEnabled(running and not stopping)
        self.resume_action.setEnabled(not running and resumable and self.dataset_folder is not None)
        self.monitor.set_actions(can_train=not running and self.dataset_folder is not None,
                                 can_cancel=running and not stopping,
                                 can_resume=not running and resumable)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()  # only succeeds on an empty folder: never deletes anything the engine wrote
    except OSError:
        pass
