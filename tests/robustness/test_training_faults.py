"""Training under faults: a loss that becomes NaN, a disk that fills while saving (the kill: test_training_kill.py).

In each case the last good checkpoint survives byte for byte, the message says what happened, and ``--resume``
carries on from the last checkpoint. A tiny U-Net (width 4) on small synthetic images, CPU, one thread.
"""

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.models.checkpoint import load_checkpoint
from engine.events import ListSink
from engine.dataset.synthetic import write_synthetic_dataset
from engine.training.fit import LAST_FILE, TrainConfig, TrainingError, fit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_synthetic_dataset(tmp_path_factory.mktemp("faults") / "cells", images=6, size=(64, 64),
                                   counts=(5, 15), seed=2)


def tiny_config(dataset, out, **changes) -> TrainConfig:
    settings = {"dataset": str(dataset), "out": str(out), "model": "unet", "model_config": {"width": 4},
                "epochs": 1, "crop": 32, "batch": 2, "device": "cpu", "threads": 1, "samples_per_epoch": 8}
    settings.update(changes)
    return TrainConfig(**settings)


def engine_env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def saved_step(path: Path) -> int:
    return int(load_checkpoint(path)["training_state"]["step"])


def test_a_loss_that_becomes_nan_stops_with_a_message_and_keeps_the_checkpoints(dataset, tmp_path):
    run = tmp_path / "run"
    fit(tiny_config(dataset, run, samples_per_epoch=40), ListSink())
    before = {name: (run / name).read_bytes() for name in ("last.pt", "best.pt")}
    # A learning rate of 1e8 on the resumed run: the weights blow up within a few steps.
    resumed = subprocess.run([sys.executable, "-m", "engine", "train", str(dataset), "--out", str(run), "--resume",
                              "--epochs", "3", "--lr", "1e8", "--events", "jsonl"], check=False,
                             capture_output=True, text=True, env=engine_env(), cwd=ROOT, timeout=300)
    events = [json.loads(line) for line in resumed.stdout.splitlines() if line.strip()]
    assert resumed.returncode == 1
    error = next(e for e in events if e["type"] == "error")["message"]
    assert "the training loss became" in error and ("nan" in error or "inf" in error)
    assert "try a lower --lr" in error and "last good checkpoint" in error and str(run / "last.pt") in error
    assert not [e for e in events if e["type"] == "epoch"]
    for name, data in before.items():
        assert (run / name).read_bytes() == data, name  # byte for byte: nothing was saved after the NaN


def test_a_nan_in_the_training_data_stops_the_run_and_keeps_the_checkpoints(dataset, tmp_path, monkeypatch):
    """A NaN reaching the network by another road than the learning rate (here: one poisoned crop)."""
    from engine.training import crops as data

    run = tmp_path / "run"
    fit(tiny_config(dataset, run), ListSink())
    before = (run / "last.pt").read_bytes()
    original = data.TrainingCrops.__getitem__

    def poisoned(self, index):
        image, target, count, regions, points = original(self, index)
        return torch.full_like(image, float("nan")), target, count, regions, points

    monkeypatch.setattr(data.TrainingCrops, "__getitem__", poisoned)
    sink = ListSink()
    with pytest.raises(TrainingError, match="the training loss became nan"):
        fit(tiny_config(dataset, run, epochs=2, resume=True), sink)
    assert "last good checkpoint" in sink.of_type("error")[0]["message"]
    assert (run / "last.pt").read_bytes() == before


class _FullDisk:
    """``open`` for engine.atomic whose files take ``room`` bytes, then fail as a full disk does."""

    def __init__(self, room: int):
        self.room, self.failures = room, 0

    def __call__(self, path, mode="r", *args, **kwargs):
        handle = open(path, mode, *args, **kwargs)  # noqa: SIM115 - returned to the caller's with block
        if "w" not in mode:
            return handle
        fake = self

        class Filling:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                handle.close()
                return False

            def write(self, data):
                if len(data) > fake.room:
                    handle.write(data[:fake.room])  # some bytes reach the temporary file first
                    handle.flush()
                    fake.failures += 1
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                return handle.write(data)

            def __getattr__(self, name):
                return getattr(handle, name)

        return Filling()


def test_a_full_disk_while_saving_keeps_the_previous_checkpoint_and_says_so(dataset, tmp_path, monkeypatch):
    import engine.atomic

    run = tmp_path / "run"
    fit(tiny_config(dataset, run), ListSink())
    before = {name: (run / name).read_bytes() for name in ("last.pt", "best.pt")}
    full = _FullDisk(room=4096)
    monkeypatch.setattr(engine.atomic, "open", full, raising=False)  # found before the builtin
    sink = ListSink()
    with pytest.raises(TrainingError) as raised:
        fit(tiny_config(dataset, run, epochs=2, resume=True), sink)
    message = str(raised.value)
    assert full.failures >= 1
    assert "No space left on device" in message and "intact" in message and "--resume" in message
    assert sink.of_type("error") and sink.of_type("error")[0]["message"] == message
    for name, data in before.items():
        assert (run / name).read_bytes() == data, name
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]  # no stray temporary file

    monkeypatch.undo()  # space freed: the run resumes from the intact checkpoint and finishes epoch 2
    result = fit(tiny_config(dataset, run, epochs=2, resume=True), ListSink())
    assert result.epochs == 2 and saved_step(run / LAST_FILE) == 2 * 4


def test_last_pt_is_replaced_in_one_rename_so_a_reader_never_sees_half_a_file(dataset, tmp_path, monkeypatch):
    """Every save goes through a temporary file; the name last.pt only ever points at a complete file."""
    import engine.atomic

    run = tmp_path / "run"
    seen = []
    real_replace = os.replace

    def watching_replace(source, target):
        if Path(target).name == LAST_FILE:  # the temporary file must already be complete and loadable
            seen.append(saved_step(Path(source)))
        real_replace(source, target)

    monkeypatch.setattr(engine.atomic.os, "replace", watching_replace)
    fit(tiny_config(dataset, run, epochs=2), ListSink())
    assert seen == [4, 8]  # one complete file per epoch, each put in place by a rename
    assert saved_step(run / LAST_FILE) == 8


def test_a_history_file_that_cannot_be_written_does_not_hide_the_runs_messages(tmp_path):
    """On a full disk metrics.jsonl fails too; the caller must still hear every event, the error above all."""
    from engine.training.report import RunLog

    class FullStream:
        def write(self, _text):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def flush(self):
            pass

    sink = ListSink()
    log = RunLog(tmp_path, sink)
    log._lines.stream = FullStream()
    log.emit("start", command="train")
    log.error("cannot save last.pt: No space left on device")
    log.record_only("error", message="recorded only")
    log.close()
    assert [e["type"] for e in sink.events] == ["warning", "start", "error"]
    assert "metrics.jsonl" in sink.events[0]["message"] and "No space left" in sink.events[0]["message"]


def test_an_image_damaged_inside_stops_training_with_its_name_and_resume_works_once_it_is_gone(tmp_path):
    """The folder scan cannot see damage inside a complete-looking JPEG; decoding it during training can."""
    sys.path.insert(0, str(Path(__file__).parent))
    from hostile_images import write_image_cases

    from engine.dataset.sidecar import Annotation, sidecar_path, write_sidecar

    folder = write_synthetic_dataset(tmp_path / "cells", images=4, size=(64, 64), counts=(5, 15), seed=2)
    run = tmp_path / "run"
    fit(tiny_config(folder, run, val_fraction=0.0), ListSink())
    before = (run / "last.pt").read_bytes()
    write_image_cases(tmp_path / "hostile")
    damaged = folder / "zz_damaged.jpg"
    damaged.write_bytes((tmp_path / "hostile" / "bad_corrupt.jpg").read_bytes())
    write_sidecar(sidecar_path(damaged), Annotation(damaged.name, 256, 192, [[10.0, 10.0]]))
    sink = ListSink()
    with pytest.raises(TrainingError) as raised:
        fit(tiny_config(folder, run, epochs=2, resume=True, val_fraction=0.0, samples_per_epoch=40), sink)
    message = str(raised.value)
    assert message.startswith("zz_damaged.jpg: damaged image data") and "--resume" in message
    assert sink.of_type("error")[-1]["message"] == message
    assert (run / "last.pt").read_bytes() == before

    damaged.unlink()
    sidecar_path(damaged).unlink()
    assert fit(tiny_config(folder, run, epochs=2, resume=True, val_fraction=0.0), ListSink()).epochs == 2
