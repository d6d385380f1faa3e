"""Annotating through the window: undo/redo, autosave, save failures and bad files on disk."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from crowdgui import window_feedback
from engine.dataset import Dataset, SidecarError, read_sidecar, sidecar_path
from tests.gui.conftest import click, widget_pos


def _sidecar_count(path):
    try:
        return read_sidecar(path).count
    except SidecarError:  # not written yet (or still the malformed file)
        return None


def _refuse_to_save(*_args, **_kwargs):
    """Dataset.save_points in a read-only folder."""
    raise PermissionError(13, "Permission denied")


def _row_text(window, name):
    model = window.image_list.model
    return model.index(model.row_of(name), 0).data()


def test_undo_and_redo_of_an_added_point(make_window, blank_folder):
    window = make_window(blank_folder)
    canvas, points = window.canvas, window.session.points
    click(canvas, widget_pos(canvas, 60, 70))
    click(canvas, widget_pos(canvas, 90, 20))
    assert points.count == 2
    assert "Add point" in window.undo_action.text()
    window.undo_action.trigger()
    np.testing.assert_allclose(points.points, [(60, 70)], atol=0.5)
    assert canvas.count_label.text() == "1 point"
    window.redo_action.trigger()
    np.testing.assert_allclose(points.points, [(60, 70), (90, 20)], atol=0.5)
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert points.count == 0 and not window.undo_action.isEnabled()


def test_opening_a_folder_without_points_counts_no_image_as_annotated(qtbot, make_window, blank_folder):
    window = make_window(blank_folder)
    summary = window.image_list.summary
    name = window.session.current_name
    assert summary.text().startswith("0 of 3 annotated")
    assert window.image_list.model.index(0, 1).data() == "—"  # shown, but not annotated
    click(window.canvas, widget_pos(window.canvas, 30, 30))
    assert summary.text() == "1 of 3 annotated · 1 points"
    qtbot.waitUntil(lambda: sidecar_path(blank_folder / name).exists(), timeout=3000)
    window.session.step(1)  # showing the next image does not annotate it
    assert summary.text() == "1 of 3 annotated · 1 points"
    assert window.image_list.model.index(1, 1).data() == "—"


def test_autosave_writes_the_sidecar_and_clears_the_unsaved_marker(qtbot, make_window, blank_folder):
    window = make_window(blank_folder)
    name = window.session.current_name
    sidecar = sidecar_path(blank_folder / name)
    assert not window.isWindowModified()
    click(window.canvas, widget_pos(window.canvas, 40.5, 30.25))
    # Marked unsaved at once: the title's [*] and the image list's "*".
    assert window.isWindowModified() and _row_text(window, name) == f"{name} *"
    assert "[*]" in window.windowTitle()
    qtbot.waitUntil(lambda: _sidecar_count(sidecar) == 1, timeout=3000)
    np.testing.assert_allclose(read_sidecar(sidecar).points, [(40.5, 30.25)], atol=0.5)
    qtbot.waitUntil(lambda: not window.isWindowModified(), timeout=1000)
    assert _row_text(window, name) == name
    assert window.status_fields.state == "saved"


def test_a_read_only_folder_reports_once_and_keeps_the_points(qtbot, monkeypatch, make_window, blank_folder):
    window = make_window(blank_folder)
    name = window.session.current_name
    shown = []

    monkeypatch.setattr(Dataset, "save_points", _refuse_to_save)
    real_message = window_feedback.show_message

    def record(*args, **kwargs):
        box = real_message(*args, **kwargs)
        shown.append(box.text())
        return box

    monkeypatch.setattr(window_feedback, "show_message", record)
    click(window.canvas, widget_pos(window.canvas, 20, 20))
    qtbot.waitUntil(lambda: window.status_fields.state == "failed", timeout=3000)
    click(window.canvas, widget_pos(window.canvas, 50, 50))  # tries again after the next edit
    qtbot.wait(300)
    window.save_now()
    assert len(shown) == 1, "the failure is explained once, not after every retry"
    assert "read-only" in shown[0] and name in shown[0]
    assert isinstance(window.last_message, QMessageBox)
    assert window.session.points.count == 2
    assert window.isWindowModified() and _row_text(window, name) == f"{name} *"
    assert not sidecar_path(blank_folder / name).exists()
    # Switching image keeps the unsaved points in memory; coming back shows them.
    window.session.step(1)
    assert window.session.state_of(name).count == 2
    window.session.step(-1)
    assert window.session.points.count == 2
    monkeypatch.undo()
    assert window.session.save_dirty() == []
    assert read_sidecar(sidecar_path(blank_folder / name)).count == 2
    assert not window.isWindowModified()


def test_a_corrupt_image_is_listed_with_its_reason_and_skipped(make_window, blank_folder):
    (blank_folder / "cells_000_broken.png").write_bytes(b"\x89PNG not really an image" * 10)
    window = make_window(blank_folder)
    model = window.image_list.model
    row = model.row_of("cells_000_broken.png")
    assert row == 0
    tooltip = model.index(row, 0).data(3)  # ToolTipRole
    assert "cannot be read" in tooltip and "skipped" in tooltip
    assert model.state("cells_000_broken.png") == "error"
    assert "1 file(s) have problems" in window.notice_bar.text
    assert window.session.current_name == "cells_001.png"  # the first readable image is shown
    window.session.step(-1)  # there is nothing readable before it
    assert window.session.current_name == "cells_001.png"
    assert not window.session.select("cells_000_broken.png")


def test_a_malformed_sidecar_is_reported_kept_and_moved_aside_on_first_save(qtbot, make_window, blank_folder):
    sidecar = sidecar_path(blank_folder / "cells_001.png")
    garbage = b'{"points": [[1, 2], oops'
    sidecar.write_bytes(garbage)
    window = make_window(blank_folder)
    assert window.session.current_name == "cells_001.png"
    assert window.session.points.count == 0
    assert "cells_001.png.points.json" in window.notice_bar.text or "problems" in window.notice_bar.text
    assert window.image_list.model.state("cells_001.png") == "warning"
    qtbot.wait(200)  # longer than the autosave delay: nothing is written without an edit
    assert sidecar.read_bytes() == garbage
    click(window.canvas, widget_pos(window.canvas, 70, 70))
    qtbot.waitUntil(lambda: _sidecar_count(sidecar) == 1, timeout=3000)
    kept = list(blank_folder.glob("cells_001.png.points.json.malformed-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == garbage
    assert kept[0].name in window.notice_bar.text


@pytest.mark.parametrize("kind", ["undo", "clear"])
def test_clearing_all_points_is_one_undoable_step(make_window, synthetic_dataset, kind):
    window = make_window(synthetic_dataset)
    points = window.session.points
    before = points.points.copy()
    assert len(before) >= 10
    window.actions.clear_points.trigger()
    assert points.count == 0
    if kind == "undo":
        window.undo_action.trigger()
        np.testing.assert_array_equal(points.points, before)
    else:
        window.undo_action.trigger()
        window.redo_action.trigger()
        assert points.count == 0


def test_next_unannotated_skips_annotated_and_unsaved_images(make_window, tmp_path):
    from engine.dataset.synthetic import write_synthetic_dataset

    folder = write_synthetic_dataset(tmp_path / "half", images=4, size=(100, 120), counts=(3, 6), annotate=2)
    window = make_window(folder)
    assert window.session.current_name == "cells_001.png"
    window.actions.next_todo.trigger()
    assert window.session.current_name == "cells_003.png"
    click(window.canvas, widget_pos(window.canvas, 50, 50))  # unsaved now: no longer "to do"
    window.actions.next_todo.trigger()
    assert window.session.current_name == "cells_004.png"


def test_closing_with_points_that_cannot_be_saved_asks_first(qtbot, monkeypatch, make_window, blank_folder):
    window = make_window(blank_folder)
    click(window.canvas, widget_pos(window.canvas, 25, 25))
    monkeypatch.setattr(Dataset, "save_points", _refuse_to_save)
    monkeypatch.setattr(window_feedback, "show_message", lambda *_a, **_k: None)
    answers, asked = [QMessageBox.StandardButton.Cancel], []

    def answer(_parent, _title, text, *_args):
        asked.append(text)
        return answers.pop(0)

    monkeypatch.setattr(QMessageBox, "warning", answer)
    window.close()
    assert window.isVisible() and window.session.points.count == 1  # cancelled: nothing dropped
    assert "could not be saved" in asked[0] and "cells_001.png" in asked[0]
    answers.append(QMessageBox.StandardButton.Discard)
    window.close()
    assert not window.isVisible() and len(asked) == 2
