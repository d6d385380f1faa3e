"""Density map -> points: known points come back from the density map they make, at any stride."""

import numpy as np
import pytest

from engine.density import DensitySettings, density_map
from engine.counting.localize import find_points
from engine.metrics import match_points


def _scattered_points(count, width, height, spacing, seed):
    """Random points at least ``spacing`` apart and away from the border."""
    rng = np.random.default_rng(seed)
    points = []
    while len(points) < count:
        candidate = rng.uniform([8, 8], [width - 8, height - 8])
        if all(np.hypot(*(candidate - p)) >= spacing for p in points):
            points.append(candidate)
    return np.array(points)


@pytest.mark.parametrize("stride, tolerance", [(1, 0.5), (4, 1.0), (8, 2.0)])
def test_points_are_recovered_from_their_density_map(stride, tolerance):
    width, height = 200, 160
    points = _scattered_points(25, width, height, spacing=20, seed=stride)
    density = density_map(points, (height, width), DensitySettings(sigma=3.0), stride=stride)
    found = find_points(density, stride, image_size=(width, height))
    assert len(found) == 25  # round(sum) peaks
    pred_index, _ = match_points(found, points, radius=tolerance)
    assert len(pred_index) == 25, np.abs(found[:, None] - points[None]).min(axis=1)


def test_a_cell_maps_to_the_centre_of_its_pixels():
    density = np.zeros((6, 6), np.float32)
    density[2, 3] = 1.0  # cell (r=2, c=3) at stride 8 covers x in [24, 32), y in [16, 24)
    for smooth in (0.0, 1.0, None):
        np.testing.assert_allclose(find_points(density, 8, smooth_sigma=smooth), [[28.0, 20.0]], atol=1e-6)
    np.testing.assert_allclose(find_points(density[:, :], 1, smooth_sigma=0), [[3.5, 2.5]], atol=1e-6)


def test_number_of_points_follows_the_integral_and_the_threshold():
    density = np.zeros((40, 40), np.float32)
    density[10, 10], density[30, 30], density[10, 30] = 1.0, 1.0, 0.04  # the third is noise
    assert len(find_points(density, 1, smooth_sigma=0)) == 2  # round(2.04) = 2
    assert len(find_points(density, 1, smooth_sigma=0, count=3)) == 2  # below 5% of the peak: dropped
    assert len(find_points(density, 1, smooth_sigma=0, count=3, threshold=0.01)) == 3
    assert len(find_points(density, 1, smooth_sigma=0, count=1)) == 1
    assert len(find_points(np.zeros((5, 5)), 1)) == 0
    assert len(find_points(np.full((5, 5), 0.01), 1)) == 0  # integral 0.25 rounds to no object


def test_points_stay_apart_and_inside_the_image():
    density = np.zeros((10, 10), np.float32)
    density[4, 4:6] = 0.5  # a two-cell plateau is one object, not two
    found = find_points(density, 1, smooth_sigma=0, count=2, min_distance=3)
    assert len(found) == 1 and found[0] == pytest.approx([5.0, 4.5])
    density = np.zeros((3, 3), np.float32)
    density[2, 2] = 1.0  # the last cell at stride 8 overhangs a 20-pixel image: its centre (20) is outside
    found = find_points(density, 8, image_size=(20, 18))
    assert len(found) == 1 and 16 <= found[0, 0] < 20 and 16 <= found[0, 1] < 18
    np.testing.assert_allclose(find_points(density, 8, image_size=(24, 24)), [[20.0, 20.0]], atol=0.5)
