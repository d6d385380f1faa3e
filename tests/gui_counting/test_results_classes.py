"""The results view of a count by a model of two classes: a column per class, per-class MAE, a class chooser."""

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))  # the counting test helpers live there
from count_fixtures import pixel_centres, red_counter_checkpoint, red_counter_registered, spread_pixels, \
    write_red_image

from PySide6.QtCore import Qt

from crowdgui.counting.results import ResultsPanel
from crowdgui.counting.results_model import CountRow, ResultsTableModel
from engine.counting.folder import FolderCount, count_folder
from engine.events import ListSink


@pytest.fixture
def two_class_results(tmp_path):
    """The result events of a real count: a has 3 live + 2 dead (annotated right), b 1 live + 4 dead
    (annotated 2 + 2)."""
    folder = tmp_path / "cells"
    live, dead = spread_pixels(3, 64, 48), spread_pixels(2, 64, 48, offset=5)
    write_red_image(folder, "a.png", live, green_pixels=dead,
                    annotated_points=pixel_centres(np.vstack([live, dead])), labels=["live"] * 3 + ["dead"] * 2)
    write_red_image(folder, "b.png", spread_pixels(1, 64, 48), green_pixels=spread_pixels(4, 64, 48, offset=5),
                    annotated_points=pixel_centres(spread_pixels(4, 64, 48)), labels=["live"] * 2 + ["dead"] * 2)
    events = ListSink()
    with red_counter_registered():
        checkpoint = red_counter_checkpoint(tmp_path / "two.pt", classes=["live", "dead"])
        count_folder(FolderCount(folder, checkpoint, tmp_path / "out" / "counts.csv",
                                 density_dir=tmp_path / "out" / "maps"), events)
    return events.of_type("result")


def test_each_class_gets_a_column_its_mae_and_its_own_heatmap(qtbot, two_class_results):
    panel = ResultsPanel()
    qtbot.addWidget(panel)
    assert panel.viewer.class_choice.isHidden()
    for event in two_class_results:
        panel.add_result(CountRow.from_event(event))
    panel._refresh_summary()
    model = panel.model
    first_class = len(ResultsTableModel.HEADERS)
    assert model.columnCount() == first_class + 2
    assert [model.headerData(first_class + i, Qt.Orientation.Horizontal) for i in range(2)] == ["live", "dead"]
    b_row = model.row_index(two_class_results[1]["path"])
    assert model.index(b_row, first_class).data() == "1.0 (2)"
    assert model.index(b_row, first_class + 1).data() == "4.0 (2)"
    assert "MAE per class: live <b>0.50</b>, dead <b>1.00</b>" in panel.summary.text()

    viewer = panel.viewer
    assert not viewer.class_choice.isHidden()
    assert [viewer.class_choice.itemText(i) for i in range(3)] == ["All classes", "live", "dead"]
    panel.select_image(two_class_results[1]["path"])
    viewer.wait()
    qtbot.waitUntil(lambda: viewer.current is not None and viewer.current.row.image == "b.png", timeout=10000)
    assert viewer.current.density.sum() == pytest.approx(5.0, abs=1e-3)  # all classes: every object
    with qtbot.waitSignal(viewer.loaded, timeout=10000):
        viewer.class_choice.setCurrentText("dead")
    assert viewer.current.class_name == "dead"
    assert viewer.current.density.sum() == pytest.approx(4.0, abs=1e-3)
    assert viewer.canvas.count_label.text() == "dead 4.0"
    with qtbot.waitSignal(viewer.loaded, timeout=10000):
        viewer.class_choice.setCurrentText("All classes")
    assert viewer.current.density.sum() == pytest.approx(5.0, abs=1e-3)


def test_a_one_class_count_looks_as_before(qtbot, tmp_path):
    panel = ResultsPanel()
    qtbot.addWidget(panel)
    panel.add_result(CountRow.from_event({"type": "result", "image": "a.png", "path": str(tmp_path / "a.png"),
                                          "count": 3.0, "annotated_count": 2}))
    panel._refresh_summary()
    assert panel.model.columnCount() == len(ResultsTableModel.HEADERS)
    assert panel.viewer.class_choice.isHidden() and "per class" not in panel.summary.text()
