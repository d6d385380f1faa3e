"""The recovery journal in one process: when it is written and removed, and hostile or stale journal files."""

import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pytest


sys.path.insert(0, str(Path(__file__).parent))
import recovery_harness as harness
from PySide6.QtCore import QSettings

from crowdgui.main_window import MainWindow
from crowdgui.annotation.recovery import JOURNAL_DELAY_MS
from crowdgui.annotation.undo import AddPoint
from engine.dataset import Dataset, read_sidecar, sidecar_path
from engine.dataset.recovery import RecoveryJournal


@pytest.fixture
def open_window(qtbot, tmp_path):
    def make(folder, autosave_ms=10**8):
        window = MainWindow(QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat),
                            autosave_ms=autosave_ms)
        qtbot.addWidget(window)
        window.show()
        assert window.open_folder(folder)
        return window

    return make


def _journaled(folder: Path, name: str) -> np.ndarray | None:
    journal = RecoveryJournal(folder)
    path = journal.path_for(name)
    return journal.read(path).points if path.exists() else None


def test_a_stream_of_clicks_is_journaled_while_autosave_keeps_waiting(qtbot, tmp_path, open_window):
    """Autosave restarts with every edit; the journal timer does not, so a long stream is journaled too."""
    folder = harness.make_dataset(tmp_path / "data", first_points=10)
    window = open_window(folder, autosave_ms=1500)
    session = window.session
    started = time.monotonic()
    while time.monotonic() - started < 1.2:  # a click every 50 ms: autosave never fires
        window.canvas.point_add_requested.emit(5.0, 5.0)
        qtbot.wait(50)
    assert session.dirty_names() == ["a.png"]
    assert len(read_sidecar(sidecar_path(folder / "a.png")).points) == 10  # not saved yet
    assert window.recovery.writes >= 1.2 * 1000 / JOURNAL_DELAY_MS - 2
    journaled = _journaled(folder, "a.png")
    assert journaled is not None and len(journaled) >= session.points.count - 1.2 * 1000 / 50 / 4
    qtbot.waitUntil(lambda: not session.dirty_names(), timeout=5000)  # the pause: autosave
    assert _journaled(folder, "a.png") is None  # a save removes the journal file
    assert not RecoveryJournal(folder).folder.exists() or not any(RecoveryJournal(folder).folder.iterdir())


def test_undoing_back_to_the_saved_points_removes_the_journal(qtbot, tmp_path, open_window):
    folder = harness.make_dataset(tmp_path / "data", first_points=10)
    window = open_window(folder)
    session = window.session
    session.push(AddPoint(session.points, 1.0, 2.0))
    qtbot.waitUntil(lambda: _journaled(folder, "a.png") is not None, timeout=3000)
    assert len(_journaled(folder, "a.png")) == 11
    session.undo_group.undo()
    qtbot.waitUntil(lambda: _journaled(folder, "a.png") is None, timeout=3000)


def test_closing_after_choosing_to_drop_unsaved_points_removes_their_journal(qtbot, tmp_path, open_window):
    folder = harness.make_dataset(tmp_path / "data", first_points=10)
    window = open_window(folder)
    session = window.session
    session.push(AddPoint(session.points, 1.0, 2.0))
    window.recovery.flush()
    assert _journaled(folder, "a.png") is not None
    session.close_dataset()  # what the window does after the user chose Discard in "could not be saved"
    assert _journaled(folder, "a.png") is None


def test_a_journal_equal_to_the_sidecar_is_dropped_silently(tmp_path, open_window):
    """The process died after saving but before removing the journal: nothing was lost, nothing to ask."""
    folder = harness.make_dataset(tmp_path / "data", first_points=10)
    journal = RecoveryJournal(folder)
    annotation = read_sidecar(sidecar_path(folder / "a.png"))
    journal.write("a.png", annotation.points, annotation.proposed)
    journal.write("c.png", np.zeros((0, 2)), np.zeros((0, 2)))  # no points file and nothing unsaved
    window = open_window(folder)
    assert window.recovery_box is None
    assert not journal.path_for("a.png").exists() and not journal.path_for("c.png").exists()


def test_hostile_and_damaged_journal_files_are_set_aside_with_a_notice(tmp_path, open_window):
    folder = harness.make_dataset(tmp_path / "data", first_points=10)
    journal = RecoveryJournal(folder)
    journal.folder.mkdir(parents=True)
    marker = tmp_path / "CODE_RAN"

    class Evil:
        def __reduce__(self):
            import os
            return os.system, (f"touch {marker}",)

    bad = {
        "a.png": pickle.dumps(Evil()),  # not an npz at all
        "b.png": b"",  # empty
    }
    for name, data in bad.items():
        journal.path_for(name).write_bytes(data)
    np.savez(journal.path_for("c.png"), points=np.array([Evil()], dtype=object), proposed=np.zeros((0, 2)),
             meta=np.array('{"format": "crowdgui-recovery", "version": 1, "image": "c.png", "written": 0}'))
    # (an object array: loading it would need pickle, which the journal reader never allows)
    np.savez(journal.folder / "x.npz", points=[[np.nan, 1.0]], proposed=np.zeros((0, 2)),
             meta=np.array('{"format": "crowdgui-recovery", "version": 1, "image": "b.png", "written": 0}'))
    (journal.folder / "x.npz").rename(journal.folder / "zz.png.unsaved.npz")  # names another image, and NaN
    window = open_window(folder)
    assert window.recovery_box is None
    notice = window.notice_bar.text_label.text()
    assert "recovery files of this folder cannot be read" in notice
    for name in ("a.png", "b.png", "c.png", "zz.png"):
        assert f"{name}.unsaved.npz" in notice
        assert (journal.folder / f"{name}.unsaved.npz.unreadable").exists()
    assert not marker.exists()
    assert len(read_sidecar(sidecar_path(folder / "a.png")).points) == 10


def test_edits_of_a_vanished_image_and_a_sidecar_changed_later_are_described(tmp_path, open_window):
    folder = harness.make_dataset(tmp_path / "data", first_points=10)
    journal = RecoveryJournal(folder)
    journal.write("b.png", [[1.0, 1.0]] * 5, np.zeros((0, 2)))
    journal.write("gone.png", [[1.0, 1.0]] * 2, None)
    past = journal.path_for("b.png")
    meta_time = time.time() - 3600
    past_edits = journal.read(past)
    points, proposed = past_edits.points, past_edits.proposed
    np.savez(past.with_name("tmp.npz"), points=points, proposed=proposed,
             meta=np.array('{"format": "crowdgui-recovery", "version": 1, "image": "b.png", '
                           f'"written": {meta_time}, "has_proposed": true}}'))
    past.with_name("tmp.npz").replace(past)  # journaled an hour ago; the sidecar was written since
    window = open_window(folder)
    text = window.recovery_box.text()
    assert "b.png: 5 points (its points file holds 3; the points file was changed after these edits)" in text
    assert "gone.png: 2 points (no points file; the image is no longer in the folder)" in text
    [restore] = [b for b in window.recovery_box.buttons() if b.text() == "Restore"]
    restore.click()
    assert window.session.current_name == "b.png" and window.session.points.count == 5
    notice = window.notice_bar.text_label.text()
    assert "Restored the unsaved points of 1 image(s)" in notice and "Not restored" in notice and "gone.png" in notice
    assert Dataset(folder).entry("b.png").count == 3  # not saved yet: an unsaved edit like any other


def test_killed_mid_stream_the_journal_holds_a_prefix_of_the_clicks(tmp_path):
    """A window adding a point every 40 ms is killed: what comes back is the clicks up to the last journal
    write (at most JOURNAL_DELAY_MS plus one event-loop turn before the kill), in order, nothing invented."""
    folder = harness.make_dataset(tmp_path / "data", first_points=3)
    _, lines = harness.kill_after(folder, "stream", until=lambda lines: lines[-1] == "added 30")
    added = max(int(line.split()[1]) for line in lines if line.startswith("added "))
    found, problems = RecoveryJournal(folder).pending(harness.NAMES)
    assert not problems and [item.image for item in found] == ["a.png"]
    points = found[0].points
    clicks = np.array([[1.0 + i % 50, 2.0 + i // 50] for i in range(added + 1)])  # +1: emitted, not printed
    recovered = len(points) - 3
    assert 30 - 15 <= recovered <= added + 1
    assert np.array_equal(points[:3], read_sidecar(sidecar_path(folder / "a.png")).points)
    assert np.array_equal(points[3:], clicks[:recovered])
    print(f"stream: {added} clicks printed before the kill, {recovered} recovered, {added - recovered} lost")


def test_unsaved_proposals_are_journaled_and_restored_with_the_points(qtbot, tmp_path, open_window):
    """Proposals live in the same undo stack and sidecar as the points: they come back together."""
    from crowdgui.annotation.undo import SetProposals

    folder = harness.make_dataset(tmp_path / "data", first_points=2)
    first = open_window(folder)
    session = first.session
    session.push(SetProposals(session.proposed, [[7.0, 8.0], [9.0, 10.0]]))
    session.push(AddPoint(session.points, 1.0, 1.0))
    first.recovery.flush()
    # The first window is left as a killed process leaves it: journal written, sidecar not.
    first.recovery._written.clear()
    first.session.close_dataset()
    assert read_sidecar(sidecar_path(folder / "a.png")).proposed.size == 0

    second = open_window(folder, autosave_ms=50)
    assert "a.png: 3 points (its points file holds 2; 2 proposed)" in second.recovery_box.text()
    [restore] = [b for b in second.recovery_box.buttons() if b.text() == "Restore"]
    restore.click()
    assert second.session.proposed.points.tolist() == [[7.0, 8.0], [9.0, 10.0]]
    qtbot.waitUntil(lambda: not second.session.dirty_names(), timeout=5000)
    saved = read_sidecar(sidecar_path(folder / "a.png"))
    assert len(saved.points) == 3 and saved.proposed.tolist() == [[7.0, 8.0], [9.0, 10.0]]
    second.session.undo_group.undo()  # one step takes both back
    assert second.session.proposed.count == 0 and second.session.points.count == 2


def test_unsaved_regions_are_journaled_and_restored_with_the_points(qtbot, tmp_path, open_window):
    from crowdgui.annotation.region_undo import AddRegion
    from engine.dataset.regions import rectangle

    folder = harness.make_dataset(tmp_path / "data", first_points=2)
    first = open_window(folder)
    session = first.session
    session.push(AddRegion(session.regions, rectangle("ignore", 1, 2, 30, 40)))
    first.recovery.flush()
    first.recovery._written.clear()  # left as a killed process leaves it: journal written, sidecar not
    first.session.close_dataset()
    assert read_sidecar(sidecar_path(folder / "a.png")).regions == []

    second = open_window(folder, autosave_ms=50)
    assert "a.png: 2 points (its points file holds 2; 1 region)" in second.recovery_box.text()
    [restore] = [b for b in second.recovery_box.buttons() if b.text() == "Restore"]
    restore.click()
    qtbot.waitUntil(lambda: not second.session.dirty_names(), timeout=5000)
    [saved] = read_sidecar(sidecar_path(folder / "a.png")).regions
    assert saved.kind == "ignore" and saved.polygon.tolist() == [[1, 2], [30, 2], [30, 40], [1, 40]]
    second.session.undo_group.undo()
    assert second.session.regions.count == 0


def test_an_unsaved_no_objects_mark_is_journaled_and_restored(qtbot, tmp_path, open_window):
    """Killed before autosave, "annotated: no objects" on an image without a points file is not lost: restored,
    it is saved as the empty file that says so (without the journal the image would stay unlabeled)."""
    from crowdgui.annotation.region_undo import MarkNoObjects

    folder = harness.make_dataset(tmp_path / "data", first_points=2)
    first = open_window(folder)
    session = first.session
    assert session.select("c.png")
    session.push(MarkNoObjects(session.no_objects))
    first.recovery.flush()
    assert RecoveryJournal(folder).read(RecoveryJournal(folder).path_for("c.png")).no_objects
    first.recovery._written.clear()  # left as a killed process leaves it: journal written, sidecar not
    first.session.close_dataset()
    assert not sidecar_path(folder / "c.png").exists()

    second = open_window(folder, autosave_ms=50)
    assert "c.png: marked as holding no objects (no points file)" in second.recovery_box.text()
    [restore] = [b for b in second.recovery_box.buttons() if b.text() == "Restore"]
    restore.click()
    qtbot.waitUntil(lambda: not second.session.dirty_names(), timeout=5000)
    assert second.session.no_objects.value
    saved = read_sidecar(sidecar_path(folder / "c.png"))
    assert saved.empty and not len(saved.points)


def test_a_journaled_no_objects_mark_already_saved_is_dropped_silently(tmp_path):
    folder = harness.make_dataset(tmp_path / "data", first_points=2)
    Dataset(folder).save_points("c.png", [])  # what the mark saves: an empty points file
    journal = RecoveryJournal(folder)
    journal.write("c.png", [], None, no_objects=True)
    found, problems = journal.pending(["a.png", "b.png", "c.png"])
    assert found == [] and problems == [] and not journal.path_for("c.png").exists()
