"""The two video dialogs: "Count video…" (video, model, every Nth frame, optional ROI file) and "Extract frames
from video…" (video, dataset folder, every Nth frame or N evenly spaced)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from engine.dataset.video import VIDEO_SUFFIXES

VIDEO_FILTER = "Videos (" + " ".join(f"*{s}" for s in VIDEO_SUFFIXES) + ");;All files (*)"


@dataclass
class VideoCountRequest:
    video: Path
    checkpoint: Path
    every: int = 1
    roi: Path | None = None

    def engine_arguments(self, output_dir: Path) -> list[str]:
        """``python -m engine count VIDEO ...``: the table, each frame's map and the overlay video."""
        args = ["count", str(self.video), "--checkpoint", str(self.checkpoint),
                "--out", str(output_dir / "counts.csv"), "--density-dir", str(output_dir / "density"),
                "--overlay", str(output_dir / "overlay.mp4"), "--every", str(self.every)]
        if self.roi is not None:
            args += ["--roi", str(self.roi)]
        return args


@dataclass
class ExtractRequest:
    video: Path
    out: Path
    every: int | None = None
    count: int | None = None

    def engine_arguments(self) -> list[str]:
        which = ["--every", str(self.every)] if self.every else ["--count", str(self.count)]
        return ["extract-frames", str(self.video), "--out", str(self.out), *which]


def _file_row(parent: QWidget, edit: QLineEdit, pick) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    button = QPushButton("Browse…", parent)
    button.clicked.connect(pick)
    row.addWidget(button)
    return row


class CountVideoDialog(QDialog):
    def __init__(self, parent=None, checkpoint: Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("Count video")
        self.video = QLineEdit(self)
        self.checkpoint = QLineEdit(str(checkpoint) if checkpoint else "", self)
        self.roi = QLineEdit(self)
        self.roi.setPlaceholderText("optional: a JSON list of regions")
        self.every = QSpinBox(self)
        self.every.setRange(1, 10_000)
        self.every.setSuffix(" frame(s)")
        self.every.setToolTip("Count every Nth frame (1: every frame)")
        form = QFormLayout(self)
        form.addRow("Video", _file_row(self, self.video, self._pick_video))
        form.addRow("Model", _file_row(self, self.checkpoint, self._pick_checkpoint))
        form.addRow("Count every", self.every)
        form.addRow("Region of interest", _file_row(self, self.roi, self._pick_roi))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        for edit in (self.video, self.checkpoint):
            edit.textChanged.connect(self._update_ok)
        self._update_ok()

    def _pick_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Video to count", "", VIDEO_FILTER)
        if path:
            self.video.setText(path)

    def _pick_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Trained model", "", "Checkpoints (*.pt);;All files (*)")
        if path:
            self.checkpoint.setText(path)

    def _pick_roi(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Region of interest", "", "JSON (*.json);;All files (*)")
        if path:
            self.roi.setText(path)

    def _update_ok(self) -> None:
        ready = Path(self.video.text().strip()).is_file() and Path(self.checkpoint.text().strip()).is_file()
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ready)

    def request(self) -> VideoCountRequest:
        roi = self.roi.text().strip()
        return VideoCountRequest(Path(self.video.text().strip()), Path(self.checkpoint.text().strip()),
                                 self.every.value(), Path(roi) if roi else None)


class ExtractFramesDialog(QDialog):
    def __init__(self, parent=None, dataset_folder: Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("Extract frames from video")
        self.video = QLineEdit(self)
        self.out = QLineEdit(str(dataset_folder) if dataset_folder else "", self)
        self.by_step = QRadioButton("Every Nth frame", self)
        self.by_count = QRadioButton("N frames spread evenly", self)
        self.by_step.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.by_step)
        group.addButton(self.by_count)
        self.number = QSpinBox(self)
        self.number.setRange(1, 1_000_000)
        self.number.setValue(25)
        choice = QHBoxLayout()
        choice.addWidget(self.by_step)
        choice.addWidget(self.by_count)
        form = QFormLayout(self)
        form.addRow("Video", _file_row(self, self.video, self._pick_video))
        form.addRow("Into dataset folder", _file_row(self, self.out, self._pick_out))
        form.addRow("Take", choice)
        form.addRow("N", self.number)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.video.textChanged.connect(self._update_ok)
        self.out.textChanged.connect(self._update_ok)
        self._update_ok()

    def _pick_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Video", "", VIDEO_FILTER)
        if path:
            self.video.setText(path)

    def _pick_out(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Dataset folder for the frames")
        if path:
            self.out.setText(path)

    def _update_ok(self) -> None:
        ready = Path(self.video.text().strip()).is_file() and bool(self.out.text().strip())
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ready)

    def request(self) -> ExtractRequest:
        number = self.number.value()
        return ExtractRequest(Path(self.video.text().strip()), Path(self.out.text().strip()),
                              every=number if self.by_step.isChecked() else None,
                              count=None if self.by_step.isChecked() else number)
