"""Class labels stay aligned with their points through every edit, and reach the file."""

from __future__ import annotations

import json

from PySide6.QtGui import QUndoStack

from crowdgui.annotation.points_model import PointsModel
from crowdgui.annotation.undo import AddPoint, ClearPoints, DeletePoints, MovePoint
from engine.dataset import Annotation, sidecar_path, write_sidecar
from tests.gui.conftest import click, widget_pos


def test_labels_follow_their_points_through_add_delete_move_clear_and_undo(qtbot):
    model, stack = PointsModel(), QUndoStack()
    model.reset("a.png", [[1, 1], [2, 2], [3, 3]], ["adult", "child", "adult"])
    stack.push(AddPoint(model, 4, 4))
    assert model.labels == ["adult", "child", "adult", "adult"]  # new points: the file's first class
    stack.push(DeletePoints(model, [1, 2]))
    assert model.labels == ["adult", "adult"] and model.points.tolist() == [[1, 1], [4, 4]]
    stack.push(MovePoint(model, 0, 9, 9))
    stack.push(ClearPoints(model))
    assert model.labels == []
    for _ in range(3):
        stack.undo()
    assert model.labels == ["adult", "child", "adult", "adult"]
    assert model.points.tolist() == [[1, 1], [2, 2], [3, 3], [4, 4]]


def test_an_image_without_labels_keeps_none(qtbot):
    model = PointsModel()
    model.reset("a.png", [[1, 1]])
    AddPoint(model, 2, 2).redo()
    assert model.labels is None


def test_labels_are_saved_aligned_after_a_click(qtbot, make_window, blank_folder):
    sidecar = sidecar_path(blank_folder / "cells_001.png")
    write_sidecar(sidecar, Annotation("cells_001.png", 200, 150, [[10, 10], [20, 20]], labels=["child", "adult"]))
    window = make_window(blank_folder)
    click(window.canvas, widget_pos(window.canvas, 100, 100))
    qtbot.waitUntil(lambda: not window.session.dirty_names(), timeout=3000)
    saved = json.loads(sidecar.read_text())
    assert saved["labels"] == ["child", "adult", "child"] and len(saved["points"]) == 3
