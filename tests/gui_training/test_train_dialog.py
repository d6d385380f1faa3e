"""The training dialog and the run-history choice of a model, without running a job."""

import json

import pytest


from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

from crowdgui.training.controller import TrainingController
from crowdgui.training.train_dialog import TrainDialog
from engine.dataset import Dataset
from engine.density import DensitySettings
from engine.training.runs import list_runs, runs_folder
from engine.dataset.synthetic import write_synthetic_dataset


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def cells(tmp_path):
    return write_synthetic_dataset(tmp_path / "cells", images=10, size=(48, 48), counts=(2, 5), annotate=8)


def flag(args, name):
    return args[args.index(name) + 1] if name in args else None


def test_defaults_come_from_the_dataset_and_the_split_updates_live(qtbot, cells, settings):
    dataset = Dataset(cells)
    dataset.settings.density = DensitySettings(mode="adaptive", sigma=6.0, beta=0.5, k=4)
    dataset.settings.val_fraction = 0.0
    dataset.save_settings()
    dialog = TrainDialog(Dataset(cells), settings=settings)
    qtbot.addWidget(dialog)
    args = dialog.engine_args()
    assert (flag(args, "--sigma-mode"), flag(args, "--sigma"), flag(args, "--beta"), flag(args, "--k")) == (
        "adaptive", "6", "0.5", "4")
    assert "<b>8</b> train" in dialog.split_label.text() and "2 unlabeled" in dialog.split_label.text()
    assert "No validation image" in dialog.problem_label.text()
    dialog.val_spin.setValue(50)
    text = dialog.split_label.text()
    assert "<b>8</b> train" not in text and "<b>0</b> validate" not in text
    assert flag(dialog.engine_args(), "--val-fraction") == "0.5"
    assert "--unlabeled" not in dialog.engine_args()  # learning from unlabeled images is asked for, not assumed
    assert dialog.command_edit.text().split()[1:4] == ["-m", "engine", "train"]


def test_choices_are_remembered_and_engine_defaults_left_out(qtbot, cells, settings):
    dialog = TrainDialog(Dataset(cells), settings=settings)
    qtbot.addWidget(dialog)
    dialog.model_combo.setCurrentIndex(dialog.model_combo.findData("csrnet"))
    dialog.minutes_radio.setChecked(True)
    dialog.minutes_spin.setValue(7.5)
    dialog.advanced.lr_spin.setValue(0.0002)
    dialog.accept()
    args = dialog.engine_args()
    assert dialog.run_dir.is_dir() and dialog.run_dir.parent == runs_folder(cells)
    assert flag(args, "--out") == str(dialog.run_dir) and flag(args, "--model") == "csrnet"
    assert flag(args, "--minutes") == "7.5" and "--epochs" not in args and flag(args, "--lr") == "0.0002"
    assert "--batch" not in args and "--crop" not in args and "--width" not in args

    again = TrainDialog(Dataset(cells), settings=settings)
    qtbot.addWidget(again)
    assert again.model_combo.currentData() == "csrnet" and again.minutes_radio.isChecked()
    assert again.minutes_spin.value() == 7.5 and again.advanced.lr_spin.value() == pytest.approx(0.0002)
    assert not again.resume_radio.isEnabled()  # an empty run folder is not a run


def test_unlabeled_images_checkbox_reaches_the_command_line(qtbot, cells, settings):
    dialog = TrainDialog(Dataset(cells), settings=settings)
    qtbot.addWidget(dialog)
    check = dialog.unlabeled_check
    assert check.isEnabled() and "2 unlabeled" in check.text() and "ranking" in check.toolTip()
    assert "2 unlabeled (not used)" in dialog.split_label.text()
    check.setChecked(True)
    assert "--unlabeled" in dialog.engine_args() and "--unlabeled" in dialog.command_edit.text().split()
    assert "2 unlabeled (learned from by ranking)" in dialog.split_label.text()
    dialog.accept()
    assert "--unlabeled" in dialog.engine_args(dialog.run_dir)

    again = TrainDialog(Dataset(cells), settings=settings)  # the choice is remembered
    qtbot.addWidget(again)
    assert again.unlabeled_check.isChecked() and "--unlabeled" in again.engine_args()


def test_without_unlabeled_images_the_checkbox_is_off(qtbot, tmp_path, settings):
    folder = write_synthetic_dataset(tmp_path / "all", images=4, size=(32, 32), counts=(1, 3))
    settings.setValue("training/last_options", json.dumps({"unlabeled": True}))
    dialog = TrainDialog(Dataset(folder), settings=settings)
    qtbot.addWidget(dialog)
    assert not dialog.unlabeled_check.isEnabled() and "there are none" in dialog.unlabeled_check.text()
    assert "--unlabeled" not in dialog.engine_args()


def _stopped_run(cells, name="20240501-140312-fcrn_a"):
    folder = runs_folder(cells) / name
    folder.mkdir(parents=True)
    records = [{"type": "start", "time": 1.7e9, "model": "fcrn_a", "train_images": 6, "val_images": 2},
               {"type": "epoch", "epoch": 1, "val_mae": 2.0, "val_rmse": 3.0},
               {"type": "done", "stopped": "stop requested", "steps": 4}]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "config.json").write_text(json.dumps({"model": "fcrn_a", "epochs": 10}))
    for checkpoint in ("best.pt", "last.pt"):
        (folder / checkpoint).write_bytes(b"checkpoint")
    return folder


def test_resume_a_stopped_run_from_the_dialog(qtbot, cells, settings):
    folder = _stopped_run(cells)
    [run] = list_runs(cells)
    dialog = TrainDialog(Dataset(cells), list_runs(cells), settings=settings, resume=run)
    qtbot.addWidget(dialog)
    assert dialog.resume_radio.isChecked() and not dialog.model_box.isEnabled()
    dialog.accept()
    assert dialog.run_dir == folder
    args = dialog.engine_args(dialog.run_dir)
    assert "--resume" in args and flag(args, "--out") == str(folder) and flag(args, "--model") == "fcrn_a"
    assert sorted(p.name for p in runs_folder(cells).iterdir()) == [folder.name]  # no new folder made


def test_the_model_for_counting_is_chosen_per_dataset_and_remembered(qtbot, cells, tmp_path, settings):
    other = write_synthetic_dataset(tmp_path / "other", images=2, size=(32, 32), counts=(1, 2))
    folder = _stopped_run(cells)
    parent = QWidget()
    qtbot.addWidget(parent)
    controller = TrainingController(parent, settings=settings)
    controller.set_dataset(cells)
    assert controller.selected_checkpoint() is None and controller.resume_action.isEnabled()
    history = controller.history
    assert history.table.rowCount() == 1 and history.table.item(0, 6).text() == "stopped"
    with qtbot.waitSignal(controller.model_selected) as chosen:
        history.table.selectRow(0)
        history.use_button.click()
    assert chosen.args == [(folder / "best.pt").resolve()]
    assert history.table.item(0, 0).text() == "●"
    controller.set_dataset(other)
    assert controller.selected_checkpoint() is None and not controller.resume_action.isEnabled()

    later = TrainingController(parent, settings=QSettings(settings.fileName(), QSettings.Format.IniFormat))
    later.set_dataset(cells)
    assert later.selected_checkpoint() == (folder / "best.pt").resolve()
    (folder / "best.pt").unlink()  # a deleted model is not offered any more
    assert later.selected_checkpoint() is None


def test_the_monitor_shows_a_run_that_learns_from_unlabeled_images(qtbot):
    from crowdgui.training.monitor import TrainingMonitor

    monitor = TrainingMonitor()
    qtbot.addWidget(monitor)
    monitor.begin("unet", "python -m engine train D --unlabeled")
    monitor.handle_event({"type": "start", "total": 8, "unit": "steps", "epochs": 2, "unlabeled_images": 3})
    monitor.handle_event({"type": "progress", "loss": 5.0, "rank_loss": 0.25, "done": 4, "total": 8, "epoch": 1,
                          "step": 4})
    monitor.handle_event({"type": "epoch", "epoch": 1, "loss": 4.5, "rank_loss": 0.125, "val_mae": 1.5,
                          "val_rmse": 2.0})
    assert monitor.curves.losses == [5.0] and monitor.curves.maes == [1.5]
    assert "ranking loss 0.125" in monitor.log.toPlainText()
    assert monitor.stat_rank.isVisibleTo(monitor) and monitor.stat_rank.value.text() == "0.25"
    # A run without unlabeled images has no ranking loss to show.
    monitor.begin("unet", "python -m engine train D")
    monitor.handle_event({"type": "start", "total": 8, "unit": "steps", "epochs": 2, "unlabeled_images": 0})
    assert not monitor.stat_rank.isVisibleTo(monitor)


def test_the_loss_axis_labels_only_1_2_5_in_plain_numbers(qtbot):
    """pyqtgraph's log axis labels every minor tick (9·10², 8·10² ...), which overlap within one decade."""
    import math

    from crowdgui.training.curves import TrainingCurves

    curves = TrainingCurves()
    qtbot.addWidget(curves)
    axis = curves.loss_plot.getAxis("left")
    values = [math.log10(v) for v in (400, 500, 700, 1000, 2000, 0.05, 3e6)]
    assert axis.logTickStrings(values, 1.0, 1.0) == ["", "500", "", "1k", "2k", "0.05", ""]


def test_the_loss_is_offered_explained_and_remembered(qtbot, cells, settings):
    dialog = TrainDialog(Dataset(cells), settings=settings)
    qtbot.addWidget(dialog)
    combo = dialog.advanced.loss_combo
    assert [combo.itemData(i) for i in range(combo.count())] == ["mse", "bayesian", "dmcount"]
    assert combo.currentData() == "mse" and flag(dialog.engine_args(), "--loss") == "mse"
    combo.setCurrentIndex(combo.findData("dmcount"))
    assert "Wang et al." in dialog.advanced.loss_hint.text()
    dialog.accept()
    assert flag(dialog.engine_args(), "--loss") == "dmcount"
    again = TrainDialog(Dataset(cells), settings=settings)
    qtbot.addWidget(again)
    assert again.advanced.loss_combo.currentData() == "dmcount"
