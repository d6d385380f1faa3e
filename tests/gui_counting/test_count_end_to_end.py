"""Counting through the real window: a tiny model really trained, a folder counted in a child process.

The model is trained once per module with ``python -m engine train`` (FCRN-A of width 4, one epoch on CPU);
then the window counts generated folders with it through the "Count folder" dialog and the controller.
"""

import csv
import math
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest
from PIL import Image


from PySide6.QtCore import QSettings  # noqa: E402

from crowdgui.counting import install  # noqa: E402
from crowdgui.counting.controller import COUNTS_CSV  # noqa: E402
from crowdgui.main_window import MainWindow  # noqa: E402
from crowdgui.annotation.undo import AddPoint  # noqa: E402
from engine.dataset.synthetic import write_synthetic_dataset  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(dataset folder, best.pt) of a tiny FCRN-A trained for one epoch by the engine's own command."""
    dataset = write_synthetic_dataset(tmp_path_factory.mktemp("train") / "cells", images=4, size=(64, 64),
                                      counts=(5, 15), seed=4)
    run_dir = dataset / "crowdgui_runs" / "tiny"
    result = subprocess.run(
        [sys.executable, "-m", "engine", "train", str(dataset), "--out", str(run_dir), "--model", "fcrn_a",
         "--width", "4", "--epochs", "1", "--crop", "32", "--batch", "2", "--device", "cpu", "--threads", "1",
         "--events", "jsonl"],
        capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert (run_dir / "best.pt").is_file()
    return dataset, run_dir / "best.pt"


@pytest.fixture
def window(qtbot, tmp_path):
    # Autosave far off: only the window's save-before-count can write a pending edit in time.
    win = MainWindow(settings=QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat),
                     autosave_ms=600000)
    qtbot.addWidget(win)
    controller = install(win)
    yield win, controller
    controller.shutdown()


def _count(qtbot, controller, request, timeout=120000):
    with qtbot.waitSignal(controller.job_finished, timeout=timeout) as finished:
        controller.start(request)
    controller.panel._refresh_summary()  # the coalescing timer may not have fired yet
    return finished.args[0]


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_a_folder_is_counted_from_the_window(qtbot, window, trained, tmp_path):
    win, controller = window
    _, checkpoint = trained
    folder = write_synthetic_dataset(tmp_path / "new", images=5, size=(48, 64), counts=(3, 12), seed=9,
                                     annotate=3)
    assert win.open_folder(folder)
    # An unsaved click on an unannotated image: the count must see it (the window saves before counting).
    assert win.session.select("cells_005.png")
    win.session.push(AddPoint(win.session.points, 10.0, 20.0))
    assert win.session.is_dirty("cells_005.png")

    dialog = controller.make_dialog()
    assert dialog.folder.path() == folder.resolve()  # the open dataset
    dialog.model.set_path(checkpoint)
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    assert dialog.count_button.isEnabled()
    request = dialog.request()
    assert request.output_dir.parent == folder.resolve() / "crowdgui_counts"
    request.output_dir = tmp_path / "results"
    assert _count(qtbot, controller, request) == "succeeded"

    panel = controller.panel
    engine_csv = _read_csv(tmp_path / "results" / COUNTS_CSV)
    rows = {row.image: row for row in panel.model.rows}
    names = [f"cells_{i:03d}.png" for i in range(1, 6)]
    assert sorted(rows) == sorted(r["image"] for r in engine_csv) == names
    for line in engine_csv:
        row = rows[line["image"]]
        assert f"{row.count:.3f}" == line["count"]
        assert (row.annotated_count is None) == (line["annotated_count"] == "")
    assert rows["cells_005.png"].annotated_count == 1 and rows["cells_004.png"].annotated_count is None
    errors = [abs(float(r["error"])) for r in engine_csv if r["error"]]
    assert len(errors) == 4
    mae = sum(errors) / len(errors)
    rmse = math.sqrt(sum(e * e for e in errors) / len(errors))
    assert re.search(rf"MAE <b>{mae:.2f}</b> · RMSE <b>{rmse:.2f}</b> on 4 annotated", panel.summary.text())
    assert panel.scatter.dots.data.size == 4  # one dot per annotated image

    # Selecting a row shows that image with its predicted density, in the dock's own canvas.
    viewer = panel.viewer
    with qtbot.waitSignal(viewer.loaded, timeout=10000):
        panel.select_image(str(rows["cells_002.png"].path))
    assert viewer.canvas.image.shape == (48, 64, 3)
    assert viewer.canvas.overlay.isVisible() and viewer.canvas.overlay.image.shape == (48, 64)
    assert "cells_002.png" in viewer.title.text()
    assert not win.canvas.overlay.isVisible()  # the annotation canvas is left alone
    with qtbot.waitSignal(viewer.loaded, timeout=10000):
        viewer.show_points.setChecked(True)
    assert viewer.current.points is not None and viewer.points.data.size == len(viewer.current.points)

    # Save As copies the engine's CSV; overlays and the HDF5 bundle are written in a worker thread.
    with qtbot.waitSignal(controller.exporter.succeeded, timeout=10000):
        controller.export_csv(tmp_path / "saved.csv")
    assert (tmp_path / "saved.csv").read_bytes() == (tmp_path / "results" / COUNTS_CSV).read_bytes()
    with qtbot.waitSignal(controller.exporter.succeeded, timeout=30000):
        controller.export_overlays(tmp_path / "overlays", panel.selected_rows())
    assert [p.name for p in (tmp_path / "overlays").iterdir()] == ["cells_002.png.overlay.png"]
    assert Image.open(tmp_path / "overlays" / "cells_002.png.overlay.png").size == (64, 48)
    with qtbot.waitSignal(controller.exporter.succeeded, timeout=30000):
        controller.export_bundle(tmp_path / "maps.h5")
    with h5py.File(tmp_path / "maps.h5", "r") as bundle:
        assert len(bundle["density"]) == 5
        saved = bundle["density/cells_004.png"]
        assert float(saved[()].sum()) == pytest.approx(rows["cells_004.png"].count, rel=1e-4)
        np.testing.assert_array_equal(saved[()], np.load(rows["cells_004.png"].density_path))

    # Double-clicking a row opens that image for annotation in the main view.
    assert controller.annotate(rows["cells_004.png"])
    assert win.session.current_name == "cells_004.png" and win.canvas.image.shape == (48, 64, 3)

    # The results never write annotations: the unannotated image still has no sidecar.
    assert sorted(p.name for p in folder.glob("*.points.json")) == [
        f"cells_{i:03d}.png.points.json" for i in (1, 2, 3, 5)]


def test_a_bad_file_is_listed_and_the_rest_counted(qtbot, window, trained, tmp_path):
    _, controller = window
    _, checkpoint = trained
    folder = write_synthetic_dataset(tmp_path / "mixed", images=3, size=(40, 40), seed=2, annotate=False)
    (folder / "broken.png").write_bytes(b"this is not a PNG")
    from crowdgui.counting.count_dialog import CountRequest

    outcome = _count(qtbot, controller, CountRequest(folder, checkpoint, "cpu", tmp_path / "out"))
    assert outcome == "succeeded"
    panel = controller.panel
    counted = sorted(row.image for row in panel.model.rows)
    assert counted == ["cells_001.png", "cells_002.png", "cells_003.png"]
    assert [name for name, _ in panel.problems] == ["broken.png"]
    assert "not a readable image" in panel.problem_list.item(0).text()
    assert panel.tabs.tabText(1) == "Problems (1)"
    assert "no annotated images" in panel.summary.text()
    assert panel.metrics() == (0, None, None)
    assert not controller.annotate(panel.model.rows[0])  # not in the open folder (none is open)


def test_a_damaged_model_fails_in_plain_words(qtbot, window, tmp_path):
    win, controller = window
    folder = write_synthetic_dataset(tmp_path / "imgs", images=1, size=(32, 32), annotate=False)
    damaged = tmp_path / "best.pt"
    damaged.write_bytes(b"not a checkpoint")
    from crowdgui.counting.count_dialog import CountRequest

    assert _count(qtbot, controller, CountRequest(folder, damaged, "cpu", tmp_path / "out")) == "failed"
    assert "Counting failed" in controller.panel.status.text()
    assert "The count stopped with an error:\n\nbest.pt: " in controller.last_message.text()
    assert controller.panel.model.rowCount() == 0


def test_cancel_stops_the_count_and_keeps_what_was_counted(qtbot, window, trained, tmp_path):
    _, controller = window
    _, checkpoint = trained
    folder = write_synthetic_dataset(tmp_path / "many", images=60, size=(128, 128), counts=(5, 10), seed=5,
                                     annotate=False)
    from crowdgui.counting.count_dialog import CountRequest

    panel = controller.panel
    with qtbot.waitSignal(controller.job_finished, timeout=120000) as finished:
        controller.start(CountRequest(folder, checkpoint, "cpu", tmp_path / "out"))
        assert not panel.cancel_button.isHidden()
        qtbot.waitUntil(lambda: len(panel.model.rows) >= 1, timeout=60000)
        controller.cancel()
    assert finished.args[0] == "cancelled"
    counted = len(panel.model.rows)
    assert 1 <= counted < 60
    assert "Cancelled" in panel.status.text()
    assert not controller.is_running()
    assert not (tmp_path / "out" / COUNTS_CSV).exists()  # the engine never leaves a half CSV under the name
    with qtbot.waitSignal(controller.exporter.succeeded, timeout=10000):
        controller.export_csv(tmp_path / "so_far.csv")
    assert len(_read_csv(tmp_path / "so_far.csv")) == counted

    # Cancel at once, while the child is still starting: nothing counted, nothing left running.
    with qtbot.waitSignal(controller.job_finished, timeout=60000) as finished:
        controller.start(CountRequest(folder, checkpoint, "cpu", tmp_path / "again"))
        controller.cancel()
    assert finished.args[0] == "cancelled" and panel.model.rowCount() == 0
    assert panel.status.text() == "Cancelled before any image was counted"
    assert not controller.is_running()


def test_class_columns_follow_the_models_channel_order(qtbot, window, tmp_path):
    # A result's per-class dict reaches the window through a Qt signal as a map, whose keys Qt sorts: the
    # columns must come from the start event's list (channel order), not from those keys.
    _, controller = window
    controller._on_event({"type": "start", "total": 1, "stride": 1, "classes": ["zebra", "ant"]})
    controller._on_event({"type": "result", "image": "a.png", "path": str(tmp_path / "a.png"), "count": 3.0,
                          "counts_per_class": {"ant": 1.0, "zebra": 2.0}})
    assert controller.panel.model.class_names == ["zebra", "ant"]
    assert controller.panel.model.rows[0].class_counts == {"ant": 1.0, "zebra": 2.0}
