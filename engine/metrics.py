"""Counting and localisation metrics: MAE, RMSE, GAME(L), and precision/recall/F1 after point matching.

No torch here: the metrics work on numpy density maps and point arrays, so the GUI can use them too.

Conventions shared with the rest of the engine: points are (N, 2) float (x, y) image pixels, origin at the
top-left corner; a density map at stride ``s`` has one cell per s x s pixel block, cell (r, c) covering pixels
[c*s, (c+1)*s) x [r*s, (r+1)*s), and its values are objects per cell (the map sums to the count).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

GAME_LEVELS = (0, 1, 2, 3)


# --------------------------------------------------------------------------------------------- counting
def mae(predicted, true) -> float:
    """Mean absolute error between predicted and true counts (NaN for no images)."""
    predicted, true = np.asarray(predicted, dtype=np.float64), np.asarray(true, dtype=np.float64)
    return float(np.mean(np.abs(predicted - true))) if predicted.size else math.nan


def rmse(predicted, true) -> float:
    """Root mean squared error between predicted and true counts (NaN for no images)."""
    predicted, true = np.asarray(predicted, dtype=np.float64), np.asarray(true, dtype=np.float64)
    return float(np.sqrt(np.mean((predicted - true) ** 2))) if predicted.size else math.nan


def _cell_region_overlap(cells: int, stride: float, extent: float, regions: int) -> np.ndarray:
    """(cells, regions) fraction of each cell lying in each of ``regions`` equal slices of [0, extent).

    The first and last slices reach to -inf and +inf, so the mass of a cell that sticks out of the image (the
    last cell when the image side is not a multiple of the stride) stays in the border region instead of
    being lost.
    """
    edges = np.linspace(0.0, extent, regions + 1)
    edges[0], edges[-1] = -np.inf, np.inf
    lo = np.arange(cells, dtype=np.float64)[:, None] * stride
    hi = lo + stride
    overlap = np.minimum(hi, edges[None, 1:]) - np.maximum(lo, edges[None, :-1])
    return np.clip(overlap, 0.0, None) / stride


def region_counts_from_density(density: np.ndarray, stride: int, image_size: tuple[int, int],
                               level: int) -> np.ndarray:
    """Predicted count in each of the 4**level regions, as a (2**level, 2**level) array [row, column].

    ``image_size`` is (width, height) in pixels. Region borders are cut at exact pixel positions; a cell
    crossed by a border gives each side the share of its area on that side (no interpolation of the map).
    """
    width, height = image_size
    regions = 2 ** level
    density = np.asarray(density, dtype=np.float64)
    rows = _cell_region_overlap(density.shape[0], stride, height, regions)
    cols = _cell_region_overlap(density.shape[1], stride, width, regions)
    return rows.T @ density @ cols


def region_counts_from_points(points, image_size: tuple[int, int], level: int) -> np.ndarray:
    """True count in each of the 4**level regions (points on or past the image border go to the border region)."""
    width, height = image_size
    regions = 2 ** level
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    counts = np.zeros((regions, regions), dtype=np.float64)
    if not len(points):
        return counts
    col = np.clip(np.floor(points[:, 0] / width * regions), 0, regions - 1).astype(int)
    row = np.clip(np.floor(points[:, 1] / height * regions), 0, regions - 1).astype(int)
    np.add.at(counts, (row, col), 1.0)
    return counts


def game(density: np.ndarray, stride: int, points, image_size: tuple[int, int], level: int) -> float:
    """Grid Average Mean absolute Error of one image (Guerrero-Gómez-Olmedo et al. 2015).

    The image is split into 4**level regions; GAME(L) is the sum over regions of |predicted - true| count.
    GAME(0) is the image's absolute count error. A dataset's GAME(L) is the mean of this over its images.
    """
    predicted = region_counts_from_density(density, stride, image_size, level)
    true = region_counts_from_points(points, image_size, level)
    return float(np.abs(predicted - true).sum())


# ----------------------------------------------------------------------------------------- localisation
def match_points(predicted, true, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of predicted to true points no farther apart than ``radius`` pixels.

    Returns (predicted indices, true indices) of the matched pairs. The matching has the largest possible
    number of pairs, and among those the smallest total distance: a KD-tree finds the candidate pairs within
    the radius, the candidates split into independent clusters, and each cluster is solved exactly with
    scipy's linear_sum_assignment (a non-candidate pair costs more than every candidate pair of the cluster
    together, so the assignment never trades a match away for a shorter distance).
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    predicted = np.asarray(predicted, dtype=np.float64).reshape(-1, 2)
    true = np.asarray(true, dtype=np.float64).reshape(-1, 2)
    empty = (np.zeros(0, dtype=int), np.zeros(0, dtype=int))
    if not len(predicted) or not len(true) or radius <= 0:
        return empty
    # A structured array, not a sparse matrix: sparse formats may drop the pairs at distance exactly 0.
    pairs = cKDTree(predicted).sparse_distance_matrix(cKDTree(true), radius, output_type="ndarray")
    if not len(pairs):
        return empty
    rows, cols, dists = pairs["i"].astype(int), pairs["j"].astype(int), pairs["v"].astype(np.float64)
    n_pred, n_true = len(predicted), len(true)
    # Clusters of the bipartite graph: nodes 0..n_pred-1 are predictions, n_pred.. are true points.
    graph = coo_matrix((np.ones(len(rows)), (rows, cols + n_pred)), shape=(n_pred + n_true, n_pred + n_true))
    _, label = connected_components(graph, directed=False)
    pair_label = label[rows]
    order = np.argsort(pair_label, kind="stable")
    rows, cols, dists, pair_label = rows[order], cols[order], dists[order], pair_label[order]
    bounds = np.flatnonzero(np.diff(pair_label)) + 1
    matched_pred, matched_true = [], []
    for r, c, d in zip(np.split(rows, bounds), np.split(cols, bounds), np.split(dists, bounds)):
        pred_ids, r_local = np.unique(r, return_inverse=True)
        true_ids, c_local = np.unique(c, return_inverse=True)
        if len(pred_ids) == 1 or len(true_ids) == 1:  # a star: the nearest partner is the answer
            best = int(np.argmin(d))
            matched_pred.append(pred_ids[r_local[best]:r_local[best] + 1])
            matched_true.append(true_ids[c_local[best]:c_local[best] + 1])
            continue
        no_pair = (float(d.sum()) + radius) * 2.0 + 1.0
        cost = np.full((len(pred_ids), len(true_ids)), no_pair)
        cost[r_local, c_local] = d
        assigned_r, assigned_c = linear_sum_assignment(cost)
        real = cost[assigned_r, assigned_c] < no_pair
        matched_pred.append(pred_ids[assigned_r[real]])
        matched_true.append(true_ids[assigned_c[real]])
    return np.concatenate(matched_pred).astype(int), np.concatenate(matched_true).astype(int)


@dataclass
class LocalizationScore:
    """Matched (true positive), unmatched predicted (false positive) and unmatched true (false negative) points."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else math.nan

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else math.nan

    @property
    def f1(self) -> float:
        total = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / total if total else math.nan

    def __add__(self, other: LocalizationScore) -> LocalizationScore:
        return LocalizationScore(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


def localization_score(predicted, true, radius: float) -> LocalizationScore:
    """TP/FP/FN of one image after :func:`match_points` within ``radius`` pixels."""
    predicted = np.asarray(predicted, dtype=np.float64).reshape(-1, 2)
    true = np.asarray(true, dtype=np.float64).reshape(-1, 2)
    matched, _ = match_points(predicted, true, radius)
    return LocalizationScore(tp=len(matched), fp=len(predicted) - len(matched), fn=len(true) - len(matched))


# ------------------------------------------------------------------------------------------ accumulator
@dataclass
class ImageEvaluation:
    """The metrics of one annotated image."""

    image: str
    count: float
    annotated_count: int
    game: dict[int, float]
    localization: LocalizationScore | None = None

    @property
    def error(self) -> float:
        """Signed count error: predicted minus annotated."""
        return self.count - self.annotated_count


@dataclass
class Evaluation:
    """Collects per-image results and summarises them the way papers report them.

    Count metrics average over images; localisation TP/FP/FN are summed over all images before precision,
    recall and F1 are computed (micro-average), so an image with few objects weighs as little as it should.
    """

    radius: float | None = None
    images: list[ImageEvaluation] = field(default_factory=list)

    def add(self, image: str, density: np.ndarray, stride: int, true_points, image_size: tuple[int, int],
            predicted_points=None) -> ImageEvaluation:
        """Score one image: its predicted density map (objects per cell) against its annotated points."""
        true_points = np.asarray(true_points, dtype=np.float64).reshape(-1, 2)
        scores = {level: game(density, stride, true_points, image_size, level) for level in GAME_LEVELS}
        localization = None
        if predicted_points is not None and self.radius is not None:
            localization = localization_score(predicted_points, true_points, self.radius)
        item = ImageEvaluation(image=image, count=float(np.sum(density, dtype=np.float64)),
                               annotated_count=len(true_points), game=scores, localization=localization)
        self.images.append(item)
        return item

    def summary(self) -> dict:
        """{images, mae, rmse, game0..game3, and precision, recall, f1, tp, fp, fn, radius when localised}."""
        predicted = [item.count for item in self.images]
        true = [item.annotated_count for item in self.images]
        result = {"images": len(self.images), "mae": mae(predicted, true), "rmse": rmse(predicted, true)}
        for level in GAME_LEVELS:
            values = [item.game[level] for item in self.images]
            result[f"game{level}"] = float(np.mean(values)) if values else math.nan
        scored = [item.localization for item in self.images if item.localization is not None]
        if scored:
            total = sum(scored, LocalizationScore())
            result.update(radius=self.radius, precision=total.precision, recall=total.recall, f1=total.f1,
                          tp=total.tp, fp=total.fp, fn=total.fn)
        return result


# Matching radius when a checkpoint states no density sigma.
FALLBACK_RADIUS = 8.0


def default_radius(record: dict) -> float:
    """Twice the Gaussian sigma the model was trained with: about the size of one object's blob."""
    sigma = (record.get("density") or {}).get("sigma")
    try:
        return 2.0 * float(sigma) if sigma and float(sigma) > 0 else FALLBACK_RADIUS
    except (TypeError, ValueError):
        return FALLBACK_RADIUS
