"""Missed objects while annotating: where the chosen model sees objects nobody clicked, and double clicks.

Switching the overlay on (M) or showing another image runs ``python -m engine hints DATASET --checkpoint CKPT
--images NAME --density-dir TMP`` as a background job. Its result (the model's objects, their confidence and
its density map, at the stride given in the start event) is kept per image, so every later point edit only
rematches the objects with the points as they are now (engine.counting.hints.hints_from_objects, no model) and
recomputes the residual (the model's density minus the points' density, with the dataset's density settings).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTemporaryDir, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence

from crowdgui.hints.layer import HintsLayer
from crowdgui.jobs import EngineJob
from engine.counting.hints import hints_from_objects, residual_density

NO_MODEL_FOR_HINTS = ("Missed objects need a model: train one (Training menu) or choose one in the Models panel "
                      "(Use for counting)")
# Edits come in bursts (a drag moves a point many times a second): rematch once the burst settles.
REDRAW_DELAY_MS = 40


@dataclass(frozen=True)
class ModelView:
    """What the model saw in one image: its objects, their confidence and its density map."""

    objects: np.ndarray  # (K, 2) x, y
    masses: np.ndarray  # (K,)
    density: np.ndarray  # objects per cell at ``stride``
    stride: int
    radius: float  # objects and points within this many pixels are the same object


class MissedObjectsController(QObject):
    """The "Show Missed Objects" toggle, its engine job and the canvas layer.

    Signals:
        hints_updated(str, int, int)   image, missed objects, doubled clicks: the markers were redrawn
        job_finished(str)              a hints job ended (EngineJob's outcome)
    """

    hints_updated = Signal(str, int, int)
    job_finished = Signal(str)

    def __init__(self, window, chosen_checkpoint: Callable[[], Path | None], engine_module: str = "engine"):
        super().__init__(window)
        self.window, self.session = window, window.session
        self.chosen_checkpoint = chosen_checkpoint
        self.engine_module = engine_module
        self.layer = HintsLayer(window.canvas.view_box)
        self.views: dict[tuple[Path, str], ModelView] = {}  # (checkpoint, image) -> what the model saw
        self.job: EngineJob | None = None
        self._job_key: tuple[Path, str] | None = None
        self._job_start: dict = {}
        self._maps = QTemporaryDir()
        self._redraw_timer = QTimer(self, singleShot=True, interval=REDRAW_DELAY_MS)
        self._redraw_timer.timeout.connect(self.redraw)

        self.toggle_action = QAction("Show &Missed Objects", window, checkable=True)
        self.toggle_action.setShortcuts([QKeySequence("M")])
        self.toggle_action.setStatusTip("Red: the model sees objects nobody clicked (rings); blue: clicks the "
                                        "model does not see (crosses: one object clicked twice)")
        window.addAction(self.toggle_action)  # the key works while the menu is closed
        self.toggle_action.toggled.connect(self._on_toggled)
        self.session.current_image_changed.connect(lambda _name: self.refresh())
        self.session.points.points_changed.connect(lambda _change: self._redraw_timer.start())
        self.session.dataset_opened.connect(lambda _dataset: self.forget())
        self.session.dataset_closed.connect(self.forget)

    @property
    def shown(self) -> bool:
        return self.toggle_action.isChecked()

    def _on_toggled(self, on: bool) -> None:
        if on and self.chosen_checkpoint() is None:
            self.toggle_action.setChecked(False)
            self.window.show_notice("info", NO_MODEL_FOR_HINTS)
            return
        self.refresh()

    def forget(self) -> None:
        """A folder opened or closed: no result of the previous one applies."""
        self._stop_job()
        self.views.clear()
        self.layer.clear()

    def refresh(self) -> None:
        """Show the hints of the image on screen, asking the model first when it has not seen it yet."""
        self._redraw_timer.stop()
        name, checkpoint = self.session.current_name, self.chosen_checkpoint()
        if not self.shown or name is None or checkpoint is None:
            self._stop_job()
            self.layer.clear()
            return
        key = (checkpoint, name)
        if key in self.views:
            self.redraw()
        else:
            self.layer.clear()
            if self._job_key != key or not self.job.is_running():
                self._start_job(key)

    def redraw(self) -> None:
        """Match the model's objects with the points as they are now, and draw the residual under the markers."""
        name, checkpoint = self.session.current_name, self.chosen_checkpoint()
        view = self.views.get((checkpoint, name)) if self.shown and name is not None else None
        if view is None or self.session.dataset is None:
            self.layer.clear()
            return
        points = np.asarray(self.session.points.points, dtype=np.float64).reshape(-1, 2)
        hints = hints_from_objects(view.objects, view.masses, points, view.radius)
        residual = residual_density(view.density, view.stride, points, self.session.dataset.settings.density)
        self.layer.show_residual(residual, view.stride)
        self.layer.show_markers(hints.missed, points[hints.doubled])
        self.hints_updated.emit(name, len(hints.missed), len(hints.doubled))
        self.window.statusBar().showMessage(
            f"Missed objects: {len(hints.missed)} likely unclicked (red rings), "
            f"{len(hints.doubled)} likely double click(s) (blue crosses)", 5000)

    # --------------------------------------------------------------------- job
    def _start_job(self, key: tuple[Path, str]) -> None:
        self._stop_job()
        checkpoint, name = key
        args = ["hints", str(self.session.dataset.folder), "--checkpoint", str(checkpoint), "--images", name,
                "--density-dir", self._maps.path()]
        job = EngineJob(["-m", self.engine_module, *args, "--events", "jsonl"], parent=self, cancel_grace_ms=3000)
        job.event_received.connect(lambda event, job=job, key=key: self._on_event(job, key, event))
        job.finished.connect(lambda outcome, _code, job=job: self._on_finished(job, outcome))
        self.job, self._job_key, self._job_start = job, key, {}
        job.start()
        self.window.statusBar().showMessage(f"Looking for missed objects in {name}…")

    def _stop_job(self) -> None:
        if self.job is not None and self.job.is_running():
            self.job.cancel()
        self._job_key = None

    def _on_event(self, job: EngineJob, key: tuple[Path, str], event: dict) -> None:
        kind = event.get("type")
        if kind == "start":
            self._job_start = event
        elif kind == "result" and event.get("image") == key[1] and event.get("density"):
            density_path = Path(event["density"])
            density = np.load(density_path)
            density_path.unlink(missing_ok=True)  # kept in memory now; the temporary folder stays small
            self.views[key] = ModelView(
                objects=np.asarray(event.get("objects") or [], dtype=np.float64).reshape(-1, 2),
                masses=np.asarray(event.get("masses") or [], dtype=np.float64).reshape(-1),
                density=density, stride=int(self._job_start.get("stride") or 1),
                radius=float(self._job_start.get("radius") or 0.0))
            if job is self.job and key == (self.chosen_checkpoint(), self.session.current_name):
                self.redraw()

    def _on_finished(self, job: EngineJob, outcome: str) -> None:
        if job is not self.job:
            return
        if outcome in ("failed", "crashed"):
            self.window.show_notice("error", f"Looking for missed objects failed: {job.failure_summary()}")
        elif outcome == "succeeded" and self._job_key not in self.views:
            self.window.statusBar().showMessage("The model could not look at this image (see the log)", 5000)
        self.job_finished.emit(outcome)

    def shutdown(self, wait_ms: int = 3000) -> None:
        if self.job is not None and self.job.is_running():
            self.job.cancel()
            self.job.wait(wait_ms)
