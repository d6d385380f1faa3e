"""The density dock installed in the real main window: the overlay follows the points, settings are saved."""

import json

import numpy as np
import pytest
from PySide6.QtCore import QSettings

import crowdgui.canvas  # noqa: F401  (sets pyqtgraph's image axis order before any ImageItem exists)
from crowdgui.density.controller import install
from crowdgui.main_window import MainWindow
from crowdgui.annotation.undo import AddPoint, MovePoint
from engine.dataset import Dataset
from engine.dataset.synthetic import write_synthetic_dataset


@pytest.fixture
def window(qtbot, tmp_path):
    win = MainWindow(settings=QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    controller = install(win)
    controller.preview._timer.setInterval(10)  # keep the tests quick; the debounce itself is tested apart
    win.density = controller
    win.show()
    yield win
    controller.preview.wait()
    win.session.close_dataset()


def _folder(tmp_path, annotate=True):
    return write_synthetic_dataset(tmp_path / "cells", images=2, size=(96, 128), counts=(5, 12), seed=3,
                                   annotate=annotate)


def _wait_for_map(qtbot, controller, count):
    qtbot.waitUntil(lambda: controller.last_result is not None and controller.last_result.count == count,
                    timeout=5000)
    return controller.last_result


def _centre_of_mass(density, stride=1):
    rows, cols = np.indices(density.shape)
    total = density.sum()
    return ((cols + 0.5) * stride * density).sum() / total, ((rows + 0.5) * stride * density).sum() / total


def test_install_adds_dock_and_view_menu_toggle(window):
    controller = window.density
    assert controller.dock.widget() is controller.panel
    view_actions = window.menu("View").actions()
    assert controller.overlay_action in view_actions
    panel_toggles = [a.text() for a in window.panels_menu.actions()]
    assert "Density" in panel_toggles
    # The menu toggle and the panel's check box are one switch.
    controller.overlay_action.setChecked(False)
    assert not controller.panel.overlay_check.isChecked()
    controller.panel.overlay_check.setChecked(True)
    assert controller.overlay_action.isChecked()


def test_overlay_appears_and_follows_an_added_point(window, qtbot, tmp_path):
    controller, canvas, session = window.density, window.canvas, window.session
    window.open_folder(_folder(tmp_path, annotate=False))  # images without points
    qtbot.waitUntil(lambda: controller.last_result is not None, timeout=5000)
    assert controller.panel.summary_label.text() == "points 0 · density integral 0.0"

    session.push(AddPoint(session.points, 30.5, 40.5))
    result = _wait_for_map(qtbot, controller, 1)
    assert canvas.overlay.isVisible()
    shown = canvas.overlay.image
    assert shown.sum() == pytest.approx(1.0, abs=1e-4)
    assert _centre_of_mass(shown) == pytest.approx((30.5, 40.5), abs=0.05)
    assert result.levels[0] == 0 and result.levels[1] > 0
    assert "points 1 · density integral 1.0" in controller.panel.summary_label.text()

    session.push(AddPoint(session.points, 100.25, 70.75))
    _wait_for_map(qtbot, controller, 2)
    assert canvas.overlay.image.sum() == pytest.approx(2.0, abs=1e-4)
    assert _centre_of_mass(canvas.overlay.image) == pytest.approx(((30.5 + 100.25) / 2, (40.5 + 70.75) / 2),
                                                                  abs=0.05)
    assert "points 2 · density integral 2.0" in controller.panel.summary_label.text()

    # Moving the first point drags its mass along; undo brings it back.
    session.push(MovePoint(session.points, 0, 60.0, 20.0))
    qtbot.waitUntil(lambda: _centre_of_mass(canvas.overlay.image)[0] == pytest.approx((60 + 100.25) / 2, abs=0.05),
                    timeout=5000)
    session.undo_group.undo()
    qtbot.waitUntil(lambda: _centre_of_mass(canvas.overlay.image)[0] == pytest.approx((30.5 + 100.25) / 2,
                                                                                      abs=0.05), timeout=5000)


def test_overlay_toggle_hides_and_shows_the_map(window, qtbot, tmp_path):
    controller, canvas = window.density, window.canvas
    window.open_folder(_folder(tmp_path))
    count = window.session.points.count
    _wait_for_map(qtbot, controller, count)
    assert canvas.overlay.isVisible()
    controller.panel.overlay_check.setChecked(False)
    assert not canvas.overlay.isVisible()
    controller.panel.overlay_check.setChecked(True)
    qtbot.waitUntil(canvas.overlay.isVisible, timeout=5000)
    assert canvas.overlay.image.sum() == pytest.approx(count, abs=1e-3)


def test_overlay_is_transparent_where_there_is_no_density(window, qtbot, tmp_path):
    controller, canvas = window.density, window.canvas
    window.open_folder(_folder(tmp_path))
    _wait_for_map(qtbot, controller, window.session.points.count)
    lut = canvas.overlay.lut
    assert lut[0, 3] == 0 and lut[-1, 3] == 255
    # Opacity slider drives the overlay item.
    controller.panel.opacity_slider.setValue(25)
    assert canvas.overlay.opacity() == pytest.approx(0.25)


def test_settings_changes_recompute_and_are_saved_with_the_dataset(window, qtbot, tmp_path):
    controller, panel = window.density, window.density.panel
    folder = _folder(tmp_path)
    window.open_folder(folder)
    count = window.session.points.count
    first = _wait_for_map(qtbot, controller, count)
    assert not panel.beta_spin.isEnabled() and not panel.k_spin.isEnabled()

    panel.sigma_spin.setValue(9.0)
    qtbot.waitUntil(lambda: controller.last_result is not first, timeout=5000)
    wider = controller.last_result
    assert wider.density.max() < first.density.max()  # a wider kernel is lower
    assert wider.integral == pytest.approx(count, abs=1e-3)
    saved = json.loads((folder / "crowdgui.json").read_text())
    assert saved["density"]["sigma"] == 9.0 and saved["density"]["mode"] == "fixed"

    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData("adaptive"))
    assert panel.beta_spin.isEnabled() and panel.k_spin.isEnabled()
    panel.k_spin.setValue(2)
    panel.beta_spin.setValue(0.5)
    qtbot.waitUntil(lambda: controller.last_result is not wider, timeout=5000)
    saved = json.loads((folder / "crowdgui.json").read_text())["density"]
    assert saved == {"mode": "adaptive", "sigma": 9.0, "beta": 0.5, "k": 2}
    # Training reads the same file: the engine's Dataset sees the new settings.
    assert Dataset(folder).settings.density.mode == "adaptive"


def test_settings_are_loaded_when_a_dataset_opens(window, qtbot, tmp_path):
    folder = _folder(tmp_path)
    (folder / "crowdgui.json").write_text(json.dumps(
        {"format": "crowdgui-dataset", "version": 1, "density": {"mode": "adaptive", "sigma": 6.5, "beta": 0.2,
                                                                 "k": 5}}))
    window.open_folder(folder)
    panel = window.density.panel
    assert panel.settings().mode == "adaptive" and panel.sigma_spin.value() == 6.5
    assert panel.beta_spin.value() == pytest.approx(0.2) and panel.k_spin.value() == 5
    # Loading is not a change: the file is left exactly as it was.
    assert json.loads((folder / "crowdgui.json").read_text())["density"]["k"] == 5
    assert "val_fraction" not in (folder / "crowdgui.json").read_text()


def test_a_failed_save_shows_a_message(window, qtbot, tmp_path, monkeypatch):
    folder = _folder(tmp_path)
    window.open_folder(folder)

    def refuse():
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(window.session.dataset, "save_settings", refuse)
    window.density.panel.sigma_spin.setValue(7.0)
    message = window.density.panel.message_label.text()
    assert "could not be saved" in message and "read-only" in message
    # The new settings are still used for the preview.
    qtbot.waitUntil(lambda: window.density.last_result is not None
                    and window.density.last_result.integral > 0, timeout=5000)


def test_switching_image_never_shows_the_previous_images_map(window, qtbot, tmp_path):
    controller, session, canvas = window.density, window.session, window.canvas
    window.open_folder(_folder(tmp_path))
    names = session.dataset.names()
    _wait_for_map(qtbot, controller, session.points.count)
    session.select(names[1])
    assert controller.last_result is None and not canvas.overlay.isVisible()
    expected = session.points.count
    _wait_for_map(qtbot, controller, expected)
    assert canvas.overlay.image.sum() == pytest.approx(expected, abs=1e-3)
    window.close_folder()
    assert not canvas.overlay.isVisible()
    assert controller.panel.summary_label.text() == "No image"


def test_overlay_look_is_remembered(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat)
    first = MainWindow(settings=settings)
    qtbot.addWidget(first)
    panel = install(first).panel
    panel.colormap_combo.setCurrentText("Viridis")
    panel.scale_combo.setCurrentText("Linear")
    panel.opacity_slider.setValue(40)
    panel.overlay_check.setChecked(False)
    second = MainWindow(settings=settings)
    qtbot.addWidget(second)
    again = install(second).panel
    assert (again.colormap(), again.scale(), again.opacity(), again.overlay_visible()) == (
        "Viridis", "Linear", 0.4, False)
