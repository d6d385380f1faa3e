"""The "Count folder" dialog: sensible defaults, the run history's models, no Count without a valid choice."""

import datetime as dt
import json
from pathlib import Path

import pytest


from PySide6.QtCore import QSettings  # noqa: E402

from crowdgui.counting.count_dialog import CountDialog, default_output_dir  # noqa: E402
from crowdgui.counting.controller import engine_arguments, fresh_folder  # noqa: E402
from engine.dataset.synthetic import write_synthetic_dataset  # noqa: E402


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat)


def _run(dataset: Path, name: str, val_mae: float = 2.5) -> Path:
    """A finished run folder as the engine leaves it (its log; the dialog never opens the checkpoint)."""
    folder = dataset / "crowdgui_runs" / name
    folder.mkdir(parents=True)
    started = dt.datetime.strptime(name[:15], "%Y%m%d-%H%M%S").timestamp()
    records = [{"type": "start", "time": started, "model": name[16:]},
               {"type": "epoch", "epoch": 1, "val_mae": val_mae, "val_rmse": val_mae},
               {"type": "done", "stopped": "finished"}]
    (folder / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    (folder / "best.pt").write_bytes(b"weights")  # checked by the engine when counting, not by the dialog
    return folder / "best.pt"


def _dialog(qtbot, settings, **kwargs):
    dialog = CountDialog(settings=settings, **kwargs)
    qtbot.addWidget(dialog)
    return dialog


def test_defaults_are_the_open_dataset_and_its_newest_model(qtbot, settings, tmp_path):
    dataset = write_synthetic_dataset(tmp_path / "cells", images=2, size=(32, 32))
    _run(dataset, "20240101-120000-fcrn_a")
    newest = _run(dataset, "20240301-090000-unet")
    dialog = _dialog(qtbot, settings, dataset_folder=dataset)
    assert dialog.folder.path() == dataset
    assert dialog.model.path() == newest
    assert dialog.model.combo.count() == 2 and dialog.model.combo.currentText().startswith("unet")
    assert "val MAE 2.50" in dialog.model.combo.currentText()
    assert dialog.output.path().parent == dataset / "crowdgui_counts"
    assert "2 images" in dialog.folder_info.text()
    assert dialog.count_button.isEnabled()


def test_the_run_history_choice_wins_and_other_files_can_be_picked(qtbot, settings, tmp_path):
    dataset = write_synthetic_dataset(tmp_path / "cells", images=1, size=(32, 32))
    chosen = _run(dataset, "20240101-120000-fcrn_a")
    _run(dataset, "20240301-090000-unet")
    dialog = _dialog(qtbot, settings, dataset_folder=dataset, checkpoint=chosen)
    assert dialog.model.path() == chosen
    elsewhere = tmp_path / "sent_by_a_colleague.pt"
    elsewhere.write_bytes(b"weights")
    dialog.model.set_path(elsewhere)
    assert dialog.model.path() == elsewhere and dialog.model.combo.currentText().startswith("File: ")
    dialog.accept()
    again = _dialog(qtbot, settings)  # no dataset open: last time's model is offered
    assert again.model.path() == elsewhere


def test_count_needs_images_and_an_existing_model(qtbot, settings, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    dialog = _dialog(qtbot, settings)
    assert not dialog.count_button.isEnabled()
    dialog.folder.set_path(empty)
    assert "nothing to count" in dialog.folder_info.text()
    images = write_synthetic_dataset(tmp_path / "imgs", images=1, size=(32, 32))
    dialog.folder.set_path(images)
    assert not dialog.count_button.isEnabled()  # still no model
    model = tmp_path / "m.pt"
    model.write_bytes(b"w")
    dialog.model.set_path(model)
    assert dialog.count_button.isEnabled()
    model.unlink()
    dialog.model.changed.emit()
    assert not dialog.count_button.isEnabled() and "does not exist" in dialog.model_info.text()


def test_the_output_folder_follows_the_images_until_the_user_edits_it(qtbot, settings, tmp_path):
    first = write_synthetic_dataset(tmp_path / "a", images=1, size=(32, 32))
    second = write_synthetic_dataset(tmp_path / "b", images=1, size=(32, 32))
    dialog = _dialog(qtbot, settings)
    dialog.folder.set_path(first)
    assert dialog.output.path().parent == first / "crowdgui_counts"
    dialog.folder.set_path(second)
    assert dialog.output.path().parent == second / "crowdgui_counts"
    qtbot.keyClicks(dialog.output.edit, "X")  # a user edit
    dialog.folder.set_path(first)
    assert dialog.output.path().parent == second / "crowdgui_counts"


def test_the_engine_command_and_a_fresh_results_folder(tmp_path):
    from crowdgui.counting.count_dialog import CountRequest

    stamp = default_output_dir(tmp_path, dt.datetime(2024, 5, 1, 14, 3, 9))
    assert stamp == tmp_path / "crowdgui_counts" / "2024-05-01_14-03-09"
    stamp.mkdir(parents=True)
    assert fresh_folder(stamp) == stamp.with_name("2024-05-01_14-03-09-2")
    args = engine_arguments(CountRequest(tmp_path, tmp_path / "best.pt", "cpu", points=True), tmp_path / "o")
    assert args == ["count", str(tmp_path), "--checkpoint", str(tmp_path / "best.pt"),
                    "--out", str(tmp_path / "o" / "counts.csv"),
                    "--density-dir", str(tmp_path / "o" / "density"), "--device", "cpu", "--points"]
    assert "--device" not in engine_arguments(CountRequest(tmp_path, tmp_path / "m.pt"), tmp_path)


def test_the_model_chosen_in_the_run_history_is_preselected(qtbot, tmp_path):
    from crowdgui.counting import install as install_counting
    from crowdgui.main_window import MainWindow
    from crowdgui.training import install as install_training

    dataset = write_synthetic_dataset(tmp_path / "cells", images=2, size=(32, 32))
    older = _run(dataset, "20240101-120000-fcrn_a")
    newest = _run(dataset, "20240301-090000-unet")
    window = MainWindow(settings=QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    counting = install_counting(window)  # before training: the choice is looked up when the dialog opens
    training = install_training(window)
    assert window.open_folder(dataset)
    assert counting.make_dialog().model.path() == newest  # nothing chosen yet: the newest model
    training.select_checkpoint(older)
    dialog = counting.make_dialog()
    qtbot.addWidget(dialog)
    assert dialog.model.path() == older.resolve()
    menus = [action.text() for action in window.menuBar().actions()]
    assert "&Count" in menus and "Count folder…" in [a.text() for a in window.menu("&Count").actions()]


def test_test_time_flips_are_offered_off_by_default_and_reach_the_engine(qtbot, settings, tmp_path):
    from crowdgui.counting.count_dialog import CountRequest

    dataset = write_synthetic_dataset(tmp_path / "cells", images=1, size=(32, 32))
    _run(dataset, "20240301-090000-unet")
    dialog = _dialog(qtbot, settings, dataset_folder=dataset)
    assert not dialog.flips.isChecked()
    assert "MAE" in dialog.flips.toolTip() and "Twice" in dialog.flips.toolTip()
    dialog.flips.setChecked(True)
    assert dialog.request().flips
    dialog.accept()
    assert _dialog(qtbot, settings, dataset_folder=dataset).flips.isChecked()  # remembered
    assert engine_arguments(CountRequest(tmp_path, tmp_path / "m.pt", flips=True), tmp_path)[-1] == "--flips"
    assert "--flips" not in engine_arguments(CountRequest(tmp_path, tmp_path / "m.pt"), tmp_path)


def test_a_region_file_and_a_pixel_size_are_checked_and_reach_the_engine(qtbot, settings, tmp_path):
    dataset = write_synthetic_dataset(tmp_path / "cells", images=2, size=(32, 32))
    _run(dataset, "20240301-090000-unet")
    dialog = _dialog(qtbot, settings, dataset_folder=dataset)
    assert dialog.count_button.isEnabled()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    dialog.area.roi.setText(str(bad))
    assert not dialog.count_button.isEnabled() and "not JSON" in dialog.area.roi_info.text()
    regions = tmp_path / "camera.json"
    regions.write_text(json.dumps([{"kind": "roi", "polygon": [[0, 0], [20, 0], [20, 20]]},
                                   {"kind": "ignore", "polygon": [[1, 1], [5, 1], [5, 5]]}]))
    dialog.area.roi.setText(str(regions))
    assert dialog.count_button.isEnabled() and dialog.area.roi_info.text() == "Applied to every image: 1 ignore, 1 roi"
    dialog.area.pixel_size.setText("0.65 furlong")
    assert not dialog.count_button.isEnabled() and "0.65um" in dialog.area.pixel_info.text()
    dialog.area.pixel_size.setText("0.65um")
    assert dialog.count_button.isEnabled() and "per mm²" in dialog.area.pixel_info.text()
    args = engine_arguments(dialog.request(), tmp_path / "out")
    assert args[args.index("--roi") + 1] == str(regions) and args[args.index("--pixel-size") + 1] == "0.65um"
