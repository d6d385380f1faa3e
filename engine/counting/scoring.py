"""Scoring a counted image against what its annotation knows (``evaluate``), regions included.

Only what is known is compared (engine.dataset.regions, at the model's stride):

- Inside the area where the points are complete (the whole image without ``annotated`` regions; ignore
  areas never), the predicted map and the predicted points are compared with the annotated points there:
  count error, GAME and localisation. The map outside that area is not scored at all.
- Each ``count`` region compares the person's stated count with the map's sum inside it.

An image with only stated counts has no point score, only its stated ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.counting.blob_split import locate_objects
from engine.dataset.regions import points_in_mask
from engine.metrics import Evaluation, ImageEvaluation, mae, rmse


@dataclass
class StatedCount:
    """A count region: the count a person stated and the model's sum inside the same region."""

    image: str
    stated: float
    predicted: float

    @property
    def error(self) -> float:
        return self.predicted - self.stated


def score_image(evaluation: Evaluation, dataset, name: str, density: np.ndarray, stride: int,
                image_size: tuple[int, int]) -> tuple[ImageEvaluation | None, list[StatedCount]]:
    """Add one counted image of ``dataset`` to ``evaluation`` where its points are complete; its stated counts.

    Returns (the image's point score, or None when no pixel of it has complete points; its stated counts).
    """
    known = dataset.known_area(name, stride)
    stated = [StatedCount(name, count, float(density[mask].sum(dtype=np.float64))) for mask, count in known.counts]
    complete = known.complete
    if complete is not None and not complete.any():
        return None, stated
    # Points outside the image are not in any density map: scored without them (the command warns).
    true_points = dataset.load_points_inside(name)
    predicted_points = locate_objects(density, stride, image_size=image_size)
    if complete is not None:
        density = np.where(complete, density, 0.0)
        true_points = true_points[points_in_mask(true_points, complete, stride)]
        predicted_points = predicted_points[points_in_mask(predicted_points, complete, stride)]
    item = evaluation.add(name, density, stride, true_points, image_size, predicted_points)
    return item, stated


def stated_summary(stated: list[StatedCount]) -> dict:
    """{stated_counts, stated_mae, stated_rmse} over every count region scored (empty when there were none)."""
    if not stated:
        return {}
    predicted, true = [s.predicted for s in stated], [s.stated for s in stated]
    return {"stated_counts": len(stated), "stated_mae": mae(predicted, true), "stated_rmse": rmse(predicted, true)}
