"""The window's "Count folder" with a hostile checkpoint: it fails in plain words and the code never runs."""

import sys
from pathlib import Path

import pytest


sys.path.insert(0, str(Path(__file__).parent))
from checkpoint_cases import write_checkpoint_cases
from PySide6.QtCore import QSettings

from crowdgui.counting import install
from crowdgui.counting.count_dialog import CountRequest
from crowdgui.main_window import MainWindow
from engine.dataset.synthetic import write_synthetic_dataset


@pytest.fixture
def window(qtbot, tmp_path):
    win = MainWindow(settings=QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    controller = install(win)
    yield win, controller
    controller.shutdown()


@pytest.mark.parametrize("name, words", [("evil_system.pt", "could run code"),
                                         ("other_architecture.pt", "do not fit the fcrn_a architecture")])
def test_count_with_a_hostile_checkpoint_fails_in_plain_words(qtbot, window, tmp_path, name, words):
    _, controller = window
    marker = tmp_path / "CODE_RAN"
    cases = {case.name: case for case in write_checkpoint_cases(tmp_path / "files", marker)}
    folder = write_synthetic_dataset(tmp_path / "imgs", images=1, size=(32, 32), annotate=False)
    with qtbot.waitSignal(controller.job_finished, timeout=120000) as finished:
        controller.start(CountRequest(folder, cases[name].path, "cpu", tmp_path / "out"))
    assert finished.args[0] == "failed"
    shown = controller.last_message.text()
    assert "The count stopped with an error" in shown and name in shown and words in shown, shown
    assert "Traceback" not in shown + controller.last_message.detailedText()
    assert controller.panel.model.rowCount() == 0
    assert not marker.exists()
