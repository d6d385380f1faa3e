"""Mouse gestures on the image canvas, sent as real Qt events to its viewport."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtTest import QTest

from tests.gui.conftest import click, drag, image_pos, widget_pos


def test_click_after_zoom_and_pan_adds_the_point_where_it_was_clicked(make_window, blank_folder):
    window = make_window(blank_folder)
    canvas, points = window.canvas, window.session.points
    # Zoom to a 40 x 30 px region away from the origin, then pan it by (+13.5, +7.25) image pixels.
    canvas.view_box.setRange(QRectF(120, 90, 40, 30), padding=0)
    canvas.view_box.translateBy(x=13.5, y=7.25)
    assert canvas.zoom_factor() > 4  # really zoomed: one screen pixel is well under half an image pixel
    target = (147.3, 104.8)
    pos = widget_pos(canvas, *target)
    assert canvas.viewport().rect().contains(pos)
    click(canvas, pos)
    assert points.count == 1
    x, y = points.points[0]
    assert abs(x - target[0]) < 0.5 and abs(y - target[1]) < 0.5
    # The stored point is exactly what the clicked pixel shows (no offset from the pan or the zoom).
    ex, ey = image_pos(canvas, pos)
    assert abs(x - ex) < 0.3 and abs(y - ey) < 0.3


def test_click_outside_the_image_adds_nothing(make_window, blank_folder):
    window = make_window(blank_folder)
    canvas = window.canvas
    canvas.view_box.setRange(QRectF(-50, -50, 100, 100), padding=0)
    click(canvas, widget_pos(canvas, -20, -20))
    assert window.session.points.count == 0
    assert not window.session.undo_group.canUndo()


def test_right_click_on_a_point_deletes_it_and_undo_brings_it_back(make_window, blank_folder):
    window = make_window(blank_folder)
    canvas, points = window.canvas, window.session.points
    for xy in [(40, 40), (100, 80), (160, 120)]:
        click(canvas, widget_pos(canvas, *xy))
    assert points.count == 3
    click(canvas, widget_pos(canvas, 101, 81), button=Qt.MouseButton.RightButton)  # within the hit radius
    np.testing.assert_allclose(points.points, [(40, 40), (160, 120)], atol=1.0)
    click(canvas, widget_pos(canvas, 20, 130), button=Qt.MouseButton.RightButton)  # on nothing: no change
    assert points.count == 2
    window.undo_action.trigger()
    np.testing.assert_allclose(points.points, [(40, 40), (100, 80), (160, 120)], atol=1.0)


def test_box_selection_then_delete_key_removes_the_points_in_the_box(make_window, blank_folder):
    window = make_window(blank_folder)
    canvas, points = window.canvas, window.session.points
    for xy in [(30, 30), (50, 40), (60, 50), (150, 110)]:
        click(canvas, widget_pos(canvas, *xy))
    assert points.count == 4
    drag(canvas, widget_pos(canvas, 20, 20), widget_pos(canvas, 70, 60), modifiers=Qt.KeyboardModifier.ShiftModifier)
    assert list(canvas.selected_indices()) == [0, 1, 2]
    assert points.count == 4  # a shift drag selects, it adds nothing
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_Delete)
    np.testing.assert_allclose(points.points, [(150, 110)], atol=1.0)
    assert window.session.undo_group.undoText() == "Delete 3 points"


def test_dragging_a_point_moves_it_with_one_undo_entry(make_window, blank_folder):
    window = make_window(blank_folder)
    canvas, points = window.canvas, window.session.points
    click(canvas, widget_pos(canvas, 50, 50))
    click(canvas, widget_pos(canvas, 150, 100))
    stack = window.session.undo_group.activeStack()
    assert stack.count() == 2
    start = points.points[0].copy()
    drag(canvas, widget_pos(canvas, *start), widget_pos(canvas, 120, 40), steps=10)
    assert points.count == 2
    np.testing.assert_allclose(points.points[0], (120, 40), atol=1.0)
    np.testing.assert_allclose(points.points[1], (150, 100), atol=1.0)  # the other point stayed
    assert stack.count() == 3 and stack.undoText() == "Move point"
    stack.undo()
    np.testing.assert_allclose(points.points[0], start)
    assert stack.count() == 3 and stack.index() == 2


def test_drag_on_empty_space_with_space_held_pans_instead_of_adding(make_window, blank_folder):
    window = make_window(blank_folder)
    canvas = window.canvas
    canvas.view_box.setRange(QRectF(50, 40, 60, 45), padding=0)
    before = canvas.view_box.viewRect()
    canvas.view_box.space_held = True
    drag(canvas, widget_pos(canvas, 80, 60), widget_pos(canvas, 70, 50))
    canvas.view_box.space_held = False
    after = canvas.view_box.viewRect()
    assert window.session.points.count == 0
    assert after.left() - before.left() > 5 and after.top() - before.top() > 5  # content followed the mouse


def test_overlay_lut_and_count_text(make_window, blank_folder):
    window = make_window(blank_folder)
    canvas = window.canvas
    lut = np.zeros((256, 4), dtype=np.uint8)
    lut[:, 1] = 255
    canvas.set_overlay_lut(lut)
    np.testing.assert_array_equal(canvas.overlay.lut, lut)
    canvas.set_count_text("Count 12.5")
    assert canvas.count_label.text() == "Count 12.5" and canvas.count_label.isVisible()
    canvas.set_count_text(None)
    assert canvas.count_label.text() == "0 points"
    click(canvas, widget_pos(canvas, 10, 10))
    assert canvas.count_label.text() == "1 point"
