"""engine.counting.blob_split: objects whose density blobs merged are found again, and the count is respected."""

import numpy as np
import pytest

from engine.counting.blob_split import _objects_per_peak, split_merged_blobs
from engine.density import DensitySettings, density_map
from engine.counting.localize import find_points
from engine.metrics import match_points


def _scene():
    """Six isolated objects and three touching groups (two pairs 6 px apart and a triple), sigma 4."""
    alone = np.array([[20.3, 20.7], [60.1, 18.4], [100.6, 21.2], [20.9, 100.2], [60.4, 104.8], [104.3, 101.1]])
    pairs = np.array([[30.2, 60.5], [36.2, 60.5], [80.4, 58.3], [80.4, 64.3]])
    triple = np.array([[60.0, 80.0], [66.0, 80.0], [63.0, 85.2]])
    return alone, np.vstack([pairs, triple])


@pytest.mark.parametrize("stride", [1, 4])
def test_touching_objects_are_split_into_as_many_points_as_the_blob_holds(stride):
    alone, touching = _scene()
    truth = np.vstack([alone, touching])
    density = density_map(truth, (128, 128), DensitySettings(sigma=4.0), stride=stride)
    peaks = find_points(density, stride, image_size=(128, 128))
    assert len(peaks) == len(alone) + 3  # the premise: one peak per merged group
    points = split_merged_blobs(density, stride, peaks, image_size=(128, 128))
    assert len(points) == len(truth) == round(float(density.sum()))
    assert len(match_points(points, truth, radius=3.0)[0]) == len(truth)  # each within 3 px of its own object
    # Lone objects keep exactly the point peak finding gave them.
    lone_peaks = peaks[match_points(peaks, alone, radius=2.0)[0]]
    assert len(lone_peaks) == len(alone)
    assert all(np.any(np.all(points == peak, axis=1)) for peak in lone_peaks)


def test_nothing_is_added_when_the_peaks_already_match_the_count():
    alone, _ = _scene()
    density = density_map(alone, (128, 128), DensitySettings(sigma=4.0), stride=1)
    peaks = find_points(density, 1)
    np.testing.assert_array_equal(split_merged_blobs(density, 1, peaks), peaks)
    assert len(split_merged_blobs(np.zeros((8, 8)), 1, np.zeros((0, 2)))) == 0


def test_objects_per_peak_rounds_the_mass_and_respects_the_total():
    assert list(_objects_per_peak(np.array([1.0, 2.4, 2.6, 0.3]), wanted=10)) == [1, 2, 3, 1]
    # Capped: the fullest blob is split first.
    assert list(_objects_per_peak(np.array([1.0, 2.4, 3.9]), wanted=5)) == [1, 1, 3]
    assert list(_objects_per_peak(np.array([0.2, 0.2]), wanted=1)) == [1, 1]  # never below one per peak
