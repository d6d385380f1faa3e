"""A window killed with SIGKILL before autosave: the next window offers the unsaved points back.

The edits are made in a real MainWindow in a child process (tests/robustness/recovery_child.py), which is
killed once the recovery journal holds them and long before its autosave; then a new window opens the folder.
The killed window's journal lock is stale and taken over; a live window's lock keeps its journal from being
offered to a second window on the same folder.
"""

import os
import sys
from pathlib import Path

import numpy as np
import pytest


sys.path.insert(0, str(Path(__file__).parent))
import recovery_harness as harness
from PySide6.QtCore import QSettings

from crowdgui.main_window import MainWindow
from engine.dataset import read_sidecar, sidecar_path
from engine.dataset.recovery import RecoveryJournal


@pytest.fixture
def open_window(qtbot, tmp_path):
    def make(folder):
        window = MainWindow(QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat), autosave_ms=50)
        qtbot.addWidget(window)
        window.show()
        assert window.open_folder(folder)
        return window

    return make


def _press(box, text: str) -> None:
    [button] = [b for b in box.buttons() if b.text() == text]
    button.click()


def _saved(folder: Path, name: str) -> np.ndarray:
    return read_sidecar(sidecar_path(folder / name)).points


def test_unsaved_points_of_a_killed_window_are_restored_undoably_and_saved(qtbot, tmp_path, open_window):
    folder = harness.make_dataset(tmp_path / "data", first_points=50_000)
    before = _saved(folder, "a.png")
    state, _ = harness.kill_after(folder, "add")
    unsaved = np.array(state["a.png"]["points"])
    assert len(unsaved) == 50_005
    assert np.array_equal(_saved(folder, "a.png"), before)  # the kill came before any save

    window = open_window(folder)
    box = window.recovery_box
    assert box is not None and box.isVisible()
    assert "a.png: 50,005 points (its points file holds 50,000)" in box.text()
    _press(box, "Restore")
    session = window.session
    assert session.current_name == "a.png"
    assert np.array_equal(session.points.points, unsaved)
    assert "Restored the unsaved points of 1 image(s)" in window.notice_bar.text_label.text()
    # One undoable step: undo gives what the file held, redo the restored points.
    session.undo_group.undo()
    assert np.array_equal(session.points.points, before)
    session.undo_group.redo()
    assert np.array_equal(session.points.points, unsaved)
    qtbot.waitUntil(lambda: not session.dirty_names(), timeout=10000)  # autosaved like any edit
    assert np.array_equal(_saved(folder, "a.png"), unsaved)
    assert not RecoveryJournal(folder).path_for("a.png").exists()
    window.close()
    assert open_window(folder).recovery_box is None  # nothing is offered twice


def test_discarding_says_what_was_lost_and_keeps_the_saved_file(tmp_path, open_window):
    folder = harness.make_dataset(tmp_path / "data", first_points=4)
    before = _saved(folder, "a.png")
    state, _ = harness.kill_after(folder, "edit")
    edited = np.array(state["a.png"]["points"])
    assert len(edited) == 6 and edited[0].tolist() == [7.25, 8.5]  # 4 + 3 added, one moved, one deleted

    window = open_window(folder)
    assert "a.png: 6 points (its points file holds 4)" in window.recovery_box.text()
    _press(window.recovery_box, "Discard")
    notice = window.notice_bar.text_label.text()
    assert "Discarded the unsaved points of 1 image(s)" in notice and "a.png: 6 points" in notice
    assert np.array_equal(window.session.points.points, before)
    assert np.array_equal(_saved(folder, "a.png"), before)
    assert not RecoveryJournal(folder).path_for("a.png").exists()


def test_two_unsaved_images_are_both_restored(qtbot, tmp_path, open_window):
    """The first image could not be saved when left (read-only folder), the second was being edited."""
    folder = harness.make_dataset(tmp_path / "data", first_points=2)
    state, _ = harness.kill_after(folder, "two")
    assert sorted(state) == ["a.png", "b.png"]

    window = open_window(folder)
    text = window.recovery_box.text()
    assert "a.png: 4 points (its points file holds 2)" in text and "b.png: 7 points (its points file holds 3)" in text
    _press(window.recovery_box, "Restore")
    qtbot.waitUntil(lambda: not window.session.dirty_names(), timeout=10000)
    for name in ("a.png", "b.png"):
        assert np.array_equal(_saved(folder, name), np.array(state[name]["points"])), name
    assert not list(RecoveryJournal(folder).folder.glob("*.unsaved.npz"))


def test_a_folder_open_in_another_live_window_is_not_offered_its_edits(qtbot, tmp_path, open_window):
    """Window A's journal is not a crash leftover while A lives: B warns instead of offering A's points."""
    folder = harness.make_dataset(tmp_path / "data", first_points=2)
    first = open_window(folder)
    assert not (RecoveryJournal(folder).folder / "window.lock").exists()  # opening alone writes nothing
    first.session.select("b.png")
    first.point_edits.add(11.0, 12.0)
    first.recovery.flush()  # journaled (and locked) now, long before its autosave
    assert RecoveryJournal(folder).path_for("b.png").exists()

    second = open_window(folder)
    assert second.recovery_box is None and second.recovery.found == []
    notice = second.notice_bar.text_label.text()
    assert "also open in another CrowdGUI window" in notice and f"process {os.getpid()}" in notice
    assert RecoveryJournal(folder).path_for("b.png").exists()  # A's journal untouched
    second.close()

    first.close()  # saves and releases the lock
    third = open_window(folder)
    assert third.recovery_box is None and "another CrowdGUI window" not in third.notice_bar.text_label.text()
