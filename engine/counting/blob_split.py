"""Splitting merged blobs of a density map, so the number of located objects follows the map's integral.

Touching objects give one blob with one peak: a model trained on Gaussians of sigma 4 px puts a single maximum
between two cells 6 px apart, so peak finding alone (engine.counting.localize.find_points) misses one of them. On
held-out VGG cells that lost a third of the objects (recall 0.67 at 8 px) although the map's integral was right
within 1-2 %. Here every peak owns the blob pixels nearer to it than to any other peak; a peak whose pixels hold
m objects' worth of density stands for round(m) objects (at least one: the peak is there), and those are placed
by weighted k-means over its pixels (weights = density), started from the peak and the pixels farthest from it.
Points are only added, never more than round(integral) in all; the peaks of regions holding one object stay
exactly where find_points put them.

No torch. Coordinates as in engine.counting.localize: (x, y) image pixels, cell (r, c) at stride s centred on
((c + 0.5) s, (r + 0.5) s).
"""

from __future__ import annotations

import heapq

import numpy as np

from engine.counting.localize import MAX_UPSAMPLED_PIXELS

KMEANS_ITERATIONS = 20


def locate_objects(density: np.ndarray, stride: int = 1, *,
                   image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Object locations from a density map: find_points' peaks plus the objects of merged blobs.

    What ``propose`` proposes and what ``evaluate`` scores, so the localisation figures describe the proposals.
    """
    from engine.counting.localize import find_points

    peaks = find_points(density, stride, image_size=image_size)
    return split_merged_blobs(density, stride, peaks, image_size=image_size)


def split_merged_blobs(density: np.ndarray, stride: int, peaks: np.ndarray, *,
                       image_size: tuple[int, int] | None = None, threshold: float = 0.05) -> np.ndarray:
    """``peaks`` plus the objects hidden in merged blobs, as an (N, 2) float array; N <= round(density.sum()).

    density     objects per cell at ``stride`` (as given to find_points)
    peaks       (P, 2) points find_points returned for this map
    threshold   blob pixels are those above this fraction of the map's highest value (find_points' threshold)
    image_size  (width, height): only the part of the map inside the image is used
    """
    from scipy.spatial import cKDTree

    peaks = np.asarray(peaks, dtype=np.float64).reshape(-1, 2)
    density = np.asarray(density, dtype=np.float32)
    wanted = round(float(density.sum(dtype=np.float64)))
    if len(peaks) == 0 or len(peaks) >= wanted:
        return peaks
    xy, weight = _blob_pixels(density, stride, image_size, threshold)
    if not len(xy):
        return peaks
    _, owner = cKDTree(peaks).query(xy)
    mass = np.bincount(owner, weights=weight, minlength=len(peaks))
    objects = _objects_per_peak(mass, wanted)
    kept = [peaks[objects == 1]]
    for index in np.flatnonzero(objects > 1):
        mine = owner == index
        kept.append(_weighted_kmeans(xy[mine], weight[mine], peaks[index], int(objects[index])))
    return np.vstack(kept)


def _blob_pixels(density: np.ndarray, stride: int, image_size, threshold: float):
    """(x, y) centres and density masses of the map's pixels above the threshold, at up to one image pixel."""
    from scipy.ndimage import zoom

    factor = max(1, int(stride))
    while factor > 1 and density.size * factor * factor > MAX_UPSAMPLED_PIXELS:
        factor //= 2
    fine = density if factor == 1 else zoom(density, factor, order=1, grid_mode=True, mode="nearest")
    pixel = stride / factor
    if image_size is not None:
        fine = fine[:int(np.ceil(image_size[1] / pixel)), :int(np.ceil(image_size[0] / pixel))]
    top = float(fine.max()) if fine.size else 0.0
    if top <= 0:
        return np.zeros((0, 2)), np.zeros(0)
    rows, cols = np.nonzero(fine > threshold * top)
    # Mass per fine pixel: each cell's objects spread over its factor x factor fine pixels.
    weight = fine[rows, cols].astype(np.float64) / (factor * factor)
    return np.column_stack([(cols + 0.5) * pixel, (rows + 0.5) * pixel]), weight


def _objects_per_peak(mass: np.ndarray, wanted: int) -> np.ndarray:
    """round(mass) objects per peak, at least 1, and no more than ``wanted`` in total.

    Extra objects go one at a time to the peak with the most mass left over (an extra one needs more than half
    an object's worth left), so when the total cap bites the fullest blobs are split first.
    """
    objects = np.ones(len(mass), dtype=int)
    extra = wanted - len(mass)
    heap = [(-(m - 1.0), i) for i, m in enumerate(mass)]
    heapq.heapify(heap)
    while extra > 0 and heap:
        negative_left, index = heapq.heappop(heap)
        if -negative_left <= 0.5:
            break
        objects[index] += 1
        extra -= 1
        heapq.heappush(heap, (-(mass[index] - objects[index]), index))
    return objects


def _weighted_kmeans(xy: np.ndarray, weight: np.ndarray, peak: np.ndarray, k: int) -> np.ndarray:
    """k centres of the weighted pixels: started from the peak and, one by one, the pixel with the largest
    weight x squared distance to the centres so far (deterministic k-means++), then Lloyd iterations.

    Memory stays O(pixels) whatever k is (a KD-tree assigns pixels to centres), so a broad low-density region
    that the integral says holds hundreds of objects cannot build a pixels x k matrix.
    """
    from scipy.spatial import cKDTree

    centres = np.empty((k, 2), dtype=np.float64)
    centres[0] = peak
    nearest = ((xy - peak) ** 2).sum(axis=1)
    for index in range(1, k):
        centres[index] = xy[int(np.argmax(weight * nearest))]
        nearest = np.minimum(nearest, ((xy - centres[index]) ** 2).sum(axis=1))
    for _ in range(KMEANS_ITERATIONS):
        _, label = cKDTree(centres).query(xy)
        total = np.bincount(label, weights=weight, minlength=k)
        moved = centres.copy()
        has = total > 0
        for axis in (0, 1):
            moved[has, axis] = np.bincount(label, weights=weight * xy[:, axis], minlength=k)[has] / total[has]
        if np.allclose(moved, centres, atol=1e-3):
            return moved
        centres = moved
    return centres
