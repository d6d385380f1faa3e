"""An image is annotated because a person says so, never because a file happened to be written.

The bug (issue 15): click 3 points on an unannotated image, undo all 3, and the image was saved with
"points": [], listed as annotated with 0 objects, and used as a zero-count validation image.
"""

from __future__ import annotations

import json

from engine.dataset import Annotation, read_sidecar, sidecar_path, write_sidecar
from tests.gui.conftest import click, widget_pos


def _wait_saved(qtbot, window):
    qtbot.waitUntil(lambda: not window.session.dirty_names(), timeout=3000)


def _points_column(window, name):
    model = window.image_list.model
    return model.index(model.row_of(name), 1).data()


def test_undoing_every_point_of_an_unannotated_image_leaves_no_file(qtbot, make_window, blank_folder):
    window = make_window(blank_folder)
    name = window.session.current_name
    sidecar = sidecar_path(blank_folder / name)
    for x in (30, 60, 90):
        click(window.canvas, widget_pos(window.canvas, x, 40))
    _wait_saved(qtbot, window)
    assert read_sidecar(sidecar).count == 3  # autosaved in between, as a user who pauses would see
    for _ in range(3):
        window.undo_action.trigger()
    _wait_saved(qtbot, window)
    assert not sidecar.exists()
    assert window.session.state_of(name).count is None and not window.session.state_of(name).annotated
    assert _points_column(window, name) == "—"
    assert window.image_list.model.state(name) == "todo"
    assert window.session.dataset.split_of(name) == "unlabeled"


def test_deleting_all_points_without_marking_leaves_the_image_unlabeled(qtbot, make_window, synthetic_dataset):
    window = make_window(synthetic_dataset)
    name = window.session.current_name
    assert window.session.points.count > 0
    window.actions.clear_points.trigger()
    _wait_saved(qtbot, window)
    assert not sidecar_path(synthetic_dataset / name).exists()
    assert window.session.dataset.entry(name).status == "unlabeled"


def test_mark_no_objects_is_an_undoable_edit_that_writes_an_empty_annotation(qtbot, make_window, blank_folder):
    window = make_window(blank_folder)
    name = window.session.current_name
    sidecar = sidecar_path(blank_folder / name)
    assert window.actions.mark_no_objects.shortcut().toString() == "Ctrl+Shift+E"
    window.actions.mark_no_objects.trigger()
    assert "no objects" in window.undo_action.text()
    _wait_saved(qtbot, window)
    saved = json.loads(sidecar.read_text())
    assert saved["points"] == [] and "regions" not in saved and "proposed" not in saved
    assert window.session.dataset.entry(name).status == "complete"
    assert _points_column(window, name) == "0"
    # A point added and deleted again (not undone) leaves it as the person said: annotated, no objects.
    click(window.canvas, widget_pos(window.canvas, 50, 50))
    _wait_saved(qtbot, window)
    window.canvas.select_all()
    window.canvas.delete_selection()
    _wait_saved(qtbot, window)
    assert read_sidecar(sidecar).count == 0 and window.session.state_of(name).annotated
    for _ in range(3):
        window.undo_action.trigger()
    _wait_saved(qtbot, window)
    assert not sidecar.exists()


def test_an_image_opened_with_an_empty_annotation_keeps_it_after_add_and_undo(qtbot, make_window, blank_folder):
    sidecar = sidecar_path(blank_folder / "cells_001.png")
    write_sidecar(sidecar, Annotation("cells_001.png", 200, 150, [], split="test"))
    original = sidecar.read_bytes()
    window = make_window(blank_folder)
    assert window.session.current_name == "cells_001.png" and window.session.no_objects.value
    click(window.canvas, widget_pos(window.canvas, 40, 40))
    _wait_saved(qtbot, window)
    assert read_sidecar(sidecar).count == 1
    window.undo_action.trigger()
    _wait_saved(qtbot, window)
    assert sidecar.read_bytes() == original  # the very file it was opened with
    assert window.session.state_of("cells_001.png").annotated


def test_mark_no_objects_refuses_an_image_with_points(make_window, synthetic_dataset):
    window = make_window(synthetic_dataset)
    before = window.session.stack(window.session.current_name).count()
    window.actions.mark_no_objects.trigger()
    assert window.session.stack(window.session.current_name).count() == before
    assert "delete them first" in window.statusBar().currentMessage()
