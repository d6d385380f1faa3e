"""Scoring a counted image against what its annotation knows (``evaluate``), regions included.

Only what is known is compared (engine.dataset.regions, at the model's stride):

- Inside the area where the points are complete (the whole image without ``annotated`` regions; ignore
  areas never), the predicted map and the predicted points are compared with the annotated points there:
  count error, GAME and localisation. The map outside that area is not scored at all.
- Each ``count`` region compares the person's stated count with the map's sum inside it.

An image with only stated counts has no point score, only its stated ones. With a model of 2+ classes each
class's map is compared with the points of that class in the same area (:func:`class_counts_known`,
:class:`ClassScores`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.counting.blob_split import locate_objects
from engine.dataset.classes import class_indices
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


def class_counts_known(dataset, name: str, maps: np.ndarray, stride: int,
                       class_names: list[str]) -> tuple[list[float], list[int]] | None:
    """(each class's predicted count, each class's annotated count) where the image's points are complete.

    None when nothing of the image is complete, or when one of its points has a label the model does not
    count (its class could not be compared).
    """
    annotation = dataset.load_annotation(name)
    entry = dataset.entry(name)
    points = annotation.points
    x, y = points[:, 0], points[:, 1]
    inside = (x >= 0) & (y >= 0) & (x < entry.width) & (y < entry.height)
    indices = class_indices(annotation.labels, len(points), class_names)[inside]
    points = points[inside]
    complete = dataset.known_area(name, stride, annotation).complete
    if (complete is not None and not complete.any()) or (indices < 0).any():
        return None
    if complete is not None:
        indices = indices[points_in_mask(points, complete, stride)]
        maps = np.where(complete, maps, 0.0)
    predicted = [float(channel.sum(dtype=np.float64)) for channel in maps]
    return predicted, np.bincount(indices, minlength=len(class_names)).tolist()


@dataclass
class ClassScores:
    """Each class's predicted and annotated counts over the images scored: per-class MAE and RMSE."""

    names: list[str]
    predicted: list[list[float]] = field(default_factory=list)  # per image, per class
    annotated: list[list[int]] = field(default_factory=list)

    def add(self, predicted: list[float], annotated: list[int]) -> None:
        self.predicted.append(predicted)
        self.annotated.append(annotated)

    def summary(self) -> dict:
        """{mae_per_class, rmse_per_class} ({class: value}); empty when no image was scored by class."""
        if not self.predicted:
            return {}
        columns = list(zip(*self.predicted)), list(zip(*self.annotated))
        return {"mae_per_class": {name: mae(p, t) for name, p, t in zip(self.names, *columns)},
                "rmse_per_class": {name: rmse(p, t) for name, p, t in zip(self.names, *columns)}}
