"""Video from the window: Count ▸ Count video… and File ▸ Extract frames from video…, each a background job.

A video count is ``python -m engine count VIDEO --out DIR/counts.csv --density-dir DIR/density --overlay
DIR/overlay.mp4 ...`` run by :class:`crowdgui.jobs.EngineJob`; each ``result`` event adds a point to the
count-over-time plot. Clicking the plot decodes that frame (a seek, short work done here) and shows it with
the density map the engine saved for it. Extracting frames runs ``python -m engine extract-frames`` and
offers to open the dataset folder when done.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

from crowdgui.counting.controller import fresh_folder
from crowdgui.dialogs.messages import show_message
from crowdgui.jobs import EngineJob
from crowdgui.video.dialogs import CountVideoDialog, ExtractFramesDialog, ExtractRequest, VideoCountRequest
from crowdgui.video.results import VideoResultsPanel
from engine.counting.outputs import density_path
from engine.counting.overlays import load_density
from engine.dataset.video import VideoError, frame_name, read_video_frame


class VideoController(QObject):
    job_finished = Signal(str)  # outcome of a count
    extract_finished = Signal(str)  # outcome of an extraction
    frame_shown = Signal(int)  # a frame is on screen (tests wait for it)

    def __init__(self, window, chosen_checkpoint=None, dataset_folder=None):
        super().__init__(window)
        self.window = window
        self._chosen_checkpoint = chosen_checkpoint or (lambda: None)
        self._dataset_folder = dataset_folder or (lambda: None)
        self.job: EngineJob | None = None
        self.extract_job: EngineJob | None = None
        self.request: VideoCountRequest | None = None
        self.output_dir: Path | None = None
        self.stride = 1
        self.overlay: Path | None = None
        self.last_message = None
        self.panel = VideoResultsPanel()
        self.dock = window.add_dock(self.panel, "Video counts", Qt.DockWidgetArea.BottomDockWidgetArea,
                                    object_name="VideoCountsDock")
        self.dock.hide()
        self.panel.frame_requested.connect(self.show_frame)
        self.panel.export_csv_requested.connect(self.export_csv)
        self.panel.export_overlay_requested.connect(self.export_overlay)
        self.panel.cancel_requested.connect(self.cancel)
        self.count_action = QAction("Count video…", self)
        self.count_action.setStatusTip("Count every frame of a video and plot the count over time")
        self.count_action.triggered.connect(self.open_count_dialog)
        self.extract_action = QAction("Extract frames from video…", self)
        self.extract_action.setStatusTip("Add every Nth frame of a video to a dataset folder, to annotate")
        self.extract_action.triggered.connect(self.open_extract_dialog)

    # ------------------------------------------------------------------ count
    def open_count_dialog(self) -> None:
        dialog = CountVideoDialog(self.window, checkpoint=self._chosen_checkpoint())
        if dialog.exec() == CountVideoDialog.DialogCode.Accepted:
            self.start(dialog.request())

    def start(self, request: VideoCountRequest) -> EngineJob:
        self.cancel(wait=True)
        self.request, self.stride, self.overlay = request, 1, None
        self.output_dir = fresh_folder(request.video.with_name(f"{request.video.stem}-counts"))
        self.output_dir.mkdir(parents=True)
        self.panel.begin(request.video.name)
        self.dock.show()
        self.dock.raise_()
        self.job = EngineJob.engine(request.engine_arguments(self.output_dir), parent=self, cancel_grace_ms=5000)
        self.job.event_received.connect(self._on_event)
        self.job.finished.connect(self._on_finished)
        self.job.start()
        return self.job

    def cancel(self, wait: bool = False) -> None:
        if self.job is not None and self.job.is_running():
            self.job.cancel()
            if wait:
                self.job.wait(10000)

    def _on_event(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "start":
            self.stride = int(event.get("stride") or 1)
        elif kind == "result":
            self.panel.add_count(int(event["frame"]), float(event["time_s"]), float(event["count"]))
        elif kind == "done":
            self.overlay = Path(event["overlay"]) if event.get("overlay") else None

    def _on_finished(self, outcome: str, code: int) -> None:
        counted = len(self.panel.frames)
        if outcome == "succeeded":
            text = f"<b>{self.request.video.name}</b>: {counted} frame(s) counted"
        else:
            text = f"<b>{self.request.video.name}</b>: {outcome} after {counted} frame(s)"
            if outcome == "failed":
                self.last_message = show_message(self.window, "error", "Count video", self.job.failure_summary())
        self.panel.finish(text, has_overlay=self.overlay is not None)
        if counted:
            self.panel.pick_time(self.panel.times[0])
        self.job_finished.emit(outcome)

    def show_frame(self, frame: int, time_s: float) -> None:
        """Decode frame ``frame`` and show it with its saved density map."""
        if self.request is None:
            return
        try:
            picture = read_video_frame(self.request.video, frame, time_s)
        except VideoError as exc:
            self.panel.say(str(exc))
            return
        density = None
        path = density_path(self.output_dir / "density", frame_name(self.request.video, frame))
        if path.is_file():
            density = load_density(path)
        count = self.panel.counts[self.panel.frames.index(frame)] if frame in self.panel.frames else None
        self.panel.show_frame(frame, time_s, picture.image, density, self.stride, count)
        self.frame_shown.emit(frame)

    # ----------------------------------------------------------------- export
    def counts_file(self) -> Path | None:
        if self.output_dir is None:
            return None
        for name in ("counts.csv", "counts.csv.partial"):
            if (self.output_dir / name).is_file():
                return self.output_dir / name
        return None

    def export_csv(self, target: Path | None = None) -> None:
        source = self.counts_file()
        if source is None:
            return
        if target is None:
            chosen, _ = QFileDialog.getSaveFileName(self.window, "Export counts",
                                                    f"{self.request.video.stem}-counts.csv", "CSV (*.csv)")
            target = Path(chosen) if chosen else None
        if target is not None:
            shutil.copyfile(source, target)

    def export_overlay(self, target: Path | None = None) -> None:
        if self.overlay is None:
            return
        if target is None:
            chosen, _ = QFileDialog.getSaveFileName(self.window, "Export overlay video",
                                                    f"{self.request.video.stem}-overlay.mp4", "MP4 (*.mp4)")
            target = Path(chosen) if chosen else None
        if target is not None:
            shutil.copyfile(self.overlay, target)

    # ---------------------------------------------------------------- extract
    def open_extract_dialog(self) -> None:
        dialog = ExtractFramesDialog(self.window, dataset_folder=self._dataset_folder())
        if dialog.exec() == ExtractFramesDialog.DialogCode.Accepted:
            self.extract(dialog.request())

    def extract(self, request: ExtractRequest) -> EngineJob:
        job = EngineJob.engine(request.engine_arguments(), parent=self)
        job.finished.connect(lambda outcome, code: self._extracted(job, request, outcome))
        self.extract_job = job
        self.window.statusBar().showMessage(f"Extracting frames of {request.video.name}…")
        job.start()
        return job

    def _extracted(self, job: EngineJob, request: ExtractRequest, outcome: str) -> None:
        if outcome == "succeeded":
            self.window.show_notice("info", f"Frames of {request.video.name} were added to {request.out}",
                                    "Open folder", lambda: self.window.open_folder(request.out))
        elif outcome == "failed":
            self.last_message = show_message(self.window, "error", "Extract frames", job.failure_summary())
        self.extract_finished.emit(outcome)

    def shutdown(self) -> None:
        for job in (self.job, self.extract_job):
            if job is not None and job.is_running():
                job.cancel()
                job.wait(5000)
