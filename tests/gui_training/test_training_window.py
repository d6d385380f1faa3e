"""Training from the real main window: dialog -> child process -> monitor -> run history -> model in use.

Real ``python -m engine train`` jobs on generated data, with a tiny network on the CPU (a few seconds each).
"""

import hashlib
import json

import pytest


from PySide6.QtCore import QSettings

from crowdgui.training import install
from crowdgui.training.train_dialog import TrainDialog
from engine.training.runs import list_runs, read_metrics
from engine.dataset.synthetic import write_synthetic_dataset

JOB_TIMEOUT_MS = 90000


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings):
    from crowdgui.main_window import MainWindow

    win = MainWindow(settings=settings)
    win.show()
    yield win
    # Stop a job a failed test left running before closing, else the window would ask whether to stop it.
    if getattr(win, "training", None) is not None:
        win.training.shutdown(wait_ms=20000)
    win.close()
    win.deleteLater()


@pytest.fixture
def training(window):
    window.training = install(window)
    return window.training


@pytest.fixture
def cells(tmp_path):
    return write_synthetic_dataset(tmp_path / "cells", images=8, size=(96, 96), counts=(5, 20), seed=2, annotate=7)


def tiny(dialog: TrainDialog, epochs: int) -> None:
    """The smallest honest training: fcrn_a of width 4 on 64-pixel crops, on the CPU."""
    dialog.model_combo.setCurrentIndex(dialog.model_combo.findData("fcrn_a"))
    dialog.epochs_radio.setChecked(True)
    dialog.epochs_spin.setValue(epochs)
    dialog.device_combo.setCurrentIndex(dialog.device_combo.findData("cpu"))
    dialog.advanced.width_spin.setValue(4)
    dialog.advanced.crop_spin.setValue(64)
    dialog.advanced.batch_spin.setValue(2)


def start_tiny(training, epochs: int):
    dialog = training.make_dialog()
    tiny(dialog, epochs)
    dialog.accept()
    return training.start_from_dialog(dialog), dialog.run_dir


def files_outside_runs(folder):
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


def test_train_through_the_dialog_while_annotating(qtbot, window, training, cells):
    assert window.open_folder(cells)
    assert not training.monitor_dock.isVisible() and training.history.empty_label.isVisibleTo(training.history)
    chosen = []
    training.model_selected.connect(chosen.append)
    events = []
    with qtbot.waitSignal(training.training_finished, timeout=JOB_TIMEOUT_MS) as finished:
        job, run_dir = start_tiny(training, epochs=2)
        job.event_received.connect(events.append)
        assert training.monitor_dock.isVisible() and not training.train_action.isEnabled()
        # The window stays usable: a point added while the model trains is saved as usual.
        window.session.select("cells_002.png")
        before = len(json.loads((cells / "cells_002.png.points.json").read_text())["points"])
        window.point_edits.add(10.0, 12.0)
        assert window.session.save_dirty() == []
    assert finished.args[0] == "succeeded"
    assert run_dir.parent == cells / "crowdgui_runs" and run_dir.name.endswith("-fcrn_a")
    assert events[0]["type"] == "start" and any(e["type"] == "progress" for e in events)
    monitor = training.monitor
    assert monitor.state == "succeeded" and monitor.progress.value() == monitor.progress.maximum()
    assert monitor.curves.losses and monitor.curves.epochs == [1.0, 2.0]
    [run] = training.runs
    assert (run.status, run.model, run.epochs_done, run.train_images + run.val_images) == ("finished", "fcrn_a",
                                                                                            2, 7)
    assert run.best_checkpoint == run_dir / "best.pt" and run.best_checkpoint.is_file()
    assert training.history.table.rowCount() == 1 and training.history.table.item(0, 6).text() == "finished"
    # The first model of a dataset is put to use at once, and remembered for the folder.
    assert training.selected_checkpoint() == run.best_checkpoint.resolve() and chosen == [chosen[0]]
    saved = json.loads((cells / "cells_002.png.points.json").read_text())["points"]
    assert len(saved) == before + 1 and saved[-1] == [10.0, 12.0]


def test_cancel_then_resume_continues_from_the_saved_step(qtbot, window, training, cells):
    window.open_folder(cells)
    epochs = []
    with qtbot.waitSignal(training.training_finished, timeout=JOB_TIMEOUT_MS) as stopped:
        job, run_dir = start_tiny(training, epochs=60)
        job.event_received.connect(lambda e: epochs.append(e) if e["type"] == "epoch" else None)
        qtbot.waitUntil(lambda: bool(epochs), timeout=JOB_TIMEOUT_MS)
        training.cancel_action.trigger()
        assert training.monitor.state == "stopping" and not training.cancel_action.isEnabled()
    assert stopped.args[0] == "cancelled" and training.monitor.state == "cancelled"
    [run] = training.runs
    assert run.status == "stopped" and run.can_resume and training.resume_action.isEnabled()
    saved_step = [r for r in read_metrics(run_dir) if r["type"] == "done"][-1]["steps"]
    assert 0 < saved_step < 60 * 4

    with qtbot.waitSignal(training.training_finished, timeout=JOB_TIMEOUT_MS) as resumed:
        training.resume_action.trigger()
        # The resumed monitor starts with the curve of the epochs already done.
        assert training.monitor.curves.epochs and training.monitor.state == "starting"
    assert resumed.args[0] == "succeeded"
    starts = [r for r in read_metrics(run_dir) if r["type"] == "start"]
    assert len(starts) == 2 and starts[1]["resumed_from_step"] == saved_step
    [run] = list_runs(cells)
    assert run.status == "finished" and run.epochs_done == 60


def test_a_dataset_without_annotations_fails_in_plain_words_and_is_left_alone(qtbot, window, training, tmp_path):
    empty = write_synthetic_dataset(tmp_path / "empty", images=3, size=(64, 64), counts=(1, 3), annotate=False)
    window.open_folder(empty)
    dialog = training.make_dialog()
    assert not dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()
    assert "No annotated image" in dialog.problem_label.text()
    before = files_outside_runs(empty)
    notices = []
    training.notice.connect(lambda level, text: notices.append((level, text)))
    run_dir = empty / "crowdgui_runs" / "by-hand"  # what a user could type: the engine must refuse it
    with qtbot.waitSignal(training.training_finished, timeout=JOB_TIMEOUT_MS) as finished:
        training.start(["train", str(empty), "--model", "fcrn_a", "--out", str(run_dir), "--device", "cpu"],
                       run_dir, "Training fcrn_a")
    assert finished.args[0] == "failed"
    monitor = training.monitor
    assert monitor.state == "failed" and monitor.failure.isVisibleTo(monitor)
    assert "no annotated images" in monitor.failure.text() and "no annotated images" in monitor.log.toPlainText()
    assert notices and notices[-1][0] == "error"
    assert files_outside_runs(empty) == before
    [run] = training.runs
    assert run.status == "failed" and "no annotated images" in run.message
    assert training.history.table.item(0, 6).text() == "failed"


def test_a_bad_flag_shows_the_engine_usage_and_leaves_no_empty_run(qtbot, window, training, cells):
    window.open_folder(cells)
    run_dir = cells / "crowdgui_runs" / "bad"
    run_dir.mkdir(parents=True)
    with qtbot.waitSignal(training.training_finished, timeout=JOB_TIMEOUT_MS) as finished:
        training.start(["train", str(cells), "--out", str(run_dir), "--epochs", "many"], run_dir, "Bad")
    assert finished.args[0] == "failed"
    assert "--epochs" in training.monitor.failure.text() and "invalid int value" in training.monitor.failure.text()
    assert not run_dir.exists() and training.runs == []


def test_closing_the_window_while_training_asks_then_stops_resumably(qtbot, window, training, cells, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    window.open_folder(cells)
    answers = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: answers.pop(0))
    job, run_dir = start_tiny(training, epochs=60)
    qtbot.waitUntil(lambda: (run_dir / "last.pt").exists(), timeout=JOB_TIMEOUT_MS)
    answers.append(QMessageBox.StandardButton.No)
    assert not window.close() and window.isVisible() and job.is_running()
    answers.append(QMessageBox.StandardButton.Yes)
    assert window.close() and not job.is_running()
    [run] = list_runs(cells)
    assert run.status == "stopped" and run.can_resume
