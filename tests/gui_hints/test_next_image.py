"""Next Image to Annotate (N) in the window: the model's ranking opens the image it is least sure of, N goes on
down the ranking past images that got points, the Images panel shows each image's uncertainty; without a model
N keeps the folder's order and says how to get one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from engine.dataset.synthetic import write_synthetic_dataset
from tests.gui.conftest import click, widget_pos

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))  # --import-mode=importlib does not add it
from count_fixtures import red_counter_checkpoint, red_counter_registered, spread_pixels, write_red_image

pytestmark = pytest.mark.slow  # spawns child processes

SCORES = {"cells_001.png": 0.5, "cells_002.png": 4.0, "cells_003.png": 1.5, "cells_004.png": 2.5}


def _window_with_hints(make_window, folder, checkpoint, engine_module):
    from crowdgui.hints import install

    window = make_window(folder)
    window.hints = install(window, chosen_checkpoint=lambda: checkpoint, engine_module=engine_module)
    return window


def _press_n(qtbot, window) -> None:
    window.activateWindow()
    window.canvas.setFocus()
    QTest.keyClick(window.canvas, Qt.Key.Key_N)


def test_n_opens_the_images_in_the_models_order_and_skips_those_given_points(qtbot, make_window, tmp_path,
                                                                           test_engines_on_path):
    folder = write_synthetic_dataset(tmp_path / "cells", images=4, size=(96, 128), counts=(5, 10), seed=2,
                                     annotate=False)
    scores = tmp_path / "scores.json"
    scores.write_text(json.dumps(SCORES), encoding="utf-8")
    window = _window_with_hints(make_window, folder, scores, "fake_suggest_engine")
    controller = window.hints.next_image
    uncertainty_column = 2
    assert window.image_list.view.isColumnHidden(uncertainty_column)

    with qtbot.waitSignal(controller.job_finished, timeout=60000) as finished:
        _press_n(qtbot, window)
    assert finished.args == ["succeeded"]
    assert [name for name, _ in controller.ranking] == ["cells_002.png", "cells_004.png", "cells_003.png",
                                                        "cells_001.png"]
    assert window.session.current_name == "cells_002.png"
    assert window.statusBar().currentMessage() == ("Next: cells_002.png, the model is least sure of it "
                                                   "(±4.0 objects)")
    assert not window.image_list.view.isColumnHidden(uncertainty_column)
    row = window.image_list.model.row_of("cells_004.png")
    assert window.image_list.model.index(row, uncertainty_column).data() == "±2.5"

    window.session.select("cells_004.png")  # the user annotates the second one on their own
    click(window.canvas, widget_pos(window.canvas, 20.5, 30.5))
    assert window.session.points.count == 1
    window.session.select("cells_002.png")
    job = controller.job
    _press_n(qtbot, window)
    assert window.session.current_name == "cells_003.png"  # cells_004 has points now
    assert "number 3 of 4" in window.statusBar().currentMessage()
    assert controller.job is job  # the ranking was reused, the model not run again
    _press_n(qtbot, window)
    assert window.session.current_name == "cells_001.png"


def test_n_runs_the_real_suggest_command_with_the_chosen_model(qtbot, make_window, tmp_path,
                                                              test_engines_on_path):
    folder = tmp_path / "red"
    three = spread_pixels(3, 64, 48)
    write_red_image(folder, "a.png", three, annotated_points=three + 0.5)
    write_red_image(folder, "b.png", spread_pixels(5, 64, 48))
    write_red_image(folder, "c.png", spread_pixels(2, 64, 48))
    with red_counter_registered():
        checkpoint = red_counter_checkpoint(tmp_path / "red.pt", stride=4)
    window = _window_with_hints(make_window, folder, checkpoint, "count_fixtures")
    controller = window.hints.next_image
    with qtbot.waitSignal(controller.job_finished, timeout=120000) as finished:
        _press_n(qtbot, window)
    assert finished.args == ["succeeded"], controller.job.failure_summary()
    # The red counter counts every flip alike: no spread, so the folder's order among the unannotated.
    assert controller.ranking == [("b.png", 0.0), ("c.png", 0.0)]
    assert window.session.current_name == "b.png"


def test_without_a_model_n_keeps_the_folders_order_and_says_how_to_get_one(qtbot, make_window, blank_folder):
    window = _window_with_hints(make_window, blank_folder, None, "engine")
    first = window.session.current_name
    _press_n(qtbot, window)
    assert window.hints.next_image.job is None
    assert window.session.current_name != first
    assert "Models panel" in window.statusBar().currentMessage()
