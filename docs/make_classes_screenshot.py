"""Make docs/classes.png: a two-class dataset (VGG cells: "bright" and "faint" cells, labelled by how bright the
image is under each dot, a stand-in for two real kinds of object) with the Classes palette, points drawn in
their class colours, the per-class count label and image list, and the density map of one class.

    xvfb-run -s "-screen 0 1600x1000x24" python docs/make_classes_screenshot.py VGG_CELLS_TRAIN WORK OUT.png

WORK is a scratch folder (emptied); a few images are copied there, never changed. The screen is captured with
ImageMagick's ``import -window root``; reduce it with ``convert OUT.png -resize 1280x800 -colors 128 PNG8:...``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CLASSES = [{"name": "bright", "colour": "#ffcc00", "key": 1}, {"name": "faint", "colour": "#0a84ff", "key": 2}]


def _make_dataset(source: Path, work: Path, images: int) -> None:
    from engine.dataset import Annotation, read_image, sidecar_path, write_sidecar
    from engine.dataset.formats.dots import read_dot_points

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for number in range(1, images + 1):
        name = f"{number:03d}cell.png"
        shutil.copy(source / name, work / name)
        read = read_dot_points(source / f"{number:03d}dots.png")
        points = getattr(read, "points", read)
        pixels = read_image(work / name).max(axis=2)
        brightness = pixels[np.clip(points[:, 1].astype(int), 0, 255), np.clip(points[:, 0].astype(int), 0, 255)]
        labels = ["bright" if value >= np.median(brightness) else "faint" for value in brightness]
        write_sidecar(sidecar_path(work / name), Annotation(name, 256, 256, points, labels=labels))
    (work / "crowdgui.json").write_text(json.dumps({"format": "crowdgui-dataset", "classes": CLASSES}))


def main(source: Path, work: Path, out: Path) -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    import crowdgui.canvas  # noqa: F401  (pyqtgraph's image axis order, as the app sets it)
    from crowdgui.features import build_window
    from tests.gui.conftest import click, widget_pos

    _make_dataset(source, work, images=6)
    app = QApplication.instance() or QApplication([])
    app.setStyleSheet((Path(__file__).resolve().parent.parent / "resources" / "style.qss").read_text())
    window = build_window(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    window.resize(1600, 1000)
    window.show()
    QTest.qWait(300)
    window.open_folder(work)
    QTest.qWait(500)
    canvas = window.canvas
    # Key 2 (tests/gui_classes press it); Xvfb without a window manager never makes the window active, so the
    # shortcut is taken through its action here.
    window.classes.activate_key(2)
    for x, y in ((128, 20), (150, 28)):
        click(canvas, widget_pos(canvas, x, y))
    panel = window.density.panel
    panel.class_combo.setCurrentIndex(panel.class_combo.findData("faint"))
    [density] = [dock for dock in window.findChildren(type(window.image_list_dock))
                 if dock.windowTitle() == "Density"]
    density.raise_()
    QTest.qWait(1500)
    subprocess.run(["import", "-window", "root", str(out)], check=True)
    window.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
