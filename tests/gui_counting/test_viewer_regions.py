"""The results viewer draws the ROI and ignore regions the engine counted in, and says the area."""

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from crowdgui.counting.results_model import CountRow
from crowdgui.counting.viewer import ResultViewer
from engine.counting.outputs import save_density, write_density_manifest

ROI = [[0, 0], [32, 0], [32, 48], [0, 48]]
IGNORE = [[0, 0], [12, 0], [12, 12], [0, 12]]


def _row(tmp_path, **extra) -> CountRow:
    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(image)
    write_density_manifest(tmp_path / "maps", 4)
    density = save_density(tmp_path / "maps", "a.png", np.ones((12, 16), np.float32))
    return CountRow.from_event({"type": "result", "image": "a.png", "path": str(image), "count": 87.0,
                                "density": str(density), "stride": 4, **extra})


def test_the_viewer_outlines_the_counted_regions(qtbot, tmp_path):
    viewer = ResultViewer()
    qtbot.addWidget(viewer)
    row = _row(tmp_path, roi=[ROI], ignore=[IGNORE], area_px=1392, per_mm2=250.0)
    with qtbot.waitSignal(viewer.loaded, timeout=10000):
        viewer.show_row(row)
    roi_box, ignore_box = viewer.regions.roi.path().boundingRect(), viewer.regions.ignore.path().boundingRect()
    assert (roi_box.left(), roi_box.top(), roi_box.width(), roi_box.height()) == (0, 0, 32, 48)
    assert (ignore_box.width(), ignore_box.height()) == (12, 12)
    assert "in 1,392 px" in viewer.title.text() and "<b>250</b> / mm²" in viewer.title.text()
    # An image counted whole has no outlines left over from the previous one.
    with qtbot.waitSignal(viewer.loaded, timeout=10000):
        viewer.show_row(_row(tmp_path))
    assert viewer.regions.roi.path().isEmpty() and viewer.regions.ignore.path().isEmpty()
    assert " px" not in viewer.title.text()
