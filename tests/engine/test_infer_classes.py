"""Counting with a model of two classes: one map per class, the total unchanged, tiles and batches alike."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib does not add it; the helpers live here
from count_fixtures import (
    red_counter_checkpoint,
    red_counter_registered,
    red_pixel_image,
    spread_pixels,
    write_red_image,
)

from engine.counting.infer import count_images, predict_class_densities, predict_density
from engine.counting.uncertainty import count_spread
from engine.models.checkpoint import checkpoint_classes, load_model, save_checkpoint


@pytest.fixture
def two_class_counter(tmp_path):
    """(model, record) of the exact-answer model counting red pixels as "live" and green ones as "dead"."""
    with red_counter_registered():
        path = red_counter_checkpoint(tmp_path / "two.pt", classes=["live", "dead"])
        yield load_model(path, "cpu")


def test_each_class_has_its_own_map_and_the_density_is_their_total(two_class_counter):
    model, record = two_class_counter
    assert checkpoint_classes(record) == ["live", "dead"]
    red, green = spread_pixels(7, 60, 40), spread_pixels(3, 60, 40, offset=5)
    image = red_pixel_image(red, 60, 40, green_pixels=green)
    maps = predict_class_densities(model, record, image)
    assert maps.shape == (2, 10, 15)
    assert maps[0].sum() == pytest.approx(7.0, abs=1e-4)
    assert maps[1].sum() == pytest.approx(3.0, abs=1e-4)
    total = predict_density(model, record, image)
    np.testing.assert_allclose(total, maps.sum(axis=0), atol=1e-6)
    # Tiled: every class's map stitched alike.
    tiled = predict_class_densities(model, record, image, max_pixels=24 * 24, batch_size=1)
    np.testing.assert_allclose(tiled, maps, atol=1e-5)
    # The flips' spread reads the total: four views of the same 10 objects.
    spread = count_spread(model, record, image)
    assert spread.count == pytest.approx(10.0, abs=1e-3) and spread.spread < 1e-3


def test_count_images_gives_class_counts_in_batches_and_alone(two_class_counter, tmp_path):
    model, record = two_class_counter
    paths = [write_red_image(tmp_path, f"{i}.png", spread_pixels(i + 1, 64, 48),
                             green_pixels=spread_pixels(2 * i, 64, 48, offset=5)) for i in range(3)]
    for options in ({"batch_size": 4}, {"batch_size": 1, "max_pixels": 32 * 32}):
        results = list(count_images(paths, (model, record), **options))
        for i, result in enumerate(results):
            assert result.class_densities.shape == (2, *result.density.shape)
            assert result.class_counts == pytest.approx([i + 1, 2 * i], abs=1e-3)
            assert result.count == pytest.approx(3 * i + 1, abs=1e-3)


def test_a_one_class_model_has_no_class_maps(tmp_path):
    with red_counter_registered():
        model, record = load_model(red_counter_checkpoint(tmp_path / "one.pt"), "cpu")
        path = write_red_image(tmp_path, "a.png", spread_pixels(4, 64, 48))
        (result,) = count_images([path], (model, record))
    assert result.class_densities is None and result.class_counts is None
    assert result.count == pytest.approx(4.0, abs=1e-4)


@pytest.mark.parametrize("arch", ["fcrn_a", "unet"])
def test_a_real_two_class_network_sums_its_channels_tiled_or_whole(arch, tmp_path):
    from engine.models import get_model
    from engine.models.contract import DEFAULT_NORMALIZATION

    torch.manual_seed(0)
    model = get_model(arch, classes=2, width=4)
    path = save_checkpoint(tmp_path / "m.pt", {
        "arch": arch, "model_config": model.config, "stride": model.stride,
        "input_multiple": model.input_multiple, "normalization": DEFAULT_NORMALIZATION, "density_scale": 100.0,
        "density": {"mode": "fixed", "sigma": 3.0}, "state_dict": model.state_dict(), "classes": ["live", "dead"]})
    model, record = load_model(path, "cpu")
    image = (np.random.default_rng(3).random((120, 170, 3)) * 255).astype(np.uint8)
    maps = predict_class_densities(model, record, image)
    assert maps.shape[0] == 2 and not np.allclose(maps[0], maps[1])  # two channels, not one copied
    with torch.inference_mode():
        raw = model(torch.zeros(1, 3, 64, 64))
    assert raw.shape[1] == 2
    tiled = predict_class_densities(model, record, image, max_pixels=96 * 96)
    np.testing.assert_allclose(tiled, maps, atol=1e-4 * np.abs(maps).max())
    np.testing.assert_allclose(predict_density(model, record, image), maps.sum(axis=0), rtol=1e-5, atol=1e-7)
