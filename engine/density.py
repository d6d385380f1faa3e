"""Points -> density maps (no Qt, no torch).

A density map is a float32 (H, W) image whose pixels sum to the number of objects. Every point becomes a small
2-D Gaussian "stamp" of total mass 1; training targets, the density preview and the HDF5 export all come from
:func:`density_map`.

Conventions (shared with ``engine.dataset.sidecar``): a point is (x, y) in image pixels, origin at the
top-left corner of the top-left pixel, so a point at (x, y) lies in pixel row ``floor(y)``, column
``floor(x)`` and the centre of pixel (row r, column c) is (c + 0.5, r + 0.5).

How a stamp is made, and why:

- **Pixel-integrated Gaussian.** A pixel's weight is the Gaussian's mass over the pixel's square, which is a
  product of two differences of the normal CDF at the pixel edges (the Gaussian is separable). Sub-pixel
  positions are honoured: the stamp's centre of mass, with pixels at their centres, is the point itself.
- **Truncated at TRUNCATE x sigma**, symmetrically about the point (edges beyond the cut are clipped to
  it), so each stamp costs O(sigma^2) instead of a filter over the whole image.
- **Count-exact.** Each point's two 1-D weight vectors are renormalised over the pixels that lie inside the
  image, so every stamp sums to exactly 1, also for a point on the border. The whole map sums to the number of
  points inside the image up to float rounding.
- **Points outside the image are ignored** (not clipped onto the border): only points with 0 <= x < W and
  0 <= y < H are drawn, and the map sums to their number. Non-finite points are ignored too. In adaptive
  mode the points outside still count as neighbours, so a training crop given all of an image's points
  (shifted into crop coordinates) gets the same sigmas as the full image.
- **Output stride.** ``stride=s`` returns ``sum_pool(full_map, s)``: blocks of s x s full-resolution
  pixels are summed (the last row/column of blocks may be partial), giving shape ``(ceil(H/s), ceil(W/s))``.
  It is computed directly at the stride (the per-axis weights are summed into blocks before the outer
  product, which is the same sum because the stamp is separable) and is never an interpolation, so the count
  is the same at every stride.

Implementation: with X the (N, W) matrix of per-point column weights and Y the (N, H) matrix of row weights,
the map is the sum of outer products, ``Y.T @ X``. Both are sparse (each row holds one stamp's width), so one
sparse matrix product in scipy stamps all points at once, for any mix of sigmas, without a Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

# A stamp is cut at this many sigmas from the point (99.7% of a 1-D Gaussian's mass lies inside; the cut-off
# rest is given back by the renormalisation).
TRUNCATE = 3.0

# Every sigma (fixed, adaptive or given) is clamped to this range, in pixels. Below half a pixel the stamp is
# a one-pixel spike whatever sigma is (the pixel integration sees to that), and the floor avoids dividing by
# zero for coincident points in adaptive mode. Above 64 px a stamp spans hundreds of pixels per side and says
# nothing about where the object is.
MIN_SIGMA = 0.5
MAX_SIGMA = 64.0


@dataclass
class DensitySettings:
    """How a density map is made from points.

    mode: "fixed" uses ``sigma`` (pixels) for every point; "adaptive" uses beta x the mean distance to the
    ``k`` nearest neighbours (the CSRNet recipe for dense crowds), ``sigma`` for a lone point.
    """

    mode: str = "fixed"
    sigma: float = 4.0
    beta: float = 0.3
    k: int = 3

    @classmethod
    def from_dict(cls, data: dict) -> DensitySettings:
        known = {f.name for f in fields(cls)}
        settings = cls(**{key: value for key, value in data.items() if key in known})
        if settings.mode not in ("fixed", "adaptive"):
            settings.mode = "fixed"
        settings.sigma = float(settings.sigma) if float(settings.sigma) > 0 else 4.0
        settings.beta = float(settings.beta) if float(settings.beta) > 0 else 0.3
        settings.k = max(1, int(settings.k))
        return settings


@dataclass(frozen=True)
class DensitySuggestion:
    """Density settings suggested from a dataset's own points, with the reason in plain words."""

    settings: DensitySettings
    reason: str

    @property
    def headline(self) -> str:
        """The suggested settings in a few words: "fixed sigma 4.5 px" or "adaptive (beta 0.3, k 3)"."""
        return describe_density_settings(self.settings)


def describe_density_settings(settings: DensitySettings) -> str:
    """Settings in a few words: "fixed sigma 4.5 px" or "adaptive (beta 0.3, k 3)"."""
    if settings.mode == "adaptive":
        return f"adaptive (beta {settings.beta:g}, k {settings.k})"
    return f"fixed sigma {settings.sigma:g} px"


# A crowd photographed in perspective packs far objects (higher up in the image) closer together: the rank
# correlation of each point's spacing with its height in the image is ~0.7 on ShanghaiTech B and ~0 on VGG
# cells (median over images). Above this, the spacing changes too much across an image for one sigma.
PERSPECTIVE_CORRELATION = 0.3
# Fixed sigma = this x the median nearest-neighbour distance: neighbouring blobs overlap only in their tails.
SPACING_FRACTION = 0.5


def suggest_density_settings(point_sets) -> DensitySuggestion | None:
    """Fixed or adaptive kernel, from the points of annotated images (a list of (N, 2) arrays); None when
    there are too few points to say (fewer than 10 on every image)."""
    from scipy.spatial import cKDTree
    from scipy.stats import spearmanr

    spacings, correlations = [], []
    for points in point_sets:
        points = _as_points(points)
        points = points[np.all(np.isfinite(points), axis=1)]
        if len(points) < 10:
            continue
        distances, _ = cKDTree(points).query(points, k=4)
        spacing = distances[:, 1:].mean(axis=1)
        spacings.append(distances[:, 1])
        if np.ptp(points[:, 1]) > 0 and np.ptp(spacing) > 0:
            correlations.append(spearmanr(spacing, points[:, 1]).statistic)
    if not spacings:
        return None
    nearest = float(np.median(np.concatenate(spacings)))
    perspective = float(np.median(correlations)) if correlations else 0.0
    if perspective > PERSPECTIVE_CORRELATION:
        settings = DensitySettings(mode="adaptive", sigma=DensitySettings.sigma, beta=0.3, k=3)
        reason = (f"objects higher up in the images are packed closer (spacing vs height correlation "
                  f"{perspective:.2f}): a scene seen in perspective, so each point's sigma follows its spacing")
    else:
        sigma = float(np.clip(round(2 * SPACING_FRACTION * nearest) / 2, 1.0, 16.0))
        settings = DensitySettings(mode="fixed", sigma=sigma)
        reason = (f"objects are evenly sized across the images (spacing vs height correlation "
                  f"{perspective:.2f}); half their median nearest-neighbour distance ({nearest:.1f} px) is "
                  f"sigma {sigma:g} px")
    return DensitySuggestion(settings, reason)


def point_sigmas(points, settings: DensitySettings | None = None) -> np.ndarray:
    """The Gaussian sigma (pixels) of every point, as a float64 (N,) array aligned with ``points``.

    Fixed mode: ``settings.sigma`` for all. Adaptive mode: ``settings.beta`` x the mean distance to the
    ``settings.k`` nearest other points (a KD-tree query). A point with fewer than k other points uses the
    ones there are; a point with none (a lone point) gets ``settings.sigma``. Coincident points are at
    distance 0 and so get the minimum sigma. Non-finite points take no part and get ``settings.sigma``. Every
    result is clamped to [MIN_SIGMA, MAX_SIGMA].
    """
    settings = settings or DensitySettings()
    points = _as_points(points)
    sigmas = np.full(len(points), float(settings.sigma))
    if settings.mode == "adaptive":
        finite = np.all(np.isfinite(points), axis=1)
        sigmas[finite] = _adaptive_sigmas(points[finite], settings)
    elif settings.mode != "fixed":
        raise ValueError(f"unknown density mode {settings.mode!r} (expected 'fixed' or 'adaptive')")
    return np.clip(sigmas, MIN_SIGMA, MAX_SIGMA)


def _adaptive_sigmas(points: np.ndarray, settings: DensitySettings) -> np.ndarray:
    from scipy.spatial import cKDTree

    count = len(points)
    neighbours = min(int(settings.k), count - 1)
    if neighbours < 1:  # zero or one point: nothing to measure a spacing from
        return np.full(count, float(settings.sigma))
    # k + 1 because each point finds itself (or a coincident twin) at distance 0 first; dropping the smallest
    # distance is right either way.
    distances, _ = cKDTree(points).query(points, k=neighbours + 1)
    return float(settings.beta) * distances[:, 1:].mean(axis=1)


def density_map(points, shape, settings: DensitySettings | None = None, stride: int = 1, *,
                sigmas=None) -> np.ndarray:
    """The float32 density map of ``points`` for an image of ``shape`` = (H, W), at output ``stride``.

    The result has shape (ceil(H / stride), ceil(W / stride)) and sums to the number of points inside the
    image (see the module docstring for the conventions). ``settings`` defaults to ``DensitySettings()``.
    ``sigmas`` (optional, one per point) overrides the settings' sigmas, e.g. sigmas computed once on a whole
    image and reused for its crops; they are clamped like computed ones.
    """
    height, width = _as_shape(shape)
    stride = _as_stride(stride)
    points = _as_points(points)
    if sigmas is None:
        sigmas = point_sigmas(points, settings)
    else:
        sigmas = np.asarray(sigmas, dtype=np.float64).reshape(-1)
        if len(sigmas) != len(points):
            raise ValueError(f"got {len(sigmas)} sigmas for {len(points)} points")
        if not np.all(np.isfinite(sigmas)):
            raise ValueError("sigmas must be finite numbers")
        sigmas = np.clip(sigmas, MIN_SIGMA, MAX_SIGMA)

    out_shape = (-(-height // stride), -(-width // stride))
    inside = _inside(points, height, width)
    points, sigmas = points[inside], sigmas[inside]
    if not len(points):
        return np.zeros(out_shape, dtype=np.float32)

    from scipy import sparse

    columns = _axis_weights(points[:, 0], sigmas, width, stride)
    rows = _axis_weights(points[:, 1], sigmas, height, stride)
    column_matrix = sparse.csr_matrix(columns, shape=(len(points), out_shape[1]))
    row_matrix = sparse.csr_matrix(rows, shape=(len(points), out_shape[0]))
    density = (row_matrix.T @ column_matrix).toarray()
    return density.astype(np.float32)


def sum_pool(density: np.ndarray, stride: int) -> np.ndarray:
    """Sum ``stride`` x ``stride`` blocks of the last two axes: (..., H, W) -> (..., ceil(H/s), ceil(W/s)).

    The bottom and right blocks may be partial (the map is zero-padded), so the total is kept exactly. The
    dtype is kept (sums are taken in float64). ``stride`` 1 returns ``density`` itself.
    """
    stride = _as_stride(stride)
    density = np.asarray(density)
    if density.ndim < 2:
        raise ValueError(f"a density map needs at least 2 dimensions, got shape {density.shape}")
    if stride == 1:
        return density
    height, width = density.shape[-2:]
    pad_h, pad_w = (-height) % stride, (-width) % stride
    padded = np.pad(density, [(0, 0)] * (density.ndim - 2) + [(0, pad_h), (0, pad_w)])
    lead = density.shape[:-2]
    blocks = padded.reshape(*lead, (height + pad_h) // stride, stride, (width + pad_w) // stride, stride)
    return blocks.sum(axis=(-3, -1), dtype=np.float64).astype(density.dtype, copy=False)


# ----------------------------------------------------------------------------------------------- helpers
def _axis_weights(coords: np.ndarray, sigmas: np.ndarray, size: int, stride: int):
    """One axis of every stamp as CSR pieces (data, indices, indptr): row i holds point i's weights.

    For point i the weights cover the pixels whose squares meet [c - R, c + R] (R = TRUNCATE x sigma, c the
    coordinate) inside [0, size); each weight is the normal CDF difference between the pixel's edges clipped
    to that interval, so the cut is symmetric about the point; the row is then divided by its sum. Pixel
    indices are divided by ``stride``: the sparse matrix adds duplicate entries, which is the sum-pooling.
    """
    from scipy.special import ndtr

    reach = TRUNCATE * sigmas
    first = np.maximum(np.floor(coords - reach).astype(np.int64), 0)
    last = np.minimum(np.floor(coords + reach).astype(np.int64), size - 1)
    lengths = last - first + 1  # >= 1: the point's own pixel is always inside the image and the window
    indptr = np.zeros(len(coords) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    owner = np.repeat(np.arange(len(coords)), lengths)
    pixel = np.arange(indptr[-1], dtype=np.int64) - indptr[owner] + first[owner]

    centre, sigma, cut = coords[owner], sigmas[owner], reach[owner]
    low = np.clip(pixel - centre, -cut, cut) / sigma
    high = np.clip(pixel + 1 - centre, -cut, cut) / sigma
    weights = ndtr(high) - ndtr(low)
    totals = np.add.reduceat(weights, indptr[:-1])
    weights /= totals[owner]
    return weights, pixel // stride, indptr


def _inside(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """Mask of the points that lie in the image: 0 <= x < width and 0 <= y < height (NaN is never inside)."""
    x, y = points[:, 0], points[:, 1]
    return (x >= 0) & (x < width) & (y >= 0) & (y < height)


def _as_points(points) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64)
    if array.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"points must be an (N, 2) array of x, y pixel positions, got shape {array.shape}")
    return array


def _as_shape(shape) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape must be (height, width), got {shape!r}") from None
    if height < 0 or width < 0:
        raise ValueError(f"shape must not be negative, got {shape!r}")
    return height, width


def _as_stride(stride) -> int:
    if isinstance(stride, (bool, np.bool_)) or int(stride) != stride or int(stride) < 1:
        raise ValueError(f"stride must be a whole number >= 1, got {stride!r}")
    return int(stride)
