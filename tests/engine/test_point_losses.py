"""engine/training/point_losses.py (--loss bayesian | dmcount): least for the right map, grows when points move or
go missing, gradients flow, channels follow classes, masks are honoured; wiring: crops' points, config, CLI."""

import argparse
import json

import numpy as np
import pytest
import torch

from engine.commands import train as train_command
from engine.density import DensitySettings
from engine.events import ListSink
from engine.training.config import TrainConfig, TrainingError, resolve_config
from engine.training.crops import CropSettings, TrainingCrops
from engine.training.loaders import collate_crops
from engine.training.point_losses import POINT_LOSSES, bayesian_loss, dmcount_loss, sinkhorn_potentials

SCALE = 100.0
SIZE = 64
POINTS = np.array([[10.5, 12.5], [40.5, 20.5], [22.5, 50.5], [54.5, 44.5]])
LOSSES = [bayesian_loss, dmcount_loss]


def spikes(points: np.ndarray, channels: int = 1, channel_of=None) -> torch.Tensor:
    """A (1, C, SIZE, SIZE) output with one count (x SCALE) in the pixel of each point: the right answer."""
    output = torch.zeros(1, channels, SIZE, SIZE)
    for index, (x, y) in enumerate(points):
        channel = 0 if channel_of is None else channel_of[index]
        output[0, channel, int(y), int(x)] += SCALE
    return output


def as_points(points: np.ndarray, classes=None) -> list[torch.Tensor]:
    classes = np.zeros(len(points)) if classes is None else np.asarray(classes, dtype=float)
    return [torch.tensor(np.column_stack([points, classes]), dtype=torch.float32)]


def loss_of(loss, output, points, known=None):
    return float(loss(output, points, known, density_scale=SCALE, stride=1))


@pytest.mark.parametrize("loss", LOSSES)
def test_the_right_map_scores_best_and_moved_or_missing_points_cost_more(loss):
    truth = as_points(POINTS)
    right = loss_of(loss, spikes(POINTS), truth)
    moved = loss_of(loss, spikes(POINTS + [9.0, -7.0]), truth)
    missing = loss_of(loss, spikes(POINTS[:3]), truth)
    doubled = loss_of(loss, spikes(np.concatenate([POINTS, POINTS + [1.0, 0.0]])), truth)
    assert right < 0.5 * moved and right < 0.5 * missing and right < 0.5 * doubled


def test_bayesian_loss_of_the_right_map_is_about_zero():
    # Each point's expected count is 1 less what BL+'s background takes at the point itself (e^-8).
    assert loss_of(bayesian_loss, spikes(POINTS), as_points(POINTS)) < 0.01


def test_dmcount_ot_cost_is_the_squared_distance_and_a_missing_count_costs_one_each():
    right = loss_of(dmcount_loss, spikes(POINTS), as_points(POINTS))
    half = spikes(POINTS) * 0.5  # the right places, half the count: OT and TV unchanged
    assert loss_of(dmcount_loss, half, as_points(POINTS)) == pytest.approx(right + len(POINTS) / 2, abs=1e-3)
    # All mass in one cell centre, one point 30 px to its right: the transport cost is 30^2.
    f, g = sinkhorn_potentials(torch.tensor([1.0, 0.0]), torch.tensor([[900.0], [0.0]]))
    assert float(f[0] + g.mean()) == pytest.approx(900.0, rel=0.02)


@pytest.mark.parametrize("loss", LOSSES)
def test_gradients_reach_the_map(loss):
    output = torch.rand(2, 1, SIZE, SIZE, requires_grad=True)
    points = as_points(POINTS) + as_points(POINTS[:1])
    loss(output, points, None, density_scale=SCALE, stride=1).backward()
    assert torch.isfinite(output.grad).all() and output.grad.abs().sum() > 0


@pytest.mark.parametrize("loss", LOSSES)
def test_points_of_class_k_supervise_channel_k(loss):
    classes = [0, 1, 0, 1]
    truth = as_points(POINTS, classes)
    right = loss_of(loss, spikes(POINTS, 2, classes), truth)
    swapped = loss_of(loss, spikes(POINTS, 2, [1 - c for c in classes]), truth)
    assert right < 0.5 * swapped
    # A point of a class the model has no channel for (-1) supervises nothing.
    unknown = as_points(np.concatenate([POINTS, [[30.5, 30.5]]]), classes + [-1])
    assert loss_of(loss, spikes(POINTS, 2, classes), unknown) == pytest.approx(right, abs=1e-4)


@pytest.mark.parametrize("loss", LOSSES)
def test_cells_outside_the_known_area_get_no_loss_and_no_gradient(loss):
    known = torch.zeros(1, 1, SIZE, SIZE)
    known[..., :SIZE // 2] = 1  # left half annotated; POINTS[0] and POINTS[2] are there
    inside = POINTS[POINTS[:, 0] < SIZE // 2]
    clean = spikes(inside)
    junk = clean.clone()
    junk[..., SIZE // 2:] += 5 * SCALE / SIZE  # counts in the unknown half
    junk.requires_grad_(True)
    value = loss(junk, as_points(inside), known, density_scale=SCALE, stride=1)
    assert float(value.detach()) == pytest.approx(loss_of(loss, clean, as_points(inside), known), abs=1e-4)
    value.backward()
    assert float(junk.grad[..., SIZE // 2:].abs().sum()) == 0


def test_training_crops_carry_their_points_in_crop_pixels(tmp_path):
    from PIL import Image

    path = tmp_path / "a.png"
    Image.fromarray(np.zeros((96, 96, 3), dtype=np.uint8)).save(path)
    points = np.array([[5.0, 5.0], [50.0, 60.0], [90.0, 20.0], [30.0, 80.0]])
    crops = TrainingCrops([path], [points], [(96, 96)], CropSettings(48, (0.8, 1.25), True), stride=4,
                          density=DensitySettings(mode="fixed", sigma=2.0), samples=8)
    batch = collate_crops([crops[i] for i in range(8)])
    images, _targets, counts, regions, crop_points = batch
    assert images.shape == (8, 3, 48, 48) and len(crop_points) == 8 and "known" in regions
    for count, mine in zip(counts, crop_points):
        assert mine.shape == (int(count), 3) and mine.dtype == torch.float32
        assert bool(((mine[:, :2] >= 0) & (mine[:, :2] < 48)).all()) and bool((mine[:, 2] == 0).all())
    assert sum(len(p) for p in crop_points) > 0


def test_loss_is_validated_recorded_and_kept_on_resume(tmp_path):
    config = TrainConfig(dataset="d", out="o", loss="dmcount")
    assert TrainConfig.from_json(json.loads(json.dumps(config.to_json()))).loss == "dmcount"
    assert TrainConfig(dataset="d", out="o").loss == "mse"
    with pytest.raises(TrainingError, match="unknown loss 'l1'"):
        resolve_config(TrainConfig(dataset="d", out="o", loss="l1"), model_defaults={}, size_multiple=16,
                       device_type="cpu", spare_threads=0, dataset_density=DensitySettings())
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(train_command.build_config(
        parser.parse_args(["D", "--out", str(run), "--loss", "bayesian"])).to_json()))
    resumed = train_command.build_config(parser.parse_args(["D", "--out", str(run), "--resume"]))
    assert resumed.loss == "bayesian"
    with pytest.raises(SystemExit):
        parser.parse_args(["D", "--out", str(run), "--loss", "l1"])
    assert set(POINT_LOSSES) == {"bayesian", "dmcount"}


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["bayesian", "dmcount"])
def test_a_few_cpu_steps_with_a_point_loss_lower_it(synthetic_dataset, tmp_path, loss, monkeypatch):
    from engine.training.fit import fit

    calls = []
    chosen = POINT_LOSSES[loss]
    monkeypatch.setitem(POINT_LOSSES, loss, lambda *a, **k: calls.append(1) or chosen(*a, **k))
    events = ListSink()
    config = TrainConfig(dataset=str(synthetic_dataset), out=str(tmp_path / "run"), model="unet",
                         model_config={"width": 4}, epochs=6, device="cpu", batch=4, crop=64, lr=1e-2,
                         seed=0, val_fraction=0.34, threads=1, loss=loss)
    result = fit(config, events)
    assert len(calls) == result.steps > 0  # every step trained on this loss, not on the MSE
    epochs = events.of_type("epoch")
    assert len(epochs) == 6 and epochs[-1]["loss"] < 0.8 * epochs[0]["loss"]
    assert json.loads((tmp_path / "run" / "config.json").read_text())["loss"] == loss
