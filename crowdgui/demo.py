"""The demo dataset: synthetic fluorescence-cell images, a few of them annotated, in the user's data folder."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths

from engine.dataset import is_image_file
from engine.dataset.synthetic import write_synthetic_dataset

DEMO_IMAGES = 12
DEMO_ANNOTATED = 4  # the rest are left for the user to try annotating


def demo_folder() -> Path:
    """<application data folder>/demo, e.g. ~/.local/share/CrowdGUI/CrowdGUI/demo on Linux."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base) / "demo"


def ensure_demo_dataset(folder: Path | None = None) -> Path:
    """Create the demo images the first time; later calls keep the user's annotations and return the folder."""
    folder = Path(folder) if folder is not None else demo_folder()
    if folder.is_dir() and any(is_image_file(p) for p in folder.iterdir()):
        return folder
    return write_synthetic_dataset(folder, images=DEMO_IMAGES, size=(384, 512), counts=(40, 180), seed=7,
                                   annotate=DEMO_ANNOTATED)
