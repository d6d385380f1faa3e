"""The counting results dock, counting a folder with bad files mixed in, through the real child process.

Every good image gets a row; every bad file (found at the scan, on decoding, or a folder named like an image)
is in the dock's Problems tab with its reason, and the summary counts them.
"""

import sys
from pathlib import Path

import pytest


from PySide6.QtCore import QSettings

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "engine"))

from count_fixtures import fcrn_checkpoint
from hostile_images import write_image_cases

from crowdgui.counting import install
from crowdgui.counting.count_dialog import CountRequest
from crowdgui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path):
    win = MainWindow(settings=QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat),
                     autosave_ms=600000)
    qtbot.addWidget(win)
    controller = install(win)
    yield win, controller
    controller.shutdown()


def test_the_results_dock_lists_every_bad_file_with_its_reason(qtbot, window, tmp_path):
    _, controller = window
    folder = tmp_path / "mixed"
    cases = write_image_cases(folder)
    (folder / "x.jpg").mkdir()
    bad = {case.name: case.error for case in cases if not case.good} | {"x.jpg": "folder, not an image"}
    good = {case.name for case in cases if case.good}
    checkpoint = fcrn_checkpoint(tmp_path / "fcrn.pt", width=4)

    request = CountRequest(folder=folder, checkpoint=checkpoint, device="cpu", output_dir=tmp_path / "out")
    with qtbot.waitSignal(controller.job_finished, timeout=120000) as finished:
        controller.start(request)
    assert finished.args[0] == "succeeded"
    panel = controller.panel
    panel._refresh_summary()  # the coalescing timer may not have fired yet

    assert {row.image for row in panel.model.rows} == good
    listed = {}
    for name, reason in panel.problems:
        listed.setdefault(name, []).append(reason)
    assert set(listed) == set(bad)
    for name, words in bad.items():
        assert any(words in reason for reason in listed[name]), (name, listed[name])
    assert panel.problem_list.count() == len(panel.problems)
    assert f"Problems ({len(panel.problems)})" == panel.tabs.tabText(1)
    assert f"<b>{len(panel.problems)}</b> problems" in panel.summary.text()
