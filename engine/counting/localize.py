"""Density map -> object locations: for localisation metrics and for proposing points to annotate.

A density map says how many objects there are and roughly where; the local maxima of the (smoothed) map are
where. We keep as many peaks as the map's integral says there are objects, so the proposed points agree with
the predicted count whenever the map has that many distinct peaks (in very dense crowds neighbouring blobs
merge and fewer points come back).

No torch here. Coordinates follow the engine's convention: (x, y) image pixels, origin at the top-left corner;
a cell (r, c) of a map at stride s covers pixels [c*s, (c+1)*s) x [r*s, (r+1)*s), so its centre is
x = (c + 0.5) * s, y = (r + 0.5) * s.
"""

from __future__ import annotations

import numpy as np

# Maps at a coarse stride are upsampled before peak finding, but never beyond this many pixels: an
# 8000x6000 image at stride 8 is localised at stride 2 rather than in 48 million pixels.
MAX_UPSAMPLED_PIXELS = 16_000_000


def find_points(density: np.ndarray, stride: int = 1, *, count: int | None = None,
                min_distance: float | None = None, smooth_sigma: float | None = None,
                threshold: float = 0.05, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """Object locations from a density map, as an (N, 2) float array of (x, y) image pixels.

    density       objects per cell at ``stride`` (it sums to the count)
    count         how many points to return at most; default round(density.sum())
    min_distance  two points are never closer than this (pixels); default max(2, stride)
    smooth_sigma  Gaussian smoothing before peak finding, in image pixels; default stride / 2, which puts a
                  blob's peak near its centre of mass even when the map is coarse
    threshold     a peak must exceed this fraction of the map's highest value: drops background ripples
                  (on VGG cells, 0.02 -> 0.05 raised precision from 0.85 to 0.96 at the same recall) while
                  keeping sparse objects whose kernels are up to ~4x wider than the densest ones
    image_size    (width, height): peaks are only sought inside the image (cells may overhang its border)
    """
    from scipy.ndimage import gaussian_filter, maximum_filter, zoom

    density = np.asarray(density, dtype=np.float32)
    if density.ndim != 2:
        raise ValueError(f"density must be a 2-D map, got shape {density.shape}")
    wanted = round(float(density.sum(dtype=np.float64))) if count is None else int(count)
    if wanted <= 0 or density.size == 0:
        return np.zeros((0, 2), dtype=np.float64)

    # Upsample so peaks can sit between cell centres; grid_mode keeps cell edges on pixel edges.
    factor = max(1, int(stride))
    while factor > 1 and density.size * factor * factor > MAX_UPSAMPLED_PIXELS:
        factor //= 2
    fine = density if factor == 1 else zoom(density, factor, order=1, grid_mode=True, mode="nearest")
    pixel = stride / factor  # image pixels per fine-map pixel
    smooth_sigma = stride / 2 if smooth_sigma is None else float(smooth_sigma)
    if smooth_sigma > 0:
        fine = gaussian_filter(fine, smooth_sigma / pixel, mode="constant")

    if image_size is not None:  # cells may overhang the image; its objects are in the part inside
        fine = fine[:int(np.ceil(image_size[1] / pixel)), :int(np.ceil(image_size[0] / pixel))]
    min_distance = max(2.0, float(stride)) if min_distance is None else float(min_distance)
    window = max(3, 2 * round(min_distance / pixel) + 1)
    peak_value = float(fine.max())
    if peak_value <= 0:
        return np.zeros((0, 2), dtype=np.float64)
    is_peak = (fine == maximum_filter(fine, size=window, mode="constant", cval=-np.inf))
    is_peak &= fine > threshold * peak_value
    rows, cols = np.nonzero(is_peak)
    order = np.argsort(-fine[rows, cols], kind="stable")
    rows, cols = rows[order], cols[order]
    dy, dx = _subpixel_offsets(fine, rows, cols)
    points = np.column_stack([(cols + 0.5 + dx) * pixel, (rows + 0.5 + dy) * pixel])
    if image_size is not None:  # a peak on the image's last pixel may be refined up to its far edge
        points[:, 0] = np.minimum(points[:, 0], np.nextafter(float(image_size[0]), 0))
        points[:, 1] = np.minimum(points[:, 1], np.nextafter(float(image_size[1]), 0))
    return _suppress_close(points, wanted, min_distance)


def rounded_inside(points: np.ndarray, image_size: tuple[int, int], decimals: int = 2) -> np.ndarray:
    """Points rounded to ``decimals`` for a file, still inside the image [0, width) x [0, height).

    Plain rounding would carry a point refined up to the image's far edge (x = width - 1e-12) onto x = width,
    which is outside by the engine's convention and would be flagged when the file is read back.
    """
    step = 10.0 ** -decimals
    points = np.round(np.asarray(points, dtype=np.float64).reshape(-1, 2), decimals)
    points[:, 0] = np.clip(points[:, 0], 0.0, round(image_size[0] - step, decimals))
    points[:, 1] = np.clip(points[:, 1], 0.0, round(image_size[1] - step, decimals))
    return points


def _subpixel_offsets(fine: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Peak position inside its pixel from a parabola through the pixel and its two neighbours, per axis.

    It also centres a peak that sits on a two-pixel plateau (a cell centre falls on a pixel edge whenever a
    map is upsampled by an even factor): the parabola puts the top half-way between the equal pixels.
    Outside the map nothing is known: a mirrored neighbour keeps a peak on the border at its pixel's centre
    (repeating the edge pixel would make a plateau and push the peak half a pixel out, onto the map's edge).
    """
    padded = np.pad(fine, 1, mode="reflect")
    r, c = rows + 1, cols + 1

    def vertex(before, centre, after):
        curvature = before - 2 * centre + after
        with np.errstate(divide="ignore", invalid="ignore"):
            offset = np.where(curvature < 0, 0.5 * (before - after) / curvature, 0.0)
        return np.clip(offset, -0.5, 0.5)

    centre = padded[r, c]
    return (vertex(padded[r - 1, c], centre, padded[r + 1, c]),
            vertex(padded[r, c - 1], centre, padded[r, c + 1]))


def _suppress_close(points: np.ndarray, wanted: int, min_distance: float) -> np.ndarray:
    """Keep points in the given (strongest first) order, dropping any closer than ``min_distance`` to a kept one.

    The maximum filter already keeps peaks apart, except on plateaus where equal neighbours all pass.
    """
    from scipy.spatial import cKDTree

    if len(points) <= 1:
        return points[:wanted]
    tree = cKDTree(points)
    suppressed = np.zeros(len(points), dtype=bool)
    kept = []
    for index in range(len(points)):
        if suppressed[index]:
            continue
        kept.append(index)
        if len(kept) == wanted:
            break
        # Strictly closer than min_distance (the small epsilon excludes the boundary itself).
        suppressed[tree.query_ball_point(points[index], min_distance - 1e-9)] = True
    return points[kept]
