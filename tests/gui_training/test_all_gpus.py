""""All local GPUs" in the training dialog: the engine runs through torchrun, one process per GPU.

The GPU list is faked (engine.models.device.describe_devices), so no GPU is needed; the end-to-end test runs the
same torchrun launch with two CPU processes and checks that the monitor follows rank 0's events.
"""

import json

import pytest


from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

import crowdgui.training.controller as controller_module
from crowdgui.training import devices
from crowdgui.training.controller import TrainingController
from crowdgui.training.options import ALL_GPUS, TrainOptions
from crowdgui.training.train_dialog import SETTINGS_KEY, TrainDialog
from engine.dataset import Dataset
from engine.training.runs import list_runs, runs_folder
from engine.dataset.synthetic import write_synthetic_dataset

TORCHRUN = ["-m", "torch.distributed.run", "--standalone"]


def fake_machine(monkeypatch, gpus: int) -> None:
    """Make the dialog see ``gpus`` CUDA devices and a CPU (the discovery is cached: forget it around)."""
    listed = [{"id": f"cuda:{i}", "kind": "cuda", "memory_gb": 24.0, "label": f"GPU {i}: Fake (24 GB)"}
              for i in range(gpus)]
    listed.append({"id": "cpu", "kind": "cpu", "threads": 2, "label": "CPU (2 threads)"})
    monkeypatch.setattr("engine.models.device.describe_devices", lambda: listed)
    devices.discovered_devices.cache_clear()


@pytest.fixture(autouse=True)
def forget_devices():
    devices.discovered_devices.cache_clear()
    yield
    devices.discovered_devices.cache_clear()


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def cells(tmp_path):
    return write_synthetic_dataset(tmp_path / "cells", images=6, size=(64, 64), counts=(5, 15), seed=1)


def flag(args, name):
    return args[args.index(name) + 1] if name in args else None


def test_all_gpus_launches_one_engine_process_per_gpu_through_torchrun(qtbot, monkeypatch, cells, settings):
    fake_machine(monkeypatch, gpus=4)
    dialog = TrainDialog(Dataset(cells), settings=settings)
    qtbot.addWidget(dialog)
    values = [dialog.device_combo.itemData(i) for i in range(dialog.device_combo.count())]
    assert values == ["auto", ALL_GPUS, "cuda:0", "cuda:1", "cuda:2", "cuda:3", "cpu"]
    assert dialog.device_combo.itemText(1).startswith("All local GPUs (4)")

    dialog.device_combo.setCurrentIndex(1)
    args = dialog.python_args()
    assert args[:6] == [*TORCHRUN, "--nproc-per-node=4", "--shutdown-timeout=50", "-m"]
    assert args[6:8] == ["engine", "train"] and flag(args, "--device") == "cuda"  # each rank: cuda:LOCAL_RANK
    assert args[8:] == dialog.engine_args()[1:]
    assert dialog.command_edit.text().split()[1:5] == [*TORCHRUN, "--nproc-per-node=4"]

    # The choice is remembered, and a resumed run goes through torchrun too.
    dialog.accept()
    assert json.loads(settings.value(SETTINGS_KEY))["device"] == ALL_GPUS
    parent = QWidget()
    qtbot.addWidget(parent)
    controller = TrainingController(parent, settings=settings)
    controller.set_dataset(cells)
    started = []
    monkeypatch.setattr(controller_module.EngineJob, "start", lambda job: started.append(job.python_args))
    controller.start_from_dialog(dialog)
    assert started[-1][:4] == [*TORCHRUN, "--nproc-per-node=4"] and started[-1][-2:] == ["--events", "jsonl"]
    assert flag(started[-1], "--out") == str(dialog.run_dir)

    folder = runs_folder(cells) / "20240501-140312-unet"
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text(json.dumps({"type": "start", "time": 1.7e9, "model": "unet"}) + "\n"
                                          + json.dumps({"type": "done", "stopped": "stop requested"}) + "\n")
    (folder / "last.pt").write_bytes(b"stand-in: resuming is only built, not run")
    controller.resume(next(run for run in list_runs(cells) if run.folder == folder))
    assert started[-1][:4] == [*TORCHRUN, "--nproc-per-node=4"] and "--resume" in started[-1]


def test_one_gpu_offers_no_torchrun_choice(qtbot, monkeypatch, cells, settings):
    fake_machine(monkeypatch, gpus=1)
    settings.setValue(SETTINGS_KEY, json.dumps({**TrainOptions().to_dict(), "device": ALL_GPUS}))
    dialog = TrainDialog(Dataset(cells), settings=settings)
    qtbot.addWidget(dialog)
    values = [dialog.device_combo.itemData(i) for i in range(dialog.device_combo.count())]
    assert ALL_GPUS not in values and values == ["auto", "cuda:0", "cpu"]
    # A choice remembered from a bigger machine falls back to Automatic, a plain engine process.
    assert dialog.device_combo.currentData() == "auto" and dialog.python_args()[:3] == ["-m", "engine", "train"]


@pytest.mark.slow
def test_the_monitor_follows_rank_0_of_a_torchrun_job(qtbot, monkeypatch, cells, settings, tmp_path):
    """The same launch as "All local GPUs", with 2 CPU processes: one stream of events, one run folder."""
    monkeypatch.setattr(controller_module, "gpu_count", lambda: 2)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    parent = QWidget()
    qtbot.addWidget(parent)
    controller = TrainingController(parent, settings=settings)
    controller.set_dataset(cells)
    run_dir = runs_folder(cells) / "20240501-140312-unet"
    args = ["train", str(cells), "--model", "unet", "--out", str(run_dir), "--epochs", "2", "--device", "cpu",
            "--batch", "2", "--crop", "32", "--width", "4", "--val-fraction", "0.34"]
    events = []
    with qtbot.waitSignal(controller.training_finished, timeout=120000) as finished:
        job = controller.start(args, run_dir, "Training on 2 processes", device=ALL_GPUS)
        job.event_received.connect(events.append)
    assert finished.args[0] == "succeeded", job.failure_summary()
    assert job.python_args[:4] == [*TORCHRUN, "--nproc-per-node=2"]
    kinds = [event["type"] for event in events]
    assert kinds.count("start") == 1 and kinds.count("epoch") == 2 and kinds[-1] == "done"  # rank 0 only
    assert events[0]["world_size"] == 2 and events[-1]["rank_steps"] == [events[-1]["steps"]] * 2
    monitor = controller.monitor
    assert monitor.state == "succeeded" and monitor.curves.epochs == [1.0, 2.0] and monitor.curves.losses
    [run] = controller.runs
    assert run.status == "finished" and run.best_checkpoint == run_dir / "best.pt"
