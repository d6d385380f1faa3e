"""The count dialog's "where and how big" options: a region file applied to every image, and the pixel size.

They become ``engine count --roi FILE`` (a fixed camera's region of interest and ignore areas, counted inside
the ROI only) and ``--pixel-size 0.65um|0.05m`` (adds objects per mm² or per hectare, and is saved in the
dataset). Both are checked here with the engine's own readers, so a bad file or size is said before counting.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from engine.dataset.pixel_size import parse_pixel_size
from engine.dataset.regions import read_roi_file


class AreaOptions(QObject):
    """A region-file field with Browse… and a pixel-size field, each with a line saying what it holds; their
    widgets belong to ``parent`` (the dialog), which places them with :meth:`add_rows`."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.roi = QLineEdit(parent)
        self.roi.setPlaceholderText("Optional: a JSON file of roi/ignore regions, applied to every image")
        self.roi.setClearButtonEnabled(True)
        browse = QPushButton("Browse…", parent)
        browse.clicked.connect(self._browse)
        self.roi_info = QLabel(parent)
        self.pixel_size = QLineEdit(parent)
        self.pixel_size.setPlaceholderText("Optional: one pixel's side, e.g. 0.65um or 0.05m")
        self.pixel_size.setToolTip("Adds objects per mm² (um) or per hectare (m) to the counts, and is saved "
                                   "in the dataset; empty: the dataset's own, if it has one")
        self.pixel_info = QLabel(parent)
        for info in (self.roi_info, self.pixel_info):
            info.setStyleSheet("color: palette(dark);")
        roi_row = QHBoxLayout()
        roi_row.setContentsMargins(0, 0, 0, 0)
        roi_row.addWidget(self.roi, 1)
        roi_row.addWidget(browse)
        self.roi_widget = QWidget(parent)
        self.roi_widget.setLayout(roi_row)
        self._roi_checked: tuple[Path | None, str, bool] | None = None  # (path, description, usable)

    def add_rows(self, form: QFormLayout) -> None:
        form.addRow("Regions:", self.roi_widget)
        form.addRow("", self.roi_info)
        form.addRow("Pixel size:", self.pixel_size)
        form.addRow("", self.pixel_info)

    def _browse(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self.roi, "Regions applied to every image", self.roi.text(),
                                                "Region files (*.json);;All files (*)")
        if chosen:
            self.roi.setText(chosen)

    def roi_path(self) -> Path | None:
        text = self.roi.text().strip()
        return Path(text).expanduser() if text else None

    def pixel_size_text(self) -> str | None:
        return self.pixel_size.text().strip() or None

    def check(self) -> bool:
        """Describe both fields in their info lines; False when either cannot be used. The region file is read
        again only when its path changed (the dialog checks on every keystroke of either field)."""
        path = self.roi_path()
        if self._roi_checked is None or self._roi_checked[0] != path:
            self._roi_checked = (path, *describe_roi_file(path))
        _, roi_text, roi_ok = self._roi_checked
        size_text, size_ok = describe_pixel_size(self.pixel_size_text())
        self.roi_info.setText(roi_text)
        self.pixel_info.setText(size_text)
        self.pixel_info.setVisible(bool(size_text))
        return roi_ok and size_ok


def describe_roi_file(path: Path | None) -> tuple[str, bool]:
    """What a region file applies to every image, or why it cannot be used; and whether it can."""
    if path is None:
        return "No region file: each image's own regions (if any) are used.", True
    try:
        kinds = Counter(region.kind for region in read_roi_file(path))
    except ValueError as exc:
        return str(exc), False
    return "Applied to every image: " + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())), True


def describe_pixel_size(text: str | None) -> tuple[str, bool]:
    """What a pixel size adds to the counts, or why it cannot be read ("" for none given); and whether it can."""
    if text is None:
        return "", True
    try:
        size = parse_pixel_size(text)
    except ValueError as exc:
        return str(exc), False
    per = "objects per mm²" if size.column == "per_mm2" else "objects per hectare"
    return f"One pixel is {size} on a side: the counts get {per}.", True
