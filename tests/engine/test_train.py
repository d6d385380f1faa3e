"""Training on tiny synthetic data: loss goes down, checkpoints load, resume, stop, budget, CLI, NaN."""

import json
import subprocess
import sys

import pytest
import torch

from engine.models.checkpoint import load_checkpoint, load_model
from engine.events import ListSink
from engine.training.fit import TrainConfig, TrainingError, fit

pytestmark = pytest.mark.slow


def tiny_config(dataset, out, **overrides) -> TrainConfig:
    """A U-Net of width 4 on 64x64 crops, 4 crops a step, 4 steps an epoch: well under a second an epoch."""
    values = dict(dataset=str(dataset), out=str(out), model="unet", model_config={"width": 4}, epochs=2,
                  device="cpu", batch=4, crop=64, lr=1e-2, seed=0, val_fraction=0.34, threads=1)
    values.update(overrides)
    return TrainConfig(**values)


def test_training_lowers_the_loss_and_writes_loadable_checkpoints(synthetic_dataset, tmp_path):
    events = ListSink()
    # Validation may take up to 90% of the time here, so every epoch is validated however the machine is loaded.
    result = fit(tiny_config(synthetic_dataset, tmp_path / "run", epochs=6, val_time_share=0.9), events)

    epochs = events.of_type("epoch")
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4, 5, 6]
    assert epochs[-1]["loss"] < 0.5 * epochs[0]["loss"]
    assert all(e["val_mae"] is not None and e["val_rmse"] >= e["val_mae"] for e in epochs)
    start = events.of_type("start")[0]
    assert start["train_images"] + start["val_images"] == 6 and start["val_images"] > 0
    progress = events.of_type("progress")
    assert progress and {"epoch", "step", "loss", "eta_s", "done", "total"} <= set(progress[-1])
    assert events.events[-1]["type"] == "done" and events.events[-1]["stopped"] == "finished"

    assert result.steps == 6 * start["steps_per_epoch"] and result.stopped == "finished"
    model, record = load_model(result.best_checkpoint)
    assert record["arch"] == "unet" and record["model_config"]["width"] == 4
    assert record["metrics"]["val_mae"] == pytest.approx(result.best_val_mae)
    assert record["train_summary"]["pretrained"] == "none (trained from scratch)"
    assert "training_state" not in record  # best.pt is for counting; last.pt carries the state
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 64, 96)).shape == (1, 1, 64, 96)
    state = load_checkpoint(result.last_checkpoint)["training_state"]
    assert state["epoch"] == 6 and state["step"] == result.steps
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"] == "unet"
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines].count("epoch") == 6


def test_resume_continues_from_the_saved_step(synthetic_dataset, tmp_path):
    out = tmp_path / "run"
    first = fit(tiny_config(synthetic_dataset, out, epochs=2), ListSink())
    events = ListSink()
    second = fit(tiny_config(synthetic_dataset, out, epochs=3, resume=True), events)
    steps_per_epoch = first.steps // 2
    assert events.of_type("start")[0]["resumed_from_step"] == first.steps
    assert [e["epoch"] for e in events.of_type("epoch")] == [3]
    assert second.steps == 3 * steps_per_epoch


def test_a_stop_request_saves_a_resumable_checkpoint(synthetic_dataset, tmp_path):
    out = tmp_path / "run"
    calls = {"n": 0}

    def stop_after_three_steps():
        calls["n"] += 1
        return calls["n"] > 3  # checked before the epoch and after each step

    events = ListSink()
    result = fit(tiny_config(synthetic_dataset, out, epochs=3), events, stop_requested=stop_after_three_steps)
    assert result.stopped == "stop requested" and result.steps == 3
    assert events.events[-1] == {**events.events[-1], "type": "done", "stopped": "stop requested"}
    state = load_checkpoint(out / "last.pt")["training_state"]
    assert (state["epoch"], state["epoch_step"], state["step"]) == (0, 3, 3)

    resumed = ListSink()
    finished = fit(tiny_config(synthetic_dataset, out, epochs=3, resume=True), resumed)
    assert resumed.of_type("start")[0]["resumed_from_step"] == 3
    assert finished.steps == 3 * resumed.of_type("start")[0]["steps_per_epoch"]
    assert [e["epoch"] for e in resumed.of_type("epoch")] == [1, 2, 3]


def test_a_time_budget_stops_cleanly(synthetic_dataset, tmp_path):
    events = ListSink()
    result = fit(tiny_config(synthetic_dataset, tmp_path / "run", epochs=None, minutes=0.03), events)
    assert result.stopped == "time budget"
    assert 1.0 <= result.seconds < 10
    assert events.of_type("start")[0]["unit"] == "seconds"
    assert events.of_type("epoch")  # the last (possibly partial) epoch was validated and saved
    assert load_checkpoint(result.last_checkpoint)["training_state"]["step"] == result.steps


def test_a_non_finite_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(synthetic_dataset,
                                                                                   tmp_path):
    out = tmp_path / "run"
    fit(tiny_config(synthetic_dataset, out, epochs=1), ListSink())
    good = (out / "last.pt").read_bytes()
    events = ListSink()
    with pytest.raises(TrainingError, match="loss became") as raised:
        fit(tiny_config(synthetic_dataset, out, epochs=3, lr=1e30, resume=True), events)
    assert "--lr" in str(raised.value) and "last good checkpoint" in str(raised.value)
    assert events.of_type("error")[0]["message"] == str(raised.value)
    assert (out / "last.pt").read_bytes() == good


def test_no_validation_images_uses_the_training_loss_for_best(synthetic_dataset, tmp_path):
    events = ListSink()
    result = fit(tiny_config(synthetic_dataset, tmp_path / "run", val_fraction=0.0), events)
    assert any("no validation images" in w["message"] for w in events.of_type("warning"))
    assert result.best_checkpoint is not None and result.best_val_mae is None


def test_bad_requests_are_plain_errors(synthetic_dataset, tmp_path):
    with pytest.raises(TrainingError, match="unknown model"):
        fit(tiny_config(synthetic_dataset, tmp_path / "a", model="nope"), ListSink())
    with pytest.raises(TrainingError, match="unknown device"):
        fit(tiny_config(synthetic_dataset, tmp_path / "a", device="tpu"), ListSink())
    with pytest.raises(TrainingError, match="no pretrained weights option"):
        fit(tiny_config(synthetic_dataset, tmp_path / "b", pretrained="imagenet"), ListSink())
    with pytest.raises(TrainingError, match="cannot resume"):
        fit(tiny_config(synthetic_dataset, tmp_path / "c", resume=True), ListSink())
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TrainingError, match="no annotated images"):
        fit(tiny_config(empty, tmp_path / "d"), ListSink())


def test_cli_prints_json_lines_and_fills_the_run_folder(synthetic_dataset, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "engine", "train", str(synthetic_dataset), "--model", "cmtl",
               "--width", "4", "--out", str(out), "--epochs", "1", "--device", "cpu", "--batch", "2",
               "--crop", "64", "--sigma", "3", "--threads", "1", "--events", "jsonl"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    types = [r["type"] for r in records]
    assert types[0] == "start" and types[-1] == "done" and "progress" in types and "epoch" in types
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "cmtl" and config["density"]["sigma"] == 3
    record = load_checkpoint(out / "best.pt")
    assert record["stride"] == 4 and record["density"]["sigma"] == 3
    assert float(record["state_dict"]["max_density"]) > 0  # CMTL's count classes were calibrated

    again = subprocess.run(command[:-2] + ["--model", "unet", "--resume", "--events", "jsonl"],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2
    assert "trains cmtl, not unet" in json.loads(again.stdout.splitlines()[-1])["message"]


def _vgg16_bn_front_end_file(path):
    from torchvision.models.vgg import cfgs, make_layers

    features = make_layers(cfgs["D"][:13], batch_norm=True)  # conv1_1 .. conv4_3 in torchvision's layout
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    return features


def test_pretrained_weights_from_a_file_are_used_and_recorded(synthetic_dataset, tmp_path):
    weights = tmp_path / "vgg16_bn_features.pth"
    _vgg16_bn_front_end_file(weights)
    events = ListSink()
    # Width 64 (VGG's own) is a big network for a test: stop at once, which still saves a checkpoint.
    result = fit(tiny_config(synthetic_dataset, tmp_path / "run", model="csrnet", model_config={}, epochs=1,
                             batch=2, pretrained=str(weights)), events, stop_requested=lambda: True)
    assert result.stopped == "stop requested"
    start = events.of_type("start")[0]
    assert str(weights) in start["pretrained"] and start["lr"] == 1e-2  # an explicit lr wins over the default
    summary = load_checkpoint(result.last_checkpoint)["train_summary"]
    assert summary["pretrained"] == start["pretrained"]


def test_imagenet_weights_that_cannot_be_downloaded_stop_the_run_with_what_to_do(synthetic_dataset, tmp_path,
                                                                               monkeypatch):
    from engine.models import pretrained

    def offline(batch_norm):
        raise OSError("network is unreachable")

    monkeypatch.setattr(pretrained, "_download_imagenet_vgg16", offline)
    events = ListSink()
    with pytest.raises(TrainingError, match="network is unreachable") as raised:
        fit(tiny_config(synthetic_dataset, tmp_path / "run", model="unet_vgg16", model_config={}, epochs=1,
                        pretrained="imagenet"), events)
    assert "--pretrained PATH" in str(raised.value)  # names the way to give the weights as a file
    assert not (tmp_path / "run" / "last.pt").exists() and not events.of_type("start")


def test_unet_vgg16_trains_from_a_vgg16_bn_file_and_says_so(synthetic_dataset, tmp_path):
    from torchvision.models.vgg import cfgs, make_layers

    weights = tmp_path / "vgg16_bn.pth"
    torch.manual_seed(5)
    features = make_layers(cfgs["D"], batch_norm=True)  # torchvision.models.vgg16_bn().features
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, weights)
    events = ListSink()
    result = fit(tiny_config(synthetic_dataset, tmp_path / "run", model="unet_vgg16", model_config={}, epochs=1,
                             batch=2, lr=None, pretrained=str(weights)), events)
    start = events.of_type("start")[0]
    assert start["pretrained"].startswith(f"weights from {weights}") and start["lr"] == 1e-4  # fine-tuning lr
    assert all(e["loss"] == e["loss"] for e in events.of_type("epoch"))  # a finite (not NaN) loss
    record = load_checkpoint(result.last_checkpoint)
    assert record["train_summary"]["pretrained"] == start["pretrained"]
    # The run changed the weights it started from (it trained), but from them, not from random ones.
    first_conv = record["state_dict"]["down.0.0.weight"]
    assert not torch.equal(first_conv, features[0].weight)
    assert torch.allclose(first_conv, features[0].weight, atol=0.05)


def test_loader_workers_are_spawned_and_give_the_same_crops(synthetic_dataset, tmp_path):
    in_process = fit(tiny_config(synthetic_dataset, tmp_path / "a", epochs=1, workers=0), ListSink())
    with_worker = fit(tiny_config(synthetic_dataset, tmp_path / "b", epochs=1, workers=1), ListSink())
    # Same seed, same crops whichever process made them: the same weights come out.
    first = load_checkpoint(in_process.last_checkpoint)["state_dict"]
    second = load_checkpoint(with_worker.last_checkpoint)["state_dict"]
    assert all(torch.allclose(first[key].float(), second[key].float()) for key in first)
