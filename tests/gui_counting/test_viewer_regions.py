"""The count results viewer draws the counted image's ROI and ignore regions, read from its annotation file."""

from __future__ import annotations

import numpy as np
from PIL import Image

from crowdgui.counting.results_model import CountRow
from crowdgui.counting.viewer import ResultViewer
from engine.dataset import Annotation, sidecar_path, write_sidecar
from engine.dataset.regions import rectangle


def test_roi_and_ignore_regions_of_the_counted_image_are_drawn_and_nothing_else(qtbot, tmp_path):
    image = tmp_path / "a.png"
    Image.fromarray(np.full((40, 60, 3), 90, np.uint8)).save(image)
    write_sidecar(sidecar_path(image), Annotation("a.png", 60, 40, [[5, 5]], regions=[
        rectangle("roi", 0, 0, 30, 40), rectangle("ignore", 40, 0, 60, 10), rectangle("annotated", 0, 0, 60, 40)]))
    density = tmp_path / "a.png.density.npy"
    np.save(density, np.full((40, 60), 0.01, np.float32))
    viewer = ResultViewer()
    qtbot.addWidget(viewer)
    with qtbot.waitSignal(viewer.loaded, timeout=10000):
        viewer.show_row(CountRow("a.png", image, 24.0, density_path=density, stride=1))
    assert [region.kind for region in viewer.regions.regions] == ["roi", "ignore"]
    labels = [text.textItem.toPlainText() for _path, text in viewer.canvas.regions_layer._items]
    assert labels == ["ROI", "Ignore"]
    assert viewer.canvas.region_gestures.tool is None  # read-only: no tool has the mouse
    with qtbot.waitSignal(viewer.loaded, timeout=10000):
        viewer.show_row(CountRow("b.png", tmp_path / "b.png", 1.0))  # no image, no file: no regions
    assert viewer.regions.count == 0
