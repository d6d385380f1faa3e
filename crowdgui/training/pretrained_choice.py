"""The training dialog's "Start from" row: random weights, torchvision's ImageNet weights, or a weights file.

Only networks with a VGG-16 part can start from pretrained weights (``engine.models.pretrained_capable``); for
the others the row is disabled and says so. The value is what ``python -m engine train --pretrained`` takes
("" for from scratch, "imagenet", or a path); the engine says in the run which one happened.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QWidget

SCRATCH, IMAGENET, FILE = "", "imagenet", "file"
IMAGENET_TIP = ("torchvision's ImageNet VGG-16 weights (VGG-16-BN: 528 MB), downloaded by the engine the first "
                "time and then taken from torch's cache. Without internet the run stops with a message: then "
                "choose a weights file saved on a machine that has it.")
FILE_TIP = ("A torchvision VGG-16 or VGG-16-BN state dict (.pth), e.g. saved with torch.save(torchvision.models."
            "vgg16_bn(weights=\"IMAGENET1K_V1\").state_dict(), \"vgg16_bn.pth\")")


class PretrainedChoice(QWidget):
    """A choice of starting weights; ``changed`` whenever the value may have changed."""

    changed = Signal()

    def __init__(self, capable_models: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.capable_models = list(capable_models)
        self.capable = True  # the chosen network can start from pretrained weights
        self.combo = QComboBox()
        self.combo.addItem("Random weights (from scratch)", SCRATCH)
        self.combo.addItem("ImageNet weights (download)", IMAGENET)
        self.combo.addItem("A weights file…", FILE)
        self.combo.setItemData(1, IMAGENET_TIP, Qt.ToolTipRole)
        self.combo.setItemData(2, FILE_TIP, Qt.ToolTipRole)
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("vgg16_bn.pth")
        self.path_edit.setToolTip(FILE_TIP)
        self.path_edit.setMinimumWidth(200)
        self.browse_button = QPushButton("Browse…")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        layout.addWidget(self.path_edit, 1)
        layout.addWidget(self.browse_button)
        self.combo.currentIndexChanged.connect(self._choice_changed)
        self.path_edit.textChanged.connect(self.changed)
        self.browse_button.clicked.connect(self.browse)
        self._choice_changed()

    def set_model(self, model: str) -> None:
        """Enable the row for networks that can start from pretrained weights."""
        self.capable = capable = model in self.capable_models
        self.setEnabled(capable)
        self.setToolTip("" if capable else f"Only {', '.join(self.capable_models)} can start from pretrained "
                                           f"weights; {model} starts from random weights")
        self.changed.emit()

    def value(self) -> str:
        """``--pretrained``'s value ("" = from scratch, also for a network that cannot use pretrained weights)."""
        if not self.capable:
            return SCRATCH
        choice = self.combo.currentData()
        return self.path_edit.text().strip() if choice == FILE else choice

    def set_value(self, value: str) -> None:
        value = (value or "").strip()
        if value.lower() in (SCRATCH, IMAGENET):
            self.combo.setCurrentIndex(self.combo.findData(value.lower()))
        else:
            self.path_edit.setText(value)
            self.combo.setCurrentIndex(self.combo.findData(FILE))

    def problem(self) -> str:
        """Why the choice cannot start a run ("" when it can)."""
        if not self.capable or self.combo.currentData() != FILE:
            return ""
        path = self.path_edit.text().strip()
        if not path:
            return "Choose the weights file to start from (Browse…), or start from random weights."
        if not Path(path).expanduser().is_file():
            return f"The weights file {path} does not exist."
        return ""

    def browse(self) -> None:
        start = self.path_edit.text().strip() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Starting weights (a VGG-16 state dict)", start,
                                              "PyTorch weights (*.pth *.pt);;All files (*)")
        if path:
            self.set_value(path)

    def _choice_changed(self) -> None:
        is_file = self.combo.currentData() == FILE
        self.path_edit.setVisible(is_file)
        self.browse_button.setVisible(is_file)
        self.changed.emit()
