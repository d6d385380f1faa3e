"""Model-proposed points: the objects a trained model sees, as points a person accepts or fixes.

Correcting a good proposal costs a click per mistake instead of a click per object. The proposals come from the
density map: :func:`engine.counting.localize.find_points` keeps as many of its peaks as the map's integral says there
are objects, inside the image, and :func:`engine.counting.blob_split.split_merged_blobs` adds the objects whose blobs
merged with a neighbour's (one peak for two touching cells), so the proposals agree with the predicted count.

When the image already has confirmed points, the proposals only cover what is missing: every confirmed point
cancels at most one proposal, the one :func:`engine.metrics.match_points` pairs it with within the cancel
radius (one-to-one, so two touching objects, one confirmed, still leave a proposal for the other).

The cancel radius is ``max(2 x sigma, stride)``: 2 x sigma (the density Gaussian's sigma the model was trained
with) is about one object's blob, the distance within which a proposal and a confirmed point are the same object
and the radius ``evaluate`` scores localisation at; it is never below the stride because the peaks of a map at
stride s cannot be placed more finely than its cells.

A model of 2+ classes proposes from each class's own map (:func:`proposals_from_class_densities`): each
proposal carries its class, and a confirmed point cancels a nearby proposal whatever its class (a person who
clicked an object there has seen it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.counting.blob_split import locate_objects
from engine.metrics import default_radius, match_points


@dataclass
class Proposal:
    """What the model proposes for one image.

    points     (N, 2) float (x, y) image pixels of the proposed objects not already confirmed
    count      the density map's integral: the model's count for the whole image
    stride     the density map's stride (pixels per cell)
    radius     the cancel radius used against confirmed points (pixels)
    cancelled  how many found points were dropped because a confirmed point already covers them
    labels     the class of each proposed point (None: a one-class model names none)
    """

    points: np.ndarray
    count: float
    stride: int
    radius: float
    cancelled: int = 0
    labels: list[str] | None = None


def cancel_radius(record: dict, stride: int) -> float:
    """max(2 x the checkpoint's density sigma (8 px when it has none), stride): see the module's docstring."""
    return max(default_radius(record), float(stride))


def proposals_from_density(density: np.ndarray, stride: int, image_size: tuple[int, int], confirmed=None,
                           radius: float = 8.0) -> Proposal:
    """Proposals from a density map already predicted (``image_size`` is (width, height))."""
    density = np.asarray(density)
    count = float(density.sum(dtype=np.float64))
    found = locate_objects(density, stride, image_size=image_size)  # round(count) points at most, inside
    points = without_confirmed(found, confirmed, radius)
    return Proposal(points=points, count=count, stride=int(stride), radius=float(radius),
                    cancelled=len(found) - len(points))


def proposals_from_class_densities(maps: np.ndarray, class_names: list[str], stride: int,
                                   image_size: tuple[int, int], confirmed=None, radius: float = 8.0) -> Proposal:
    """Proposals from (C, h, w) per-class maps: each class's peaks, labelled with its name."""
    found, labels = [], []
    for name, channel in zip(class_names, maps):
        points = locate_objects(np.asarray(channel), stride, image_size=image_size)
        found.append(points)
        labels += [name] * len(points)
    found = np.concatenate(found) if found else np.zeros((0, 2))
    keep = unconfirmed(found, confirmed, radius)
    return Proposal(points=found[keep], count=float(np.sum(maps, dtype=np.float64)), stride=int(stride),
                    radius=float(radius), cancelled=int((~keep).sum()),
                    labels=[label for label, kept in zip(labels, keep) if kept])


def without_confirmed(proposed, confirmed, radius: float) -> np.ndarray:
    """``proposed`` minus the points paired one-to-one with a ``confirmed`` point within ``radius`` pixels."""
    proposed = np.asarray(proposed, dtype=np.float64).reshape(-1, 2)
    return proposed[unconfirmed(proposed, confirmed, radius)]


def unconfirmed(proposed: np.ndarray, confirmed, radius: float) -> np.ndarray:
    """Boolean per proposal: not paired one-to-one with a ``confirmed`` point within ``radius`` pixels.

    No torch: the window applies it to proposals it received (``propose --no-write`` events, whose ``start``
    event gives the radius) against the points it holds in memory, saved or not, and keeps their classes
    aligned with the mask.
    """
    proposed = np.asarray(proposed, dtype=np.float64).reshape(-1, 2)
    confirmed = np.asarray([] if confirmed is None else confirmed, dtype=np.float64).reshape(-1, 2)
    matched, _ = match_points(proposed, confirmed, radius)
    keep = np.ones(len(proposed), dtype=bool)
    keep[matched] = False
    return keep


def propose_points(model, record: dict, image: np.ndarray, confirmed=None, *, radius: float | None = None,
                   **predict_options) -> Proposal:
    """Propose points for one (H, W, 3) uint8 RGB image with a loaded ``(model, record)``.

    ``confirmed``: the (N, 2) points the image already has; proposals near them are dropped one-to-one.
    ``radius``: the cancel radius in pixels (default :func:`cancel_radius`). Other keyword arguments go to
    :func:`engine.counting.infer.predict_density` (max_pixels, batch_size). A model of 2+ classes labels
    each proposal with its class.
    """
    from engine.counting.infer import model_stride, predict_class_densities, total_density
    from engine.models.checkpoint import checkpoint_classes

    stride = model_stride(model, record)
    maps = predict_class_densities(model, record, image, **predict_options)
    radius = cancel_radius(record, stride) if radius is None else float(radius)
    height, width = image.shape[:2]
    if len(maps) > 1:
        return proposals_from_class_densities(maps, checkpoint_classes(record), stride, (width, height),
                                              confirmed, radius)
    return proposals_from_density(total_density(maps), stride, (width, height), confirmed, radius)
