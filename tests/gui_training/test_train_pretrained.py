"""The training dialog's starting weights (reaching the engine's TrainConfig) and density suggestion."""

import argparse
import json

import pytest
from PySide6.QtCore import QSettings

from crowdgui.training.monitor import TrainingMonitor
from crowdgui.training.train_dialog import TrainDialog
from engine.commands import train as train_command
from engine.dataset import Dataset
from engine.dataset.synthetic import write_synthetic_dataset
from engine.density import DensitySettings


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def cells(tmp_path):
    return write_synthetic_dataset(tmp_path / "cells", images=6, size=(128, 128), counts=(30, 40), seed=4)


@pytest.fixture
def dialog(qtbot, cells, settings):
    made = []

    def make():
        dialog = TrainDialog(Dataset(cells), settings=settings)
        qtbot.addWidget(dialog)
        made.append(dialog)
        return dialog

    yield make
    for dialog in made:
        dialog.suggester.pool.waitForDone(5000)


def train_config(args):
    """The TrainConfig the engine builds from the dialog's command line."""
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    return train_command.build_config(parser.parse_args(args[1:]))


def choose_model(dialog, name):
    dialog.model_combo.setCurrentIndex(dialog.model_combo.findData(name))


def test_starting_weights_reach_the_engine_config_and_are_remembered(dialog, tmp_path):
    weights = tmp_path / "vgg16_bn.pth"
    weights.write_bytes(b"weights")
    first = dialog()
    choose_model(first, "unet_vgg16")
    assert first.pretrained.isEnabled() and train_config(first.engine_args()).pretrained is None  # from scratch
    first.pretrained.combo.setCurrentIndex(first.pretrained.combo.findData("imagenet"))
    assert train_config(first.engine_args()).pretrained == "imagenet"
    first.pretrained.set_value(str(weights))
    assert first.pretrained.path_edit.isVisibleTo(first) and first.pretrained.browse_button.isVisibleTo(first)
    config = train_config(first.engine_args())
    assert config.pretrained == str(weights) and config.model == "unet_vgg16"
    first.accept()

    again = dialog()
    assert again.model_combo.currentData() == "unet_vgg16" and again.pretrained.value() == str(weights)


def test_networks_without_a_vgg_part_start_from_scratch(dialog):
    made = dialog()
    made.pretrained.combo.setCurrentIndex(made.pretrained.combo.findData("imagenet"))
    choose_model(made, "csrnet")
    assert "--pretrained" in made.engine_args()
    choose_model(made, "unet")
    assert not made.pretrained.isEnabled() and "csrnet" in made.pretrained.toolTip()
    assert "--pretrained" not in made.engine_args()


def test_a_missing_weights_file_keeps_the_run_from_starting(dialog, tmp_path):
    made = dialog()
    choose_model(made, "csrnet")
    made.pretrained.combo.setCurrentIndex(made.pretrained.combo.findData("file"))
    start = made.buttons.button(made.buttons.StandardButton.Ok)
    assert "Choose the weights file" in made.problem_label.text() and not start.isEnabled()
    made.pretrained.path_edit.setText(str(tmp_path / "nowhere.pth"))
    assert "does not exist" in made.problem_label.text() and not start.isEnabled()
    (tmp_path / "vgg16_bn.pth").write_bytes(b"x")
    made.pretrained.path_edit.setText(str(tmp_path / "vgg16_bn.pth"))
    assert start.isEnabled() and "does not exist" not in made.problem_label.text()


def test_the_dialog_shows_the_density_suggestion_and_apply_sets_the_dataset_settings(dialog, cells, qtbot):
    expected = Dataset(cells).suggest_density()
    made = dialog()
    applied = []
    made.density_applied.connect(applied.append)
    box = made.suggestion_box
    qtbot.waitUntil(lambda: box.suggestion is not None, timeout=5000)
    assert box.label.text().startswith(f"Suggested: {expected.headline} — because")
    assert box.apply_button.isVisibleTo(made.advanced.body)
    box.apply_button.click()
    args = made.engine_args()
    assert args[args.index("--sigma") + 1] == f"{expected.settings.sigma:g}"  # this run uses it
    assert json.loads((cells / "crowdgui.json").read_text())["density"]["sigma"] == expected.settings.sigma
    assert applied == [expected.settings] and "Applied" in box.label.text()
    box.undo_button.click()
    assert Dataset(cells).settings.density == DensitySettings() and applied[-1] == DensitySettings()


def test_the_monitor_says_which_starting_weights_the_run_used(qtbot):
    monitor = TrainingMonitor()
    qtbot.addWidget(monitor)
    monitor.begin("unet_vgg16", "python -m engine train D --pretrained W")
    monitor.handle_event({"type": "start", "total": 8, "epochs": 2, "model": "unet_vgg16",
                          "pretrained": "weights from /tmp/vgg16_bn.pth: the U-Net-VGG16 encoder starts from them"})
    assert "starting weights: weights from /tmp/vgg16_bn.pth" in monitor.log.toPlainText()
