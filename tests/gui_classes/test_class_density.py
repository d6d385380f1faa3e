"""The density preview per class: the chooser lists All and each class; one class's map holds its points only."""

from __future__ import annotations

import pytest

from crowdgui.density.controller import install
from tests.gui.conftest import blank_folder  # noqa: F401  (a fixture)


@pytest.fixture
def density_window(make_window):
    def make(folder):
        window = make_window()
        controller = install(window)
        controller.preview._timer.setInterval(10)
        window.open_folder(folder)
        return window, controller
    return make


def _wait_for(qtbot, controller, count):
    qtbot.waitUntil(lambda: controller.last_result is not None and controller.last_result.count == count,
                    timeout=5000)
    return controller.last_result


def test_each_class_has_its_own_map_summing_to_its_count(qtbot, density_window, two_class_folder):
    window, controller = density_window(two_class_folder)
    panel = controller.panel
    assert [panel.class_combo.itemText(i) for i in range(panel.class_combo.count())] == ["All classes", "live",
                                                                                       "dead"]
    assert _wait_for(qtbot, controller, 3).integral == pytest.approx(3.0, abs=1e-3)
    panel.class_combo.setCurrentIndex(2)  # dead: one point at (60, 60)
    dead = _wait_for(qtbot, controller, 1)
    assert dead.integral == pytest.approx(1.0, abs=1e-3)
    assert window.canvas.overlay.image.sum() == pytest.approx(1.0, abs=1e-3)
    panel.class_combo.setCurrentIndex(1)
    assert _wait_for(qtbot, controller, 2).integral == pytest.approx(2.0, abs=1e-3)
    window.canvas.points_layer.select([2])  # relabel the dead point as live: the live map follows
    window.classes.relabel_selected()
    assert _wait_for(qtbot, controller, 3).integral == pytest.approx(3.0, abs=1e-3)
    controller.preview.wait()


def test_one_class_datasets_show_no_class_chooser(qtbot, density_window, blank_folder):
    window, controller = density_window(blank_folder)
    _wait_for(qtbot, controller, 0)
    assert controller.panel.class_combo.count() == 0
    assert not controller.panel.class_combo.isVisibleTo(controller.panel)
    controller.preview.wait()
