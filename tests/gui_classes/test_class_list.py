"""Adding, renaming, recolouring and removing classes from the palette: saved to crowdgui.json, the points
files follow a rename, and a class that points use is not removed."""

from __future__ import annotations

import json

from PySide6.QtGui import QColor

from engine.dataset import Dataset, sidecar_path
from tests.gui.conftest import blank_folder, click, widget_pos  # noqa: F401  (blank_folder: a fixture)


def _settings(folder) -> dict:
    return json.loads((folder / "crowdgui.json").read_text())


def test_adding_a_class_to_a_one_class_dataset_makes_two(qtbot, make_window, blank_folder):
    window = make_window(blank_folder)
    click(window.canvas, widget_pos(window.canvas, 100, 100))  # a point of the default class, no label
    window.classes.ask_text = lambda *args: ("dead", True)
    window.classes.add()
    assert [c["name"] for c in _settings(blank_folder)["classes"]] == ["object", "dead"]
    assert [c["key"] for c in _settings(blank_folder)["classes"]] == [1, 2]
    assert window.classes.panel.tree.topLevelItemCount() == 2 and window.classes.several
    window.classes.activate_key(2)
    click(window.canvas, widget_pos(window.canvas, 50, 50))
    assert window.session.points.labels == ["object", "dead"]


def test_a_class_in_use_is_not_removed_and_the_message_says_how_many(qtbot, make_window, two_class_folder):
    window = make_window(two_class_folder)
    window.classes.remove("dead")
    assert "1 point is of class dead" in window.last_message.text()
    assert [c["name"] for c in _settings(two_class_folder)["classes"]] == ["live", "dead"]
    window.canvas.points_layer.select([2])
    window.canvas.delete_selection()  # unsaved: the check counts it as gone all the same
    window.classes.remove("dead")
    assert "classes" not in _settings(two_class_folder) or \
        [c["name"] for c in _settings(two_class_folder)["classes"]] == ["live"]
    assert not window.classes.several and window.canvas.count_label.text() == "2 points"


def test_renaming_a_class_renames_the_labels_in_the_files(qtbot, make_window, two_class_folder):
    window = make_window(two_class_folder)
    window.classes.ask_text = lambda *args: ("alive", True)
    window.classes.rename("live")
    saved = json.loads(sidecar_path(two_class_folder / "cells_001.png").read_text())
    assert saved["labels"] == ["alive", "alive", "dead"]
    assert Dataset(two_class_folder).settings.class_names() == ["alive", "dead"]
    assert window.session.points.labels == ["alive", "alive", "dead"] and window.classes.active == "alive"


def test_a_long_rename_shows_its_progress_in_a_modal_dialog(qtbot, make_window, two_class_folder, monkeypatch):
    import crowdgui.classes.controller as controller

    monkeypatch.setattr(controller, "RENAME_DIALOG_AFTER_MS", 0)  # as if the files were thousands
    for name in ("cells_002.png", "cells_003.png"):
        Dataset(two_class_folder).save_points(name, [[5, 5], [9, 9]], labels=["dead", "live"])
    window = make_window(two_class_folder)
    seen = []
    window.classes.ask_text = lambda *args: ("alive", True)
    original = controller.ClassesController._rename_progress

    def watched(self, old, new):
        progress = original(self, old, new)

        def record(done, total):
            progress(done, total)
            seen.append((done, total, self.rename_dialog.isVisible(), self.rename_dialog.labelText()))
        return record

    monkeypatch.setattr(controller.ClassesController, "_rename_progress", watched)
    window.classes.rename("live")
    assert [(done, total) for done, total, _, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    assert seen[0][2] and seen[0][3] == "Renaming live to alive in 3 points files…"
    assert not window.classes.rename_dialog.isVisible()  # closed by itself at the end
    assert json.loads(sidecar_path(two_class_folder / "cells_003.png").read_text())["labels"] == ["dead", "alive"]
    assert window.statusBar().currentMessage() == "Renamed live to alive (3 points files rewritten)"


def test_recolouring_a_class_recolours_its_points(qtbot, make_window, two_class_folder):
    window = make_window(two_class_folder)
    window.classes.ask_colour = lambda current: QColor("#0a84ff")
    window.classes.recolour("dead")
    assert window.canvas.points_layer.classes.scatters[1].opts["brush"].color().name() == "#0a84ff"
    assert _settings(two_class_folder)["classes"][1]["colour"] == "#0a84ff"
