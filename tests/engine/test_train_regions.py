"""Training with regions: crops over what is known, a loss masked to it, stated counts, validation inside it."""

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from engine.dataset import Dataset
from engine.dataset.regions import rectangle, scored_cells
from engine.dataset.sidecar import Annotation, read_sidecar, write_sidecar
from engine.density import DensitySettings
from engine.events import ListSink
from engine.models.contract import DEFAULT_DENSITY_SCALE
from engine.training.crop_regions import AreaSource
from engine.training.crops import CropSettings, TrainingCrops, WholeImages
from engine.training.fit import TrainConfig, fit
from engine.training.loop import Precision, density_loss, evaluate, stated_count_loss

SCALE = DEFAULT_DENSITY_SCALE


def _image(tmp_path, height, width, name="a.png"):
    path = tmp_path / name
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)
    return path


def _crops(tmp_path, points, regions, height=64, width=64, size=64, stride=4, samples=8, **crop):
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    return TrainingCrops([_image(tmp_path, height, width)], [points], [(width, height)],
                         CropSettings(size, **crop), stride=stride, density=DensitySettings(sigma=2.0),
                         samples=samples, seed=5, areas=[AreaSource(len(points), regions, width, height)])


def test_crops_of_a_partly_annotated_image_always_hold_known_cells(tmp_path):
    # A 256-wide image annotated only in its 40 left columns: a uniform 32-pixel crop misses them 3 times in 4.
    annotated = [rectangle("annotated", 0, 0, 40, 96)]
    crops = _crops(tmp_path, [[10, 10], [30, 50]], annotated, height=96, width=256, size=32, samples=64)
    known = [float(crops[i][3]["known"].sum()) for i in range(64)]
    assert min(known) > 0
    assert any(k < 64 for k in known)  # some crops do reach into the unknown columns: the mask cuts them
    plain = _crops(tmp_path, [[10, 10], [30, 50]], [], height=96, width=256, size=32, samples=64)
    assert all(float(plain[i][3]["known"].sum()) == 64 for i in range(64))  # annotated whole: all known


@pytest.mark.parametrize("flip", [False, True])
def test_the_loss_mask_follows_the_crop_through_flips(tmp_path, flip):
    left_half = [rectangle("annotated", 0, 0, 32, 64)]
    crops = _crops(tmp_path, [[8, 8]], left_half, scale_range=(1.0, 1.0), flip=flip, samples=16)
    masks = [crops[i][3]["known"][0] for i in range(16)]  # the crop is the whole 64x64 image, 16x16 cells
    left, right = torch.ones(16, 8), torch.zeros(16, 8)
    seen = {"left" if torch.equal(m[:, :8], left) and torch.equal(m[:, 8:], right) else
            "right" if torch.equal(m[:, :8], right) and torch.equal(m[:, 8:], left) else "other" for m in masks}
    assert seen == ({"left", "right"} if flip else {"left"})


def test_objects_in_the_unknown_half_do_not_change_the_loss(tmp_path):
    """Whatever the network predicts for the unannotated half (objects nobody clicked), the loss is the same."""
    left_half = [rectangle("annotated", 0, 0, 32, 64)]
    crops = _crops(tmp_path, [[8, 8], [20, 40]], left_half, scale_range=(1.0, 1.0), flip=False)
    _, target, _, regions, _ = crops[0]
    target, known = target[None], regions["known"][None]
    blob = torch.zeros_like(target)
    blob[..., 4:12, 10:14] = 5.0  # a dense object in columns 40..56: the unknown half
    assert float(density_loss(target + blob, target, known)) == 0.0
    assert float(density_loss(target + blob, target)) > 0  # unmasked, the same prediction would be punished
    blob[..., 4:12, 2:6] = 5.0  # and in the known half it is
    assert float(density_loss(target + blob, target, known)) > 0


def test_a_stated_count_costs_nothing_when_the_map_sums_to_it_inside_the_region():
    masks = torch.zeros(2, 4, 8, 8)
    masks[0, 0, 2:6, 2:6] = 1.0
    masks[1, 1, :4, :] = 0.5  # a region covering half of each of its cells
    stated = torch.tensor([[3.0 * SCALE, 0, 0, 0], [0, 2.0 * SCALE, 0, 0]])
    output = torch.zeros(2, 1, 8, 8)
    output[0, 0, 2:6, 2:6] = 3.0 * SCALE / 16
    output[1, 0, :4, :] = 2.0 * SCALE / 16  # 32 cells x half of each = 16 cells' worth
    assert float(stated_count_loss(output, masks, stated)) == pytest.approx(0.0, abs=1e-6)
    output[0, 0, 0, 0] = 50.0  # outside every region: still nothing
    assert float(stated_count_loss(output, masks, stated)) == pytest.approx(0.0, abs=1e-6)
    output[0, 0, 3, 3] += 1.0 * SCALE  # one object too many inside the first region
    assert float(stated_count_loss(output, masks, stated)) == pytest.approx(SCALE**2 / 16 / 2, rel=1e-5)


def test_crops_of_an_image_with_only_stated_counts_hold_the_count_region_whole(tmp_path):
    region = rectangle("count", 100, 20, 124, 44, count=7)
    crops = _crops(tmp_path, [], [region], height=96, width=256, size=32, samples=16, scale_range=(1.0, 1.0))
    region_cells = float(AreaSource(0, [region], 256, 96).known().counts[0][0].sum()) / 16  # stride 4
    assert region_cells >= 36  # about 24 x 24 pixels = 6 x 6 cells
    for index in range(16):
        _, _, _, regions, _ = crops[index]
        assert float(regions["known"].sum()) == 0  # no point is known anywhere: only the count teaches
        assert float(regions["count_masks"][0].sum()) == pytest.approx(region_cells)  # all of it
        assert float(regions["stated"][0]) == pytest.approx(7 * SCALE)
        assert float(regions["count_masks"][1:].sum()) == 0


def test_a_count_region_cut_by_the_crop_is_left_out(tmp_path):
    region = rectangle("count", 0, 0, 60, 60, count=9)  # bigger than any 32-pixel crop
    crops = _crops(tmp_path, [], [region], height=64, width=64, size=32, samples=8, scale_range=(1.0, 1.0))
    assert all(float(crops[i][3]["count_masks"].sum()) == 0 for i in range(8))


class _Constant(nn.Module):
    """A 'network' predicting the same density in every cell (stride 1, any input size)."""

    stride, input_multiple = 1, 8

    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, images):
        return torch.full((images.shape[0], 1, images.shape[2], images.shape[3]), self.value)


def test_validation_compares_counts_only_where_the_annotation_is_known(tmp_path):
    path = _image(tmp_path, 64, 64)
    points = np.array([[5.0, 5.0], [10.0, 40.0], [20.0, 60.0], [50.0, 10.0]])  # 3 left, 1 clicked on the right
    left_half = [rectangle("annotated", 0, 0, 32, 64)]
    per_cell = 3 * SCALE / (32 * 64)  # the left half's 3 objects, spread over its 2048 cells
    partial = WholeImages([path], [points], [(64, 64)], 8, areas=[AreaSource(4, left_half, 64, 64)])
    loader = torch.utils.data.DataLoader(partial, batch_size=1)
    result = evaluate(_Constant(per_cell), loader, Precision(torch.device("cpu")), SCALE)
    assert result["mae"] == pytest.approx(0.0, abs=1e-4)
    whole = torch.utils.data.DataLoader(WholeImages([path], [points], [(64, 64)], 8), batch_size=1)
    assert evaluate(_Constant(per_cell), whole, Precision(torch.device("cpu")), SCALE)["mae"] == pytest.approx(2.0)


def test_scored_cells_add_stated_counts_beside_the_annotated_area():
    from engine.dataset.regions import known_area

    regions = [rectangle("annotated", 0, 0, 10, 10), rectangle("count", 20, 0, 30, 10, count=4),
               rectangle("count", 5, 5, 15, 15, count=9)]  # overlaps the annotated area: not added
    known = known_area(2, regions, 40, 20)
    cells, count = scored_cells(known, [[1, 1], [3, 3]])
    assert count == 2 + 4
    assert np.array_equal(cells, known.complete | known.counts[0][0])
    assert scored_cells(known_area(2, [], 40, 20), [[1, 1], [3, 3]]) == (None, 2.0)


def test_partial_and_count_only_images_train_and_validate(tmp_path):
    from engine.dataset.synthetic import write_synthetic_dataset

    folder = write_synthetic_dataset(tmp_path / "cells", images=6, size=(128, 128), counts=(10, 40), seed=1)
    for index, sidecar in enumerate(sorted(folder.glob("*.json"))):
        old = read_sidecar(sidecar)
        if index % 2:  # left half annotated: its points only
            keep = old.points[old.points[:, 0] < 64]
            regions = [rectangle("annotated", 0, 0, 64, 128)]
        else:  # no points, one stated count
            inside = (old.points[:, 0] < 40) & (old.points[:, 1] < 40)
            keep, regions = np.zeros((0, 2)), [rectangle("count", 0, 0, 40, 40, count=int(inside.sum()))]
        write_sidecar(sidecar, Annotation(old.image, old.width, old.height, keep, regions=regions))
    assert {entry.status for entry in Dataset(folder)} == {"partial"}
    events = ListSink()
    result = fit(TrainConfig(dataset=str(folder), out=str(tmp_path / "run"), model="unet", model_config={"width": 4},
                             epochs=2, device="cpu", batch=4, crop=64, lr=1e-2, seed=0, val_fraction=0.34,
                             threads=1), events)
    start = events.of_type("start")[0]
    assert start["train_images"] + start["val_images"] == 6 and start["val_images"] > 0
    assert result.best_val_mae is not None and np.isfinite(result.best_val_mae)
    assert all(np.isfinite(e["loss"]) and e["loss"] > 0 for e in events.of_type("epoch"))
