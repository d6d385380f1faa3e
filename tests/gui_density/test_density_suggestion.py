"""The density dock suggests settings from the dataset's points, with the reason; Apply saves them, Undo too."""

import json

import pytest
from PySide6.QtCore import QSettings

import crowdgui.canvas  # noqa: F401  (sets pyqtgraph's image axis order before any ImageItem exists)
from crowdgui.density.controller import install
from crowdgui.density.suggestion import NONE_TEXT, SuggestionWorker
from crowdgui.main_window import MainWindow
from engine.dataset import Dataset
from engine.dataset.synthetic import write_synthetic_dataset
from engine.density import DensitySettings


@pytest.fixture
def window(qtbot, tmp_path):
    win = MainWindow(settings=QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    controller = install(win)
    win.density = controller
    win.show()
    yield win
    controller.preview.wait()
    controller.suggester.pool.waitForDone(5000)
    win.session.close_dataset()


def _cells(tmp_path, **kwargs):
    return write_synthetic_dataset(tmp_path / "cells", images=3, size=(128, 128), counts=(30, 40), seed=4,
                                   **kwargs)


def test_the_dock_shows_the_suggestion_and_its_reason_and_apply_saves_it(window, qtbot, tmp_path):
    folder = _cells(tmp_path)
    expected = Dataset(folder).suggest_density()
    assert expected.settings.mode == "fixed" and expected.settings.sigma != 4.0  # differs from the default
    window.open_folder(folder)
    box = window.density.panel.suggestion_box
    qtbot.waitUntil(lambda: box.suggestion is not None, timeout=5000)
    text = box.label.text()
    assert text.startswith(f"Suggested: fixed sigma {expected.settings.sigma:g} px — because")
    assert "nearest-neighbour distance" in text
    assert box.apply_button.isVisibleTo(box) and not box.undo_button.isVisibleTo(box)

    box.apply_button.click()
    panel = window.density.panel
    assert panel.settings() == expected.settings
    saved = json.loads((folder / "crowdgui.json").read_text())["density"]
    assert saved["mode"] == "fixed" and saved["sigma"] == expected.settings.sigma
    assert "Applied (was fixed sigma 4 px)" in box.label.text() and box.undo_button.isVisibleTo(box)
    assert not box.apply_button.isVisibleTo(box)

    box.undo_button.click()  # back to what was there, saved again
    assert panel.settings() == DensitySettings()
    assert json.loads((folder / "crowdgui.json").read_text())["density"]["sigma"] == 4.0
    assert box.apply_button.isVisibleTo(box) and not box.undo_button.isVisibleTo(box)


def test_a_dataset_with_too_few_points_gets_no_suggestion(window, qtbot, tmp_path):
    window.open_folder(_cells(tmp_path, annotate=False))
    box = window.density.panel.suggestion_box
    qtbot.waitUntil(lambda: box.label.text() == NONE_TEXT, timeout=5000)
    assert not box.apply_button.isVisibleTo(box)


def test_a_result_overtaken_by_a_newer_request_is_dropped(qtbot, tmp_path):
    worker = SuggestionWorker()
    results = []
    worker.ready.connect(results.append)
    worker.request(_cells(tmp_path))
    worker.request(tmp_path / "no such folder")  # the newer request: only its answer may arrive
    failures = []
    worker.failed.connect(failures.append)
    qtbot.waitUntil(lambda: bool(failures), timeout=5000)
    worker.pool.waitForDone(5000)
    qtbot.wait(50)
    assert results == [] and "not a folder" in failures[0]


def test_settings_applied_in_the_training_dialog_show_in_the_density_dock(qtbot, tmp_path):
    from crowdgui.features import build_window

    win = build_window(QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    folder = _cells(tmp_path)
    win.open_folder(folder)
    applied = DensitySettings(mode="adaptive", sigma=5.0, beta=0.4, k=2)
    win.training.density_applied.emit(applied)  # what the dialog's Apply announces, after saving
    assert win.density.panel.settings() == applied and win.session.dataset.settings.density == applied
    win.density.suggester.pool.waitForDone(5000)
    win.density.preview.wait()
    win.session.close_dataset()


def test_switching_images_suggests_again_only_after_an_edit(window, qtbot, tmp_path):
    from crowdgui.annotation.undo import AddPoint

    window.open_folder(_cells(tmp_path))
    box = window.density.panel.suggestion_box
    qtbot.waitUntil(lambda: box.suggestion is not None, timeout=5000)
    asked = []
    window.density.suggester.request = lambda folder: asked.append(folder)
    window.session.step(1)
    assert asked == []  # nothing changed: reading every points file again would be wasted work
    window.session.push(AddPoint(window.session.points, 5.0, 5.0))
    window.session.step(1)
    assert asked == [window.session.dataset.folder]
    window.session.step(-1)
    assert len(asked) == 1
