"""The recovery journal keeps the points' classes: a relabel is journaled, and restoring brings labels back."""

from __future__ import annotations

from crowdgui.main_window import MainWindow
from engine.dataset.recovery import RecoveryJournal


def _window(qtbot, settings, folder):
    window = MainWindow(settings, autosave_ms=10**8)  # no autosave: the journal is all there is
    qtbot.addWidget(window)
    window.show()
    assert window.open_folder(folder)
    return window


def test_a_relabel_is_journaled(qtbot, settings, two_class_folder):
    window = _window(qtbot, settings, two_class_folder)
    window.canvas.points_layer.select([0])
    window.classes.activate("dead")
    window.classes.relabel_selected()
    window.recovery.flush()
    journal = RecoveryJournal(two_class_folder)
    assert journal.read(journal.path_for("cells_001.png")).labels == ["dead", "live", "dead"]


def test_journaled_labels_are_restored_after_a_crash(qtbot, settings, two_class_folder):
    # What a window that died after that relabel leaves behind (the file still says live, live, dead).
    RecoveryJournal(two_class_folder).write("cells_001.png", [[20, 20], [40, 40], [60, 60]],
                                            labels=["dead", "live", "dead"])
    again = _window(qtbot, settings, two_class_folder)
    assert [edits.labels for edits in again.recovery.found] == [["dead", "live", "dead"]]
    assert again.recovery.restore() == ["cells_001.png"]
    assert again.session.points.labels == ["dead", "live", "dead"]
    again.undo_action.trigger()
    assert again.session.points.labels == ["live", "live", "dead"]


def test_a_journal_whose_only_change_is_a_label_is_still_offered(tmp_path, two_class_folder):
    journal = RecoveryJournal(two_class_folder)
    journal.write("cells_001.png", [[20, 20], [40, 40], [60, 60]], labels=["live", "live", "dead"])
    assert journal.pending(["cells_001.png"])[0] == []  # equal to the file: nothing lost, deleted
    journal.write("cells_001.png", [[20, 20], [40, 40], [60, 60]], labels=["live", "dead", "dead"])
    found = journal.pending(["cells_001.png"])[0]
    assert len(found) == 1 and found[0].labels == ["live", "dead", "dead"]
