""""Count folder…": choose the images, the trained model, the device and where the results go."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.dataset.images import is_image_file
from engine.training.runs import RUNS_FOLDER, list_runs

from crowdgui.counting.area_options import AreaOptions
from crowdgui.training.devices import device_choices

COUNTS_FOLDER = "crowdgui_counts"
# What test-time flips bought where measured (README, "Counting speed"): off by default, it doubles the time.
FLIPS_TOOLTIP = ("Count each image twice, as is and mirrored left to right, and average the two density maps. "
                 "Twice the counting time. On 70 VGG cell test images (a U-Net trained 12 min) it changed the "
                 "MAE from 5.15 to 5.17: no gain there, so it is off unless you try it on your own images.")


@dataclass
class CountRequest:
    """What the user asked to count, and how."""

    folder: Path
    checkpoint: Path
    device: str = "auto"
    output_dir: Path | None = None
    points: bool = False
    flips: bool = False  # test-time flips (engine count --flips)
    roi: Path | None = None  # regions applied to every image (engine count --roi)
    pixel_size: str | None = None  # one pixel's side, e.g. "0.65um" (engine count --pixel-size)

    def resolved_output_dir(self) -> Path:
        return self.output_dir or default_output_dir(self.folder)


def default_output_dir(folder: Path | str, now: _dt.datetime | None = None) -> Path:
    """``<folder>/crowdgui_counts/<timestamp>/``: beside the images, never mixed with them (not scanned)."""
    stamp = (now or _dt.datetime.now()).strftime("%Y-%m-%d_%H-%M-%S")
    return Path(folder) / COUNTS_FOLDER / stamp


def trained_models(*folders: Path | None) -> list[tuple[Path, str]]:
    """(best.pt, label) of every training run of these datasets that left a checkpoint, newest first."""
    found, seen = [], set()
    for folder in folders:
        if not folder:
            continue
        for run in list_runs(folder):
            if run.best_checkpoint is None or run.best_checkpoint in seen:
                continue
            seen.add(run.best_checkpoint)
            quality = f" · val MAE {run.best_mae:.2f}" if run.best_mae is not None else ""
            found.append((run.best_checkpoint, f"{run.label}{quality}"))
    return found


def count_images(folder: Path) -> int:
    """How many image files a folder holds (its top level, as the engine counts them)."""
    try:
        return sum(1 for p in folder.iterdir() if p.is_file() and is_image_file(p))
    except OSError:
        return 0


class _PathField(QWidget):
    """A line edit with a "Browse…" button."""

    def __init__(self, browse, placeholder: str = "", parent=None):
        super().__init__(parent)
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText(placeholder)
        self.edit.setClearButtonEnabled(True)
        button = QPushButton("Browse…", self)
        button.clicked.connect(browse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(button)

    def path(self) -> Path | None:
        text = self.edit.text().strip()
        return Path(text).expanduser() if text else None

    def set_path(self, path: Path | str | None) -> None:
        self.edit.setText("" if path is None else str(path))


def _file_label(path: Path) -> str:
    return f"File: {path.name}  ({path.parent})"


class _ModelPicker(QWidget):
    """The trained models of the dataset's runs in a combo box, plus "Browse…" for any other checkpoint."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.combo = QComboBox(self)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(30)
        self.combo.setPlaceholderText("No trained model yet: train one, or browse for a checkpoint")
        self.combo.currentIndexChanged.connect(self.changed)
        self.browse_button = QPushButton("Browse…", self)
        self.browse_button.clicked.connect(self._browse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.browse_button)
        self._browsed: list[Path] = []

    def set_models(self, models: list[tuple[Path, str]]) -> None:
        """Offer these (checkpoint, label) pairs; keep the files the user browsed for and the choice."""
        current = self.path()
        self.combo.blockSignals(True)
        self.combo.clear()
        for path, label in models:
            self._add(path, label)
        for path in self._browsed:
            self._add(path, _file_label(path))
        self.combo.setCurrentIndex(0 if self.combo.count() else -1)
        self.combo.blockSignals(False)
        if current is not None and self.combo.findData(str(current)) >= 0:
            self.set_path(current)
        self.changed.emit()

    def set_path(self, path: Path | str | None) -> None:
        """Select ``path``, adding it as "File: ..." when it is not one of the runs' models."""
        if path is None:
            return
        index = self.combo.findData(str(path))
        if index < 0:
            self._browsed.append(Path(path))
            index = self._add(Path(path), _file_label(Path(path)))
        self.combo.setCurrentIndex(index)

    def _add(self, path: Path, label: str) -> int:
        self.combo.addItem(label, str(path))
        index = self.combo.count() - 1
        self.combo.setItemData(index, str(path), Qt.ItemDataRole.ToolTipRole)
        return index

    def path(self) -> Path | None:
        data = self.combo.currentData()
        return Path(data) if data else None

    def _browse(self) -> None:
        current = self.path()
        start = str(current.parent if current else Path.home())
        chosen, _ = QFileDialog.getOpenFileName(self, "Trained model", start,
                                                "CrowdGUI checkpoints (*.pt *.pth);;All files (*)")
        if chosen:
            self.set_path(chosen)


class CountDialog(QDialog):
    """Pick a folder (or the open dataset) and a trained model; ``request()`` gives the choice.

    ``checkpoint`` (the model chosen in the run history) is preselected; otherwise the newest trained model
    of the open dataset, otherwise the model used last time.
    """

    def __init__(self, parent=None, dataset_folder: Path | None = None, checkpoint: Path | None = None,
                 settings: QSettings | None = None):
        super().__init__(parent)
        self.setWindowTitle("Count folder")
        self.setMinimumWidth(640)
        self._dataset_folder = Path(dataset_folder) if dataset_folder else None
        self._settings = settings if settings is not None else QSettings()
        self._output_edited = False

        self.folder = _PathField(self._browse_folder, "Folder of images to count")
        self.use_dataset = QPushButton("Open dataset", self)
        self.use_dataset.setToolTip("Count the images of the dataset open in the window")
        self.use_dataset.setEnabled(self._dataset_folder is not None)
        self.use_dataset.clicked.connect(lambda: self.folder.set_path(self._dataset_folder))
        self.folder_info = QLabel(self)
        self.model = _ModelPicker(self)
        self.model_info = QLabel(self)
        self.device = QComboBox(self)
        for value, label in device_choices():
            self.device.addItem(label, value)
        self.output = _PathField(self._browse_output, "Where the counts and density maps are saved")
        self.points = QCheckBox("Also find predicted points (local maxima of the density)", self)
        self.flips = QCheckBox("Test-time flips (average with the mirrored image; twice as slow)", self)
        self.flips.setToolTip(FLIPS_TOOLTIP)
        self.area = AreaOptions(self)
        for info in (self.folder_info, self.model_info):
            info.setStyleSheet("color: palette(dark);")
        intro = QLabel("Count every image of a folder with a trained model. The counts and density maps are "
                       "saved in the results folder; the images and their annotations are not changed.", self)
        intro.setWordWrap(True)

        folder_row = QWidget(self)
        row = QHBoxLayout(folder_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.folder, 1)
        row.addWidget(self.use_dataset)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("Images:", folder_row)
        form.addRow("", self.folder_info)
        form.addRow("Model:", self.model)
        form.addRow("", self.model_info)
        form.addRow("Device:", self.device)
        form.addRow("Save results in:", self.output)
        form.addRow("", self.points)
        form.addRow("", self.flips)
        self.area.add_rows(form)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.count_button = self.buttons.addButton("Count", QDialogButtonBox.ButtonRole.AcceptRole)
        self.count_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addSpacing(6)
        layout.addLayout(form)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        self.folder.edit.textChanged.connect(self._folder_changed)
        self.model.changed.connect(self._validate)
        self.area.roi.textChanged.connect(self._validate)
        self.area.pixel_size.textChanged.connect(self._validate)
        self.output.edit.textEdited.connect(self._mark_output_edited)
        self._restore(checkpoint)

    # ----------------------------------------------------------------- defaults
    def _restore(self, checkpoint: Path | None) -> None:
        self.folder.set_path(self._dataset_folder)
        self._folder_changed()
        remembered = self._settings.value("counting/checkpoint", "", str)
        if checkpoint:
            self.model.set_path(checkpoint)
        elif self.model.path() is None and remembered and Path(remembered).is_file():
            self.model.set_path(remembered)
        device = self._settings.value("counting/device", "auto", str)
        self.device.setCurrentIndex(max(0, self.device.findData(device)))
        self.points.setChecked(self._settings.value("counting/points", False, bool))
        self.flips.setChecked(self._settings.value("counting/flips", False, bool))
        self._validate()

    def _remember(self) -> None:
        request = self.request()
        self._settings.setValue("counting/checkpoint", str(request.checkpoint))
        self._settings.setValue("counting/device", request.device)
        self._settings.setValue("counting/points", request.points)
        self._settings.setValue("counting/flips", request.flips)

    # ----------------------------------------------------------------- browsing
    def _browse_folder(self) -> None:
        start = str(self.folder.path() or self._dataset_folder or Path.home())
        chosen = QFileDialog.getExistingDirectory(self, "Folder of images to count", start)
        if chosen:
            self.folder.set_path(chosen)

    def _browse_output(self) -> None:
        start = str(self.output.path() or self.folder.path() or Path.home())
        chosen = QFileDialog.getExistingDirectory(self, "Save results in", start)
        if chosen:
            self.output.set_path(chosen)
            self._output_edited = True

    def _mark_output_edited(self) -> None:
        self._output_edited = bool(self.output.edit.text().strip())

    # --------------------------------------------------------------- validation
    def _folder_changed(self) -> None:
        folder = self.folder.path()
        if not self._output_edited:
            self.output.set_path(default_output_dir(folder) if folder else None)
        # The models trained on the open dataset, and on the chosen folder if it is a dataset of its own.
        self.model.set_models(trained_models(self._dataset_folder,
                                             folder if folder and folder.is_dir() else None))
        self._validate()

    def _validate(self) -> None:
        folder, checkpoint = self.folder.path(), self.model.path()
        ready = True
        if folder is None:
            self.folder_info.setText("Choose a folder of images.")
            ready = False
        elif not folder.is_dir():
            self.folder_info.setText("This folder does not exist.")
            ready = False
        else:
            images = count_images(folder)
            self.folder_info.setText(f"{images} image{'s' if images != 1 else ''} in this folder"
                                     + ("" if images else " — nothing to count"))
            ready = ready and images > 0
        if checkpoint is None:
            self.model_info.setText("Choose a trained model: train one (Training ▸ Train model…), or browse "
                                    f"for a checkpoint file (best.pt in a {RUNS_FOLDER} folder).")
            ready = False
        elif not checkpoint.is_file():
            self.model_info.setText(f"{checkpoint} does not exist (any more).")
            ready = False
        else:
            saved = _dt.datetime.fromtimestamp(checkpoint.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
            self.model_info.setText(f"{checkpoint.parent.name}/{checkpoint.name}, saved {saved}")
            self.model_info.setToolTip(str(checkpoint))
        ready = self.area.check() and ready
        self.count_button.setEnabled(ready)

    # ------------------------------------------------------------------ result
    def request(self) -> CountRequest:
        return CountRequest(
            folder=self.folder.path() or Path("."),
            checkpoint=self.model.path() or Path("."),
            device=str(self.device.currentData()),
            output_dir=self.output.path(),
            points=self.points.isChecked(),
            flips=self.flips.isChecked(),
            roi=self.area.roi_path(),
            pixel_size=self.area.pixel_size_text(),
        )

    def accept(self) -> None:
        if not self.count_button.isEnabled():
            return
        self._remember()
        super().accept()
