"""Training data: crops whose targets count exactly the points they hold, repeatable epochs, padded images."""

import numpy as np
import pytest
import torch
from PIL import Image

from engine.training.crops import CropSettings, EpochSampler, TrainingCrops, WholeImages
from engine.density import DensitySettings
from engine.models.contract import DEFAULT_DENSITY_SCALE, DEFAULT_NORMALIZATION, normalize_image


def _image(tmp_path, height, width, name="a.png"):
    rng = np.random.default_rng(0)
    path = tmp_path / name
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)
    return path


def _crops(tmp_path, points, height=96, width=128, **crop):
    path = _image(tmp_path, height, width)
    settings = CropSettings(**{"size": 64, **crop})
    return TrainingCrops([path], [np.asarray(points, dtype=float)], [(width, height)], settings, stride=4,
                         density=DensitySettings(mode="adaptive", sigma=3.0), samples=8, seed=3)


@pytest.mark.parametrize("crop", [{}, {"scale_range": (1.0, 1.0), "flip": False}])
def test_targets_sum_to_the_points_inside_each_crop(tmp_path, crop):
    rng = np.random.default_rng(1)
    points = np.column_stack([rng.uniform(0, 128, 60), rng.uniform(0, 96, 60)])
    crops = _crops(tmp_path, points, **crop)
    for index in range(16):  # two epochs of 8
        image, target, count, _, _ = crops[index]
        assert image.shape == (3, 64, 64) and image.dtype == torch.float32
        assert target.shape == (1, 16, 16)
        assert float(target.sum()) / DEFAULT_DENSITY_SCALE == pytest.approx(float(count), abs=1e-3)
    assert any(float(crops[i][2]) > 0 for i in range(8))


def test_samples_are_repeatable_and_differ_between_epochs(tmp_path):
    crops = _crops(tmp_path, [[10.0, 10.0], [100.0, 50.0]])
    first, again, next_epoch = crops[2], crops[2], crops[2 + 8]
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0], next_epoch[0])


def test_a_point_lands_where_the_unzoomed_unflipped_crop_puts_it(tmp_path):
    crops = _crops(tmp_path, [[40.5, 30.5]], height=64, width=64, scale_range=(1.0, 1.0), flip=False)
    image, target, count, _, _ = crops[0]
    assert float(count) == 1
    # A 64x64 image and a 64 crop: the crop is the whole image; the point is in cell (30 // 4, 40 // 4).
    peak = np.unravel_index(int(target[0].argmax()), target[0].shape)
    assert peak == (7, 10)


def test_small_images_are_padded_with_the_mean_colour(tmp_path):
    crops = _crops(tmp_path, [[5.0, 5.0], [20.0, 10.0]], height=24, width=30, scale_range=(1.0, 1.0))
    image, target, count, _, _ = crops[0]
    assert image.shape == (3, 64, 64)
    assert float(count) == 2 and float(target.sum()) / DEFAULT_DENSITY_SCALE == pytest.approx(2, abs=1e-3)
    # At least 64*64 - 24*30 pixels are padding, which is the mean colour: 0 after normalisation.
    zero = (image.abs().amax(dim=0) < 0.02).sum()
    assert int(zero) >= 64 * 64 - 24 * 30


def test_epoch_sampler_is_a_repeatable_permutation_that_can_skip(tmp_path):
    sampler = EpochSampler(10, seed=5)
    sampler.set_epoch(2)
    order = list(sampler)
    assert sorted(order) == list(range(20, 30)) and order == list(sampler)
    sampler.set_epoch(2, skip=4)
    assert list(sampler) == order[4:] and len(sampler) == 6
    sampler.set_epoch(3)
    assert sorted(list(sampler)) == list(range(30, 40))


def test_whole_images_get_a_mirrored_margin_and_sides_of_the_input_multiple(tmp_path):
    """Validation sees an image as counting does (engine.counting.infer): 16 mirrored pixels around it, then mirrored
    up to multiples of lcm(input multiple, stride); ``cells`` says which output cells are the image's."""
    path = _image(tmp_path, 50, 70)
    images = WholeImages([path], [np.zeros((7, 2))], [(70, 50)], input_multiple=8, stride=4)
    image, count, index, cells, known, _ = images[0]
    assert image.shape == (3, 88, 104) and float(count) == 7 and index == 0  # 50 + 32 -> 88, 70 + 32 -> 104
    expected = torch.from_numpy(normalize_image(np.asarray(Image.open(path)), DEFAULT_NORMALIZATION))
    assert torch.allclose(image[:, 16:66, 16:86], expected)
    assert torch.allclose(image[:, 15, 16:86], expected[:, 1]) and torch.allclose(image[:, 16:66, 86], expected[:, :, 68])
    assert cells.tolist() == [4, 13, 18]  # first cell 16 / 4; ceil(50 / 4) rows, ceil(70 / 4) columns
    assert known.numel() == 0  # annotated whole: every cell is compared
