"""End to end through the complete window (build_window: annotation plus density, training and counting)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from engine.dataset import read_sidecar, sidecar_path
from engine.dataset.synthetic import write_synthetic_dataset
from tests.gui.conftest import click, widget_pos


def test_open_add_undo_next_add_close_leaves_exactly_the_expected_sidecars(qtbot, make_window, tmp_path):
    from crowdgui.features import build_window

    folder = write_synthetic_dataset(tmp_path / "e2e", images=3, size=(120, 160), counts=(5, 10), seed=7,
                                     annotate=1)
    first_points = read_sidecar(sidecar_path(folder / "cells_001.png")).points.copy()
    window = make_window(build=build_window)
    assert window.pages.currentWidget() is window.welcome
    assert window.open_folder(folder)
    assert window.session.current_name == "cells_001.png"
    canvas = window.canvas

    click(canvas, widget_pos(canvas, 10.5, 20.5))
    click(canvas, widget_pos(canvas, 30.0, 40.0))
    window.undo_action.trigger()
    assert window.session.points.count == len(first_points) + 1

    window.activateWindow()
    qtbot.waitActive(window)
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_PageDown)  # next image, from the keyboard
    assert window.session.current_name == "cells_002.png"
    assert window.session.points.count == 0
    click(canvas, widget_pos(canvas, 100.25, 60.75))
    assert window.isWindowModified()

    window.close()
    # Image 1: its own points plus the one kept after the undo; image 2: the one new point; image 3: nothing.
    saved_1 = read_sidecar(sidecar_path(folder / "cells_001.png")).points
    np.testing.assert_allclose(saved_1[:-1], first_points)
    np.testing.assert_allclose(saved_1[-1], (10.5, 20.5), atol=0.5)
    np.testing.assert_allclose(read_sidecar(sidecar_path(folder / "cells_002.png")).points, [(100.25, 60.75)],
                               atol=0.5)
    assert not sidecar_path(folder / "cells_003.png").exists()
    assert sorted(p.name for p in folder.iterdir() if not p.name.endswith(".png")) == [
        "cells_001.png.points.json", "cells_002.png.points.json"]
