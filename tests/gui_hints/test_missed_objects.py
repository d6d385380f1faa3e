"""Show Missed Objects (M) in the window: the model's objects that no point covers get rings, a second click on
one object a cross, over the residual density; the markers follow every click without running the model again.

The red counter (tests/engine/count_fixtures.py) sees exactly one object per pure-red pixel, so where the
markers belong is known."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.gui.conftest import click, widget_pos

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))  # --import-mode=importlib does not add it
from count_fixtures import (
    pixel_centres,
    red_counter_checkpoint,
    red_counter_registered,
    spread_pixels,
    write_red_image,
)

pytestmark = pytest.mark.slow  # spawns a child process


def test_markers_mark_the_unclicked_object_and_follow_each_click(qtbot, make_window, tmp_path,
                                                                 test_engines_on_path):
    from crowdgui.hints import install

    pixels = spread_pixels(3, 96, 64, spacing=24)
    centres = pixel_centres(pixels)
    folder = tmp_path / "red"
    write_red_image(folder, "a.png", pixels, width=96, height=64, annotated_points=centres[:2])
    with red_counter_registered():
        checkpoint = red_counter_checkpoint(tmp_path / "red.pt", stride=1, density_scale=50.0, sigma=2.0)
    window = make_window(folder)
    window.hints = install(window, chosen_checkpoint=lambda: checkpoint, engine_module="count_fixtures")
    controller = window.hints.missed
    layer = controller.layer

    window.activateWindow()
    window.canvas.setFocus()
    with qtbot.waitSignal(controller.hints_updated, timeout=120000) as updated:
        QTest.keyClick(window.canvas, Qt.Key.Key_M)
    assert controller.toggle_action.isChecked()
    assert updated.args == ["a.png", 1, 0]
    missed, doubled = layer.marker_positions()
    np.testing.assert_allclose(missed, centres[2:], atol=1.0)  # the third red pixel, nobody clicked it
    assert len(doubled) == 0 and layer.residual.isVisible()
    x, y = pixels[2]
    near = lambda image: float(image[max(y - 10, 0):y + 11, max(x - 10, 0):x + 11].sum())
    assert near(layer.residual.image) == pytest.approx(1.0, abs=0.05)  # one object missing there: red
    job = controller.job

    with qtbot.waitSignal(controller.hints_updated, timeout=5000) as updated:
        click(window.canvas, widget_pos(window.canvas, *centres[2]))  # the user clicks the missed object
    assert updated.args == ["a.png", 0, 0]
    assert len(layer.marker_positions()[0]) == 0
    assert near(layer.residual.image) == pytest.approx(0.0, abs=0.05)  # the points make it now: no red

    with qtbot.waitSignal(controller.hints_updated, timeout=5000) as updated:
        click(window.canvas, widget_pos(window.canvas, centres[0][0] + 1.5, centres[0][1]))  # a second click
    assert updated.args == ["a.png", 0, 1]
    np.testing.assert_allclose(layer.marker_positions()[1], [window.session.points.points[3]], atol=0.01)
    assert controller.job is job  # every update came from the kept objects, not a new run of the model

    QTest.keyClick(window.canvas, Qt.Key.Key_M)  # off again
    assert not layer.residual.isVisible() and len(layer.marker_positions()[0]) == 0


def test_without_a_model_m_says_how_to_get_one(qtbot, make_window, blank_folder):
    from crowdgui.hints import install

    window = make_window(blank_folder)
    window.hints = install(window, chosen_checkpoint=lambda: None)
    window.hints.missed.toggle_action.trigger()
    assert not window.hints.missed.toggle_action.isChecked()
    assert window.hints.missed.job is None
    assert window.notice_bar.isVisible() and "Models panel" in window.notice_bar.text_label.text()
