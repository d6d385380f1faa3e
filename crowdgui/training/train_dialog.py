"""The "Train model…" dialog: which network, for how long, on what, with which images — or resume a run.

It only collects choices: the result is the engine's own argument list (:meth:`TrainDialog.engine_args`), so what
the window runs is exactly what a user could run in a terminal (the dialog shows that command). Choices are
remembered in QSettings; the density settings default to the dataset's own, as the annotator saw them.
"""

from __future__ import annotations

import json
import shlex
import sys
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from crowdgui.density.suggestion import SuggestionBox, SuggestionWorker
from crowdgui.training.advanced import AdvancedOptions, fit_height
from crowdgui.training.devices import gpu_count, training_device_choices
from crowdgui.training.dialog_rows import BudgetRow, ImagesBox, StartRow
from crowdgui.training.options import TrainOptions, launch_args, resume_args, split_counts
from crowdgui.training.pretrained_choice import PretrainedChoice
from engine.dataset import Dataset
from engine.training.runs import STAMP_FORMAT, RunInfo, new_run_dir, runs_folder

SETTINGS_KEY = "training/last_options"
UNLABELED_TIP = ("Also learn from the images you have not annotated. From each one, nested square crops are cut "
                 "around a point near its centre; the network is taught that a crop never holds more objects "
                 "than the crop around it (a ranking loss, Liu et al., CVPR 2018). It costs time per step, "
                 "and on VGG cells with 10 annotated images it made counts worse, at equal time and at equal "
                 "steps (see the README): compare the validation error with and without it on your data. "
                 "Adds --unlabeled to the command.")


def split_summary(counts: dict, use_unlabeled: bool) -> str:
    """"<b>12</b> train · <b>3</b> validate · …": how the images will be used."""
    parts = [f"<b>{counts['train']}</b> train", f"<b>{counts['val']}</b> validate"]
    if counts.get("test"):
        parts.append(f"<b>{counts['test']}</b> test (held out)")
    unlabeled = counts["unlabeled"]
    use = "learned from by ranking" if use_unlabeled and unlabeled else "not used"
    parts.append(f"<span style='color:palette(mid)'>{unlabeled} unlabeled ({use})</span>")
    return " · ".join(parts)


def split_problem(counts: dict) -> str:
    """Why a new run on this split cannot start or cannot measure itself ("" when it can)."""
    if counts["train"] == 0:
        return ("No annotated image is left for training. Annotate a few images (click one point per object) or "
                "lower the validation share.")
    if counts["val"] == 0:
        return ("No validation image: the error cannot be measured, so the last epoch is kept as the best "
                "model. Raise the validation share or annotate more images.")
    return ""


class TrainDialog(QDialog):
    """Collects one training request for ``dataset``; ``runs`` are offered for resuming.

    ``density_applied(DensitySettings)``: the suggested density settings were applied and saved to the dataset.
    """

    density_applied = Signal(object)

    def __init__(self, dataset: Dataset, runs: list[RunInfo] | None = None, settings: QSettings | None = None,
                 parent: QWidget | None = None, resume: RunInfo | None = None):
        super().__init__(parent)
        self.setWindowTitle("Train a counting model")
        self.setMinimumWidth(560)
        self.dataset = dataset
        self.settings = settings if settings is not None else QSettings()
        self.resumable = [run for run in (runs or []) if run.can_resume]
        self.run_dir: Path | None = None

        from engine.models import list_models, pretrained_capable

        self.models = list_models()
        options = self._remembered_options()

        # ---- what to start: a new run or the continuation of a stopped one
        start_row = StartRow(self.resumable)
        self.new_radio, self.resume_radio, self.resume_combo = (start_row.new_radio, start_row.resume_radio,
                                                                start_row.resume_combo)

        # ---- model
        self.model_combo = QComboBox()
        for name, description in self.models.items():
            self.model_combo.addItem(name, name)
            self.model_combo.setItemData(self.model_combo.count() - 1, description, Qt.ToolTipRole)
        self.model_description = QLabel()
        self.model_description.setWordWrap(True)
        self.model_description.setStyleSheet("color: palette(mid);")

        # ---- budget
        self.budget_row = budget_row = BudgetRow()
        self.epochs_radio, self.minutes_radio = budget_row.epochs_radio, budget_row.minutes_radio
        self.epochs_spin, self.minutes_spin = budget_row.epochs_spin, budget_row.minutes_spin

        # ---- device
        self.device_combo = QComboBox()
        for value, label in training_device_choices():
            self.device_combo.addItem(label, value)

        self.model_box = QGroupBox("Model")
        model_form = QFormLayout(self.model_box)
        model_form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        model_form.addRow("Network:", self.model_combo)
        model_form.addRow("", self.model_description)
        self.pretrained = PretrainedChoice(pretrained_capable())
        model_form.addRow("Start from:", self.pretrained)
        model_form.addRow("Train for:", budget_row)
        model_form.addRow("Device:", self.device_combo)

        # ---- images
        self.images_box = ImagesBox(UNLABELED_TIP)
        self.val_spin, self.split_label = self.images_box.val_spin, self.images_box.split_label
        self.unlabeled_check = self.images_box.unlabeled_check

        # ---- advanced, with the density settings suggested from the dataset's points
        self.advanced = AdvancedOptions(dataset.settings.density)
        self.suggestion_box = SuggestionBox()
        self.suggestion_box.apply_button.setToolTip("Use the suggested settings for this run and as the "
                                                    "dataset's own (saved with it)")
        self.advanced.add_row(self.suggestion_box)
        self.suggester = SuggestionWorker(self)
        self.suggester.ready.connect(self.suggestion_box.set_suggestion)
        # The wrapped reason arrives after the dialog took its size: make room for its lines.
        self.suggester.ready.connect(self._make_room)
        self.suggester.failed.connect(self.suggestion_box.set_failure)
        self.suggestion_box.apply_requested.connect(self._apply_density)

        # ---- where, and the equivalent command
        self.command_edit = QLineEdit()
        self.command_edit.setReadOnly(True)
        self.command_edit.setToolTip("The same training from a terminal or on a server")
        self.command_edit.setStyleSheet("QLineEdit { color: palette(mid); }")
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #f85149;")

        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Ok).setText("Start training")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        title = QLabel(f"<b>Train on</b> {dataset.folder.name}"
                       f" <span style='color:palette(mid)'>({dataset.folder})</span>")
        title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(start_row)
        layout.addWidget(self.model_box)
        layout.addWidget(self.images_box)
        layout.addWidget(self.advanced)
        layout.addWidget(QLabel("Command:"))
        layout.addWidget(self.command_edit)
        layout.addWidget(self.problem_label)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        self._apply(options)
        for signal in (self.model_combo.currentIndexChanged, self.epochs_spin.valueChanged,
                       self.minutes_spin.valueChanged, self.device_combo.currentIndexChanged,
                       self.val_spin.valueChanged, self.epochs_radio.toggled, self.new_radio.toggled,
                       self.resume_combo.currentIndexChanged, self.advanced.changed,
                       self.unlabeled_check.toggled, self.pretrained.changed):
            signal.connect(self._refresh)
        self.suggestion_box.set_current(self.advanced.density())
        self.suggestion_box.set_working()
        self.suggester.request(dataset.folder)
        if resume is not None and resume.can_resume:
            self.resume_radio.setChecked(True)
            self.resume_combo.setCurrentIndex(max(0, self.resume_combo.findData(str(resume.folder))))
        self._refresh()

    # ---------------------------------------------------------------- options
    def _remembered_options(self) -> TrainOptions:
        try:
            saved = json.loads(str(self.settings.value(SETTINGS_KEY, "{}")))
        except (TypeError, ValueError):
            saved = {}
        options = TrainOptions.from_dict(saved if isinstance(saved, dict) else {})
        # Density settings and the validation share belong to the dataset, not to the last session.
        density = self.dataset.settings.density
        options.sigma_mode, options.sigma, options.beta, options.k = (density.mode, density.sigma,
                                                                      density.beta, density.k)
        options.val_fraction = self.dataset.settings.val_fraction
        if options.model not in self.models:
            options.model = next(iter(self.models), "fcrn_a")
        return options

    def _apply(self, options: TrainOptions) -> None:
        self.model_combo.setCurrentIndex(max(0, self.model_combo.findData(options.model)))
        (self.minutes_radio if options.budget == "minutes" else self.epochs_radio).setChecked(True)
        self.epochs_spin.setValue(options.epochs)
        self.minutes_spin.setValue(options.minutes)
        index = self.device_combo.findData(options.device)
        self.device_combo.setCurrentIndex(max(index, 0))
        self.val_spin.setValue(round(options.val_fraction * 100))
        self.unlabeled_check.setChecked(options.unlabeled)
        self.pretrained.set_value(options.pretrained)
        self.advanced.apply(options)

    def options(self) -> TrainOptions:
        """The choices as they stand in the dialog."""
        options = TrainOptions(
            model=self.model_combo.currentData(),
            budget="minutes" if self.minutes_radio.isChecked() else "epochs",
            epochs=self.epochs_spin.value(),
            minutes=self.minutes_spin.value(),
            device=self.device_combo.currentData(),
            val_fraction=self.val_spin.value() / 100.0,
            unlabeled=self.unlabeled_check.isChecked() and self.unlabeled_check.isEnabled(),
            pretrained=self.pretrained.value(),
        )
        self.advanced.fill(options)
        return options

    @property
    def is_resume(self) -> bool:
        return self.resume_radio.isChecked() and bool(self.resumable)

    def resumed_run(self) -> RunInfo | None:
        if not self.is_resume:
            return None
        folder = self.resume_combo.currentData()
        return next((run for run in self.resumable if str(run.folder) == folder), None)

    def engine_args(self, run_dir: Path | str | None = None) -> list[str]:
        """The ``python -m engine`` arguments for the current choices (``run_dir`` defaults to the chosen one)."""
        run = self.resumed_run()
        if run is not None:
            return resume_args(self.dataset.folder, run.folder, run.model, self.device_combo.currentData())
        if run_dir is None:
            # Before "Start", show the kind of folder that will be made (it is created only on accept).
            run_dir = self.run_dir or (runs_folder(self.dataset.folder)
                                       / f"{datetime.now().strftime(STAMP_FORMAT)}-{self.options().model}")
        return self.options().engine_args(self.dataset.folder, run_dir)

    def python_args(self, run_dir: Path | str | None = None) -> list[str]:
        """What follows ``python`` to run :meth:`engine_args` on the chosen device (all GPUs: through torchrun)."""
        return launch_args(self.engine_args(run_dir), self.device_combo.currentData(), gpu_count())

    # ---------------------------------------------------------------- refresh
    def _refresh(self) -> None:
        resuming = self.is_resume
        self.resume_combo.setEnabled(resuming)
        for box in (self.model_box, self.images_box, self.advanced):
            box.setEnabled(not resuming)
        # The device stays choosable when resuming: a run stopped on a laptop may continue on a GPU.
        self.device_combo.setEnabled(True)
        self.budget_row.refresh()
        self.model_description.setText(self.models.get(self.model_combo.currentData(), ""))
        self.pretrained.blockSignals(True)  # set_model announces a change: this is the refresh it would ask for
        self.pretrained.set_model(self.model_combo.currentData())
        self.pretrained.blockSignals(False)
        self.suggestion_box.set_current(self.advanced.density())

        counts = split_counts(self.dataset, self.val_spin.value() / 100.0)
        unlabeled = counts["unlabeled"]
        self.unlabeled_check.setEnabled(unlabeled > 0)
        self.unlabeled_check.setText(f"Also learn from the {unlabeled} unlabeled image{'s' * (unlabeled != 1)}"
                                     if unlabeled else "Also learn from unlabeled images (there are none)")
        self.split_label.setText(split_summary(counts, self.unlabeled_check.isChecked()))
        problem = "" if resuming else split_problem(counts)
        weights_problem = "" if resuming else self.pretrained.problem()
        problem = weights_problem or problem
        self.problem_label.setText(problem)
        self.problem_label.setVisible(bool(problem))
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(
            resuming or (counts["train"] > 0 and not weights_problem))
        self.command_edit.setText(" ".join(shlex.quote(part) for part in
                                           [Path(sys.executable).name, *self.python_args()]))
        self.command_edit.setCursorPosition(0)

    def _make_room(self, *_args) -> None:
        if self.advanced.body.isVisible():
            fit_height(self)

    def _apply_density(self, settings) -> None:
        """Apply (or Undo) in the suggestion: this run's density targets and the dataset's saved settings."""
        self.advanced.dataset_density = settings
        self.advanced.set_density(settings)
        self.dataset.settings.density = settings
        try:
            self.dataset.save_settings()
        except OSError as exc:
            self.suggestion_box.set_failure(f"used for this run, but not saved to the dataset's crowdgui.json "
                                            f"({exc.strerror or exc})")
            return
        self.density_applied.emit(settings)

    # ----------------------------------------------------------------- accept
    def accept(self) -> None:
        """Remember the choices and reserve the run folder (a new one, or the stopped run's)."""
        if self.is_resume:
            self.run_dir = self.resumed_run().folder
        else:
            self.settings.setValue(SETTINGS_KEY, json.dumps(self.options().to_dict()))
            self.run_dir = new_run_dir(self.dataset.folder, self.model_combo.currentData())
        super().accept()
