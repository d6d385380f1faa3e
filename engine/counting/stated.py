"""Counts a person stated (``count`` regions) honoured at counting time, and the rest of the image corrected.

Inside a stated region the person's number replaces the model's. Outside, the model's estimate is scaled by
how far off it was inside the stated regions (the ratio stated / predicted there), as ICACount (Huang et al.,
2023) adapts a counter to a person's few corrections, here in its simplest, model-free form: a model that
undercounts one part of an image by 20 % tends to undercount the rest of it alike (same objects, same
density, same lighting). The ratio is bounded so that a tiny region with a count of 0 or 1 cannot zero or
multiply the rest of the image.

Measured (bench/where_to_click.py, 70 held-out VGG cell images, one stated quarter each): honouring the
stated count alone lowered the image's error in 63 % of images (MAE 5.15 -> 3.85); correcting the rest by the
ratio lowered it in only 40 % (MAE 7.18). So counting honours stated counts and leaves the rest as the model
estimates it (``correct=False``, the default); the correction stays available for data where it helps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Bounds of the correction ratio, and the predicted count a stated region needs before its ratio is trusted
# at all (below it, a difference of one object would swing the ratio wildly).
MIN_RATIO, MAX_RATIO = 0.5, 2.0
MIN_PREDICTED = 3.0


@dataclass(frozen=True)
class StatedCount:
    """An image's count with the person's stated counts honoured."""

    count: float  # stated counts + the (corrected) estimate outside them
    stated: float  # the sum of the stated counts
    predicted_inside: float  # what the model predicted inside the stated regions
    ratio: float  # the correction applied outside them (1.0: none)


def honour_stated_counts(density: np.ndarray, counts: list[tuple[np.ndarray, float]], known=None,
                         correct: bool = False) -> StatedCount:
    """``density`` (objects per cell) with each (mask, count) of ``counts`` (masks at the density's stride,
    e.g. ``KnownArea.counts``) honoured; ``known`` (a mask, or None for every cell) limits what is counted,
    e.g. the ROI minus ignore. Without stated counts, the plain sum inside ``known``."""
    density = np.asarray(density, dtype=np.float64)
    counted = np.ones(density.shape, dtype=bool) if known is None else known.astype(bool)
    if not counts:
        total = float(density[counted].sum())
        return StatedCount(total, 0.0, 0.0, 1.0)
    stated_cells = np.zeros(density.shape, dtype=bool)
    for mask, _ in counts:
        stated_cells |= mask
    stated = float(sum(number for _, number in counts))
    predicted_inside = float(density[stated_cells].sum())
    rest = float(density[counted & ~stated_cells].sum())
    ratio = 1.0
    if correct and predicted_inside >= MIN_PREDICTED:
        ratio = float(np.clip(stated / predicted_inside, MIN_RATIO, MAX_RATIO))
    return StatedCount(stated + ratio * rest, stated, predicted_inside, ratio)
