"""Parts of the training dialog: what to start (a new run or a stopped one), for how long, on which images."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QSpinBox,
)

from engine.training.runs import RunInfo


class StartRow(QHBoxLayout):
    """"New run" or "Resume a stopped run:" with the runs that can be resumed (disabled when there are none)."""

    def __init__(self, resumable: list[RunInfo]):
        super().__init__()
        self.new_radio = QRadioButton("New run")
        self.resume_radio = QRadioButton("Resume a stopped run:")
        self.resume_combo = QComboBox()
        for run in resumable:
            self.resume_combo.addItem(run.label, str(run.folder))
        self.group = QButtonGroup(self)
        self.group.addButton(self.new_radio)
        self.group.addButton(self.resume_radio)
        self.new_radio.setChecked(True)
        if not resumable:
            self.resume_radio.setEnabled(False)
            self.resume_combo.setEnabled(False)
            self.resume_radio.setToolTip("No stopped run of this dataset can be resumed")
        self.addWidget(self.new_radio)
        self.addSpacing(16)
        self.addWidget(self.resume_radio)
        self.addWidget(self.resume_combo, 1)


class BudgetRow(QHBoxLayout):
    """A number of epochs or a time budget; only the chosen one's box is editable (:meth:`refresh`)."""

    def __init__(self):
        super().__init__()
        self.epochs_radio = QRadioButton("Epochs")
        self.minutes_radio = QRadioButton("Time budget")
        self.group = QButtonGroup(self)
        self.group.addButton(self.epochs_radio)
        self.group.addButton(self.minutes_radio)
        self.epochs_spin = QSpinBox(minimum=1, maximum=100000)
        self.minutes_spin = QDoubleSpinBox(minimum=0.5, maximum=100000, decimals=1, suffix=" min")
        self.addWidget(self.epochs_radio)
        self.addWidget(self.epochs_spin)
        self.addSpacing(16)
        self.addWidget(self.minutes_radio)
        self.addWidget(self.minutes_spin)
        self.addStretch(1)

    def refresh(self) -> None:
        self.epochs_spin.setEnabled(self.epochs_radio.isChecked())
        self.minutes_spin.setEnabled(self.minutes_radio.isChecked())


class ImagesBox(QGroupBox):
    """The validation share, what it makes of the dataset (``split_label``) and "also learn from unlabeled"."""

    def __init__(self, unlabeled_tip: str):
        super().__init__("Images")
        self.val_spin = QDoubleSpinBox(minimum=0.0, maximum=90.0, decimals=0, singleStep=5, suffix=" %")
        self.val_spin.setToolTip("Share of the annotated images kept aside to measure the error after each "
                                 "epoch (less often when measuring would take over a tenth of the training "
                                 "time). Images whose annotation names a split keep it.")
        self.split_label = QLabel()
        self.split_label.setTextFormat(Qt.RichText)
        self.unlabeled_check = QCheckBox("Also learn from unlabeled images")
        self.unlabeled_check.setToolTip(unlabeled_tip)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldsStayAtSizeHint)
        form.addRow("Validation share:", self.val_spin)
        form.addRow("", self.split_label)
        form.addRow("", self.unlabeled_check)
