"""Learning from unlabeled images by ranking: nested crops, the hinge loss, and training with --unlabeled."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from engine.models.checkpoint import load_checkpoint
from engine.events import ListSink
from engine.training.ranking import RankingStacks, RankSettings, nested_boxes, ranking_loss
from engine.dataset.synthetic import write_synthetic_dataset
from engine.training.fit import TrainConfig, fit


def contains(outer, inner) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (3, 200), (200, 3), (7, 7), (64, 64), (257, 129), (1024, 768),
                                  (5000, 40)])
def test_every_crop_lies_in_the_image_and_contains_the_next(size):
    width, height = size
    rng = np.random.default_rng(7)
    settings_list = [RankSettings(), RankSettings(central=1.0), RankSettings(crops=8, scale=0.9),
                     RankSettings(largest_fraction=0.3, max_side=10_000), RankSettings(scale=0.5)]
    for settings in settings_list:
        for _ in range(200):
            boxes = nested_boxes(width, height, rng, settings, input_size=64)
            assert boxes.shape == (settings.crops, 4)
            sides = boxes[:, 2:] - boxes[:, :2]
            assert np.all(sides[:, 0] == sides[:, 1]) and np.all(sides >= 1)  # squares, never empty
            assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2] <= width) and np.all(boxes[:, 3] <= height)
            assert all(contains(boxes[i], boxes[i + 1]) for i in range(len(boxes) - 1))
            assert np.all(np.diff(sides[:, 0]) <= 0)


def test_containment_holds_for_random_image_sizes_and_settings():
    rng = np.random.default_rng(11)
    for _ in range(2000):
        width, height = (int(v) for v in rng.integers(1, 400, 2))
        settings = RankSettings(crops=int(rng.integers(2, 9)), scale=float(rng.uniform(0.3, 0.95)),
                                central=float(rng.uniform(1, 8)), largest_fraction=float(rng.uniform(0.1, 1)))
        boxes = nested_boxes(width, height, rng, settings, input_size=int(rng.integers(8, 300)))
        assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2] <= width) and np.all(boxes[:, 3] <= height)
        assert all(contains(boxes[i], boxes[i + 1]) for i in range(len(boxes) - 1))


def test_crop_sizes_follow_the_scale_factor_and_the_anchor_is_central():
    rng = np.random.default_rng(0)
    settings = RankSettings(max_side=10_000)
    for _ in range(200):
        boxes = nested_boxes(1000, 600, rng, settings, input_size=64)
        sides = (boxes[:, 2] - boxes[:, 0]).astype(float)
        assert np.allclose(sides[1:] / sides[:-1], 0.75, atol=0.01)
        centre = (boxes[-1, :2] + boxes[-1, 2:]) / 2
        assert 250 - 2 <= centre[0] <= 750 + 2 and 150 - 2 <= centre[1] <= 450 + 2  # the central half
    # The default cap puts the middle crop at the input size: the outer and inner crops are equally rescaled.
    boxes = nested_boxes(4000, 4000, np.random.default_rng(1), RankSettings(), input_size=128)
    assert abs((boxes[2, 2] - boxes[2, 0]) - 128) <= 2


def _image_folder(tmp_path, sizes):
    paths = []
    for index, (width, height) in enumerate(sizes):
        array = np.random.default_rng(index).integers(0, 255, (height, width, 3), dtype=np.uint8)
        path = tmp_path / f"im{index}.png"
        Image.fromarray(array).save(path)
        paths.append(path)
    return paths


def test_stacks_are_resized_to_the_input_size_and_repeat_per_seed_epoch_index(tmp_path):
    sizes = [(97, 61), (5, 300), (32, 32)]
    paths = _image_folder(tmp_path, sizes)
    stacks = RankingStacks(paths, sizes, input_size=48, seed=3)
    again = RankingStacks(paths, sizes, input_size=48, seed=3)
    other_seed = RankingStacks(paths, sizes, input_size=48, seed=4)
    assert len(stacks) == 3
    for index in (0, 1, 2, 3, 7):  # index 3 and 7: later "epochs" over the unlabeled images
        item = stacks[index]
        assert item.shape == (5, 3, 48, 48) and item.dtype == torch.float32
        assert torch.equal(item, again[index])
    assert not torch.equal(stacks[0], other_seed[0])
    assert not torch.equal(stacks[0], stacks[3])  # the next epoch cuts other crops
    # Every image comes once per epoch (the order is shuffled per epoch).
    first_epoch = {tuple(stacks[i][0, :, 0, 0].tolist()) for i in range(3)}
    assert len(first_epoch) == 3


def test_ranking_loss_is_zero_when_ordered_and_pushes_wrong_pairs_apart():
    ordered = torch.tensor([[10.0, 8.0, 8.0, 3.0, 0.0]], requires_grad=True)
    loss = ranking_loss(ordered)
    assert loss.item() == 0.0
    wrong = torch.tensor([[10.0, 12.0, 5.0, 3.0, 1.0], [4.0, 3.0, 2.0, 1.0, 0.0]], requires_grad=True)
    loss = ranking_loss(wrong)
    assert loss.item() == pytest.approx(2.0 / 2)  # one violation of 2 objects, averaged over 2 stacks
    loss.backward()
    grad = wrong.grad
    assert grad[0, 1] > 0 and grad[0, 0] < 0  # descent lowers the inner count and raises the outer one
    assert torch.count_nonzero(grad[0, 2:]) == 0 and torch.count_nonzero(grad[1]) == 0
    assert ranking_loss(ordered, margin=1.0).item() > 0  # a margin also asks for a gap (0 by default)


def tiny_config(dataset, out, **overrides) -> TrainConfig:
    values = {"dataset": str(dataset), "out": str(out), "model": "unet", "model_config": {"width": 4},
              "epochs": 2, "device": "cpu", "batch": 2, "crop": 32, "lr": 1e-2, "seed": 0, "val_fraction": 0.34,
              "threads": 1, "unlabeled": True}
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture
def partly_annotated(tmp_path):
    return write_synthetic_dataset(tmp_path / "cells", images=7, size=(64, 80), counts=(5, 15), seed=2,
                                   annotate=4)


def test_training_with_unlabeled_images_reports_the_ranking_loss_and_resumes(partly_annotated, tmp_path):
    out = tmp_path / "run"
    events = ListSink()
    first = fit(tiny_config(partly_annotated, out, rank_weight=0.5), events)
    start = events.of_type("start")[0]
    assert start["unlabeled_images"] == 3 and start["rank_weight"] == 0.5
    progress, epochs = events.of_type("progress"), events.of_type("epoch")
    assert progress and all("rank_loss" in p and p["rank_loss"] >= 0 for p in progress)
    assert len(epochs) == 2 and all(e["rank_loss"] >= 0 for e in epochs)
    saved = json.loads((out / "config.json").read_text())
    assert (saved["unlabeled"], saved["rank_weight"], saved["rank_batch"]) == (True, 0.5, 1)
    summary = load_checkpoint(first.last_checkpoint)["train_summary"]
    assert summary["unlabeled_images"] == 3

    resumed = ListSink()
    config = TrainConfig.from_json(saved)
    config.epochs, config.resume = 3, True
    second = fit(config, resumed)
    assert resumed.of_type("start")[0]["resumed_from_step"] == first.steps
    assert second.steps == first.steps * 3 // 2 and second.epochs == 3
    assert [e["epoch"] for e in resumed.of_type("epoch")] == [3] and "rank_loss" in resumed.of_type("epoch")[0]


def test_without_unlabeled_images_it_warns_and_trains_plainly(tmp_path):
    dataset = write_synthetic_dataset(tmp_path / "cells", images=4, size=(48, 48), counts=(3, 6), seed=3)
    events = ListSink()
    fit(tiny_config(dataset, tmp_path / "run", epochs=1), events)
    assert any("no unlabeled images" in w["message"] for w in events.of_type("warning"))
    assert events.of_type("start")[0]["unlabeled_images"] == 0
    assert events.of_type("epoch") and all("rank_loss" not in e for e in events.of_type("epoch"))


def test_with_weight_zero_the_labelled_training_is_exactly_plain_training(partly_annotated, tmp_path):
    plain, unweighted = ListSink(), ListSink()
    fit(tiny_config(partly_annotated, tmp_path / "plain", epochs=1, unlabeled=False), plain)
    fit(tiny_config(partly_annotated, tmp_path / "zero", epochs=1, rank_weight=0.0), unweighted)
    # The unlabeled crops touch neither the batch-norm statistics nor (at weight 0) the weights.
    assert [e["loss"] for e in unweighted.of_type("epoch")] == [e["loss"] for e in plain.of_type("epoch")]
    assert [e["val_mae"] for e in unweighted.of_type("epoch")] == [e["val_mae"] for e in plain.of_type("epoch")]
    assert "rank_loss" in unweighted.of_type("epoch")[0]


def test_the_ranking_term_changes_the_training_and_plain_runs_carry_no_ranking(partly_annotated, tmp_path):
    plain, ranked = ListSink(), ListSink()
    fit(tiny_config(partly_annotated, tmp_path / "plain", epochs=1, unlabeled=False, rank_weight=3.0), plain)
    assert any("only with --unlabeled" in w["message"] for w in plain.of_type("warning"))
    fit(tiny_config(partly_annotated, tmp_path / "ranked", epochs=1, rank_weight=100.0), ranked)
    assert "rank_loss" not in plain.of_type("progress")[-1]
    # The ranking gradient changes the weights: the same seed trains differently.
    assert plain.of_type("epoch")[0]["loss"] != ranked.of_type("epoch")[0]["loss"]


def test_cli_unlabeled_flags_reach_the_run(partly_annotated, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "engine", "train", str(partly_annotated), "--out", str(out), "--model", "unet",
               "--width", "4", "--epochs", "1", "--batch", "2", "--crop", "32", "--device", "cpu", "--threads",
               "1", "--unlabeled", "--rank-weight", "2", "--events", "jsonl"]
    completed = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    events = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    assert next(e for e in events if e["type"] == "start")["unlabeled_images"] == 3
    assert any("rank_loss" in e for e in events if e["type"] == "epoch")
    saved = json.loads((out / "config.json").read_text())
    assert saved["unlabeled"] is True and saved["rank_weight"] == 2.0
