"""Make docs/regions.png: the region tools with all four kinds drawn by real mouse gestures on a ShanghaiTech
part B image whose points are kept only in its left half (an "annotated" region says so).

    xvfb-run -s "-screen 0 1600x1000x24" python docs/make_regions_screenshot.py SHANGHAITECH_B_TRAIN WORK OUT.png

WORK is a scratch folder (emptied); the image is copied there, never changed. The screen is captured with
ImageMagick's ``import -window root``; reduce it with ``convert OUT.png -resize 1280x800 -colors 128 PNG8:...``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(source: Path, work: Path, out: Path, name: str = "IMG_12.jpg") -> None:
    import scipy.io
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    import crowdgui.canvas  # noqa: F401  (pyqtgraph's image axis order, as the app sets it)
    from crowdgui.features import build_window
    from engine.dataset import Annotation, sidecar_path, write_sidecar
    from tests.gui.conftest import click, drag, widget_pos

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for image in (name, "IMG_13.jpg"):
        shutil.copy(source / "images" / image, work / image)
    points = scipy.io.loadmat(source / "ground-truth" / f"GT_{Path(name).stem}.mat")["image_info"][0, 0][0, 0][0]
    write_sidecar(sidecar_path(work / name), Annotation(name, 1024, 768, points[points[:, 0] < 512]))

    app = QApplication.instance() or QApplication([])
    app.setStyleSheet((Path(__file__).resolve().parent.parent / "resources" / "style.qss").read_text())
    window = build_window(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    window.resize(1600, 1000)
    window.show()
    QTest.qWait(300)
    window.open_folder(work)
    window.session.select(name)
    QTest.qWait(500)
    canvas, tools = window.canvas, window.region_tools
    tools.ask_count = lambda _parent, current=0: 14
    tools.use("rectangle", "annotated")
    drag(canvas, widget_pos(canvas, 0, 0), widget_pos(canvas, 512, 768))
    tools.use("rectangle", "ignore")
    drag(canvas, widget_pos(canvas, 20, 20), widget_pos(canvas, 300, 150))
    tools.use("polygon", "roi")
    for x, y in ((560, 300), (1000, 260), (1010, 740), (700, 760), (540, 560)):
        click(canvas, widget_pos(canvas, x, y))
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_Return)
    tools.use("rectangle", "count")
    drag(canvas, widget_pos(canvas, 640, 40), widget_pos(canvas, 900, 200))
    tools.use("edit")
    [density] = [dock for dock in window.findChildren(type(window.image_list_dock))
                 if dock.windowTitle() == "Density"]
    density.raise_()
    QTest.qWait(1500)
    subprocess.run(["import", "-window", "root", str(out)], check=True)
    window.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
