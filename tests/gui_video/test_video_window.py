"""Video in the real window: Count video… runs the engine in a child process, the count-over-time plot fills,
a click on it shows that frame with its heatmap, the exports copy the files; Extract frames adds frames."""

import csv
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPointF, QSettings, Qt

sys.path.insert(0, str(Path(__file__).parent.parent / "engine"))
from count_fixtures import fcrn_checkpoint
from video_fixtures import frame_counts, frame_picture, lossless_video

from crowdgui.main_window import MainWindow
from crowdgui.video import install
from crowdgui.video.dialogs import ExtractRequest, VideoCountRequest
from crowdgui.video.results import VideoResultsPanel
from engine.dataset.store import Dataset

pytestmark = pytest.mark.slow


@pytest.fixture
def window(qtbot, tmp_path):
    win = MainWindow(settings=QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    controller = install(win)
    yield win, controller
    controller.shutdown()


def test_count_video_plots_counts_over_time_and_a_click_shows_the_frame(qtbot, window, tmp_path):
    win, controller = window
    assert controller.count_action in win.menu("&Count").actions()
    assert controller.extract_action in win.menu("&File").actions()
    video = lossless_video(tmp_path / "street.mkv", frame_counts(30))
    checkpoint = fcrn_checkpoint(tmp_path / "model.pt")
    with qtbot.waitSignal(controller.job_finished, timeout=120000) as finished:
        controller.start(VideoCountRequest(video, checkpoint, every=2))
    assert finished.args == ["succeeded"]
    panel = controller.panel
    with open(controller.output_dir / "counts.csv", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    assert panel.frames == list(range(0, 30, 2))
    assert panel.counts == pytest.approx([float(r[2]) for r in rows], abs=1e-3)
    x, y = panel.curve.getData()
    assert list(x) == pytest.approx([i / 10 for i in range(0, 30, 2)]) and len(y) == 15

    # A click on the plot near t = 1.0 s picks frame 10 and shows it with its heatmap.
    with qtbot.waitSignal(controller.frame_shown, timeout=10000) as shown:
        panel.pick_time(1.03)
    assert shown.args == [10]
    assert np.array_equal(panel.canvas.image, frame_picture(frame_counts(30)[10]))
    assert panel.canvas.overlay.image is not None
    assert "Frame 10" in panel.frame_title.text()

    csv_copy, overlay_copy = tmp_path / "copy.csv", tmp_path / "copy.mp4"
    controller.export_csv(csv_copy)
    controller.export_overlay(overlay_copy)
    assert csv_copy.read_text() == (controller.output_dir / "counts.csv").read_text()
    assert overlay_copy.stat().st_size > 0 and panel.export_overlay_button.isEnabled()


def test_a_real_mouse_click_on_the_plot_asks_for_the_nearest_frame(qtbot):
    panel = VideoResultsPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 400)
    panel.show()
    panel.begin("v.mkv")
    for frame in range(5):
        panel.add_count(frame * 3, frame * 0.3, float(frame))
    panel.finish("done", has_overlay=False)
    qtbot.waitExposed(panel.plot)
    view = panel.plot.getPlotItem().vb
    view.setRange(xRange=(0, 1.2), yRange=(0, 4), padding=0)
    scene_point = view.mapViewToScene(QPointF(0.62, 2.0))
    widget_point = panel.plot.mapFromScene(scene_point)
    with qtbot.waitSignal(panel.frame_requested, timeout=3000) as requested:
        qtbot.mouseClick(panel.plot.viewport(), Qt.MouseButton.LeftButton, pos=widget_point)
    assert requested.args == [6, pytest.approx(0.6)]


def test_extract_frames_job_adds_unlabeled_frames_to_the_dataset(qtbot, window, tmp_path):
    _, controller = window
    video = lossless_video(tmp_path / "cam.mkv", frame_counts(10))
    with qtbot.waitSignal(controller.extract_finished, timeout=60000) as finished:
        controller.extract(ExtractRequest(video, tmp_path / "dataset", count=3))
    assert finished.args == ["succeeded"]
    dataset = Dataset(tmp_path / "dataset")
    assert [entry.name for entry in dataset] == ["cam_f000000.png", "cam_f000004.png", "cam_f000009.png"]
    assert {entry.status for entry in dataset} == {"unlabeled"}
