"""Region tools through the real window: draw, save, undo/redo, edit, delete, count, and the image status."""

from __future__ import annotations

import json

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from engine.dataset import sidecar_path
from tests.gui.conftest import click, drag, widget_pos


def _wait_saved(qtbot, window):
    qtbot.waitUntil(lambda: not window.session.dirty_names(), timeout=3000)


def _regions_on_disk(folder, name):
    path = sidecar_path(folder / name)
    return json.loads(path.read_text()).get("regions") if path.exists() else None


def _state(window, name):
    return window.image_list.model.state(name)


def test_a_rectangle_drawn_with_the_tool_is_saved_undone_and_redone(qtbot, make_window, synthetic_dataset):
    window = make_window(synthetic_dataset)
    name, canvas = window.session.current_name, window.canvas
    assert _state(window, name) == "done"
    points_before = window.session.points.count
    window.region_tools.use("rectangle", "annotated")
    drag(canvas, widget_pos(canvas, 10, 20), widget_pos(canvas, 70, 90))
    assert window.session.points.count == points_before  # the drag drew a region, it added no point
    assert window.undo_action.text() == "&Undo Add annotated area region"
    _wait_saved(qtbot, window)
    saved = _regions_on_disk(synthetic_dataset, name)
    assert len(saved) == 1 and saved[0]["kind"] == "annotated"
    np.testing.assert_allclose(saved[0]["polygon"], [[10, 20], [70, 20], [70, 90], [10, 90]], atol=1.0)
    assert window.session.dataset.entry(name).status == "partial"
    assert _state(window, name) == "partial"
    window.undo_action.trigger()
    _wait_saved(qtbot, window)
    assert _regions_on_disk(synthetic_dataset, name) is None  # the file is back as it was opened
    assert _state(window, name) == "done"
    window.redo_action.trigger()
    _wait_saved(qtbot, window)
    assert _regions_on_disk(synthetic_dataset, name)[0]["kind"] == "annotated"
    window.image_list.state_filter.setCurrentIndex(window.image_list.state_filter.findData("partial"))
    assert window.image_list.proxy.rowCount() == 1


def test_a_polygon_count_region_asks_its_number_and_can_be_recounted(qtbot, make_window, blank_folder):
    window = make_window(blank_folder)
    name, canvas, tools = window.session.current_name, window.canvas, window.region_tools
    answers = [37, 40]
    tools.ask_count = lambda _parent, current=0: answers.pop(0)
    tools.use("polygon", "count")
    for x, y in ((20, 20), (120, 30), (90, 110)):
        click(canvas, widget_pos(canvas, x, y))
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_Return)
    _wait_saved(qtbot, window)
    region = _regions_on_disk(blank_folder, name)[0]
    assert region["kind"] == "count" and region["count"] == 37 and len(region["polygon"]) == 3
    # A file with no points and only a count region: partial (only the stated count is known).
    assert _state(window, name) == "partial"
    assert "Count: 37" in [item[1].textItem.toPlainText() for item in canvas.regions_layer._items]
    tools.use("edit")
    canvas.region_count_requested.emit(0)  # what a double click on it asks
    _wait_saved(qtbot, window)
    assert _regions_on_disk(blank_folder, name)[0]["count"] == 40


def test_edit_tool_moves_a_corner_and_deletes_the_region(qtbot, make_window, blank_folder):
    window = make_window(blank_folder)
    name, canvas, tools = window.session.current_name, window.canvas, window.region_tools
    tools.use("rectangle", "ignore")
    drag(canvas, widget_pos(canvas, 20, 20), widget_pos(canvas, 80, 60))
    tools.use("edit")
    click(canvas, widget_pos(canvas, 50, 40))  # selects it
    assert canvas.regions_layer.selected == 0
    drag(canvas, widget_pos(canvas, 80, 60), widget_pos(canvas, 120, 100))  # its bottom-right corner
    polygon = window.session.regions.regions[0].polygon
    np.testing.assert_allclose(polygon[2], (120, 100), atol=1.0)
    np.testing.assert_allclose(polygon[0], (20, 20), atol=1.0)
    assert "Reshape ignore region" in window.undo_action.text()
    window.actions.delete_selected.trigger()
    assert window.session.regions.count == 0
    _wait_saved(qtbot, window)
    # Nothing left (no points, no regions, not marked "no objects"): no file, the image is unlabeled again.
    assert not sidecar_path(blank_folder / name).exists()
    window.undo_action.trigger()
    assert window.session.regions.count == 1


def test_a_region_with_a_problem_is_drawn_dashed_red_with_its_reason(make_window, blank_folder):
    sidecar = sidecar_path(blank_folder / "cells_001.png")
    sidecar.write_text(json.dumps({
        "format": "crowdgui-points", "version": 2, "image": "cells_001.png", "width": 200, "height": 150,
        "split": None, "points": [[5, 5]],
        "regions": [{"kind": "ignore", "polygon": [[300, 300], [400, 300], [400, 400]]}]}))
    window = make_window(blank_folder)
    path_item, text_item = window.canvas.regions_layer._items[0]
    assert path_item.pen().style() == Qt.PenStyle.DashLine and path_item.pen().color().red() == 255
    assert "wholly outside the 200 x 150 image" in path_item.toolTip()
    assert text_item.textItem.toPlainText() == "Ignore: not used"


def test_a_double_click_closes_the_polygon_and_right_click_takes_a_corner_back(qtbot, make_window, blank_folder):
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    window = make_window(blank_folder)
    canvas = window.canvas
    window.region_tools.use("polygon", "roi")
    click(canvas, widget_pos(canvas, 20, 20))
    click(canvas, widget_pos(canvas, 150, 40))
    click(canvas, widget_pos(canvas, 100, 90))  # a slip ...
    click(canvas, widget_pos(canvas, 100, 90), button=Qt.MouseButton.RightButton)  # ... taken back
    last = widget_pos(canvas, 90, 120)
    click(canvas, last)
    left = Qt.MouseButton.LeftButton
    double = QMouseEvent(QEvent.Type.MouseButtonDblClick, QPointF(last),
                         QPointF(canvas.viewport().mapToGlobal(last)), left, left, Qt.KeyboardModifier.NoModifier)
    release = QMouseEvent(QEvent.Type.MouseButtonRelease, QPointF(last),
                          QPointF(canvas.viewport().mapToGlobal(last)), left, Qt.MouseButton.NoButton,
                          Qt.KeyboardModifier.NoModifier)
    for event in (double, release):  # pyqtgraph delivers the double click when the button is released
        QApplication.sendEvent(canvas.viewport(), event)
    QApplication.processEvents()
    [region] = window.session.regions.regions
    assert region.kind == "roi"
    np.testing.assert_allclose(region.polygon, [[20, 20], [150, 40], [90, 120]], atol=1.0)


def test_the_selected_region_shows_its_corners_as_handles(make_window, blank_folder):
    window = make_window(blank_folder)
    canvas, tools = window.canvas, window.region_tools
    tools.use("rectangle", "roi")
    drag(canvas, widget_pos(canvas, 20, 20), widget_pos(canvas, 80, 60))
    handles = canvas.regions_layer._handles
    assert len(handles.data) == 0
    tools.use("edit")
    click(canvas, widget_pos(canvas, 50, 40))
    xs, ys = handles.getData()
    np.testing.assert_allclose(np.column_stack([xs, ys]), window.session.regions.regions[0].polygon)
    click(canvas, widget_pos(canvas, 150, 130))  # outside every region: nothing selected
    assert len(handles.data) == 0
