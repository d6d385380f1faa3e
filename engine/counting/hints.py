"""Hints while a person clicks: objects the model sees that no point covers, and objects clicked twice.

Both come from one matching of the model's objects (its density map turned into points, as ``propose`` does)
with the person's points, one to one within a radius:

- missed: a model object that no point was matched to, where the model is confident (its blob holds at least
  ``min_mass`` objects), so faint smudges do not nag;
- doubled: a point that no model object was matched to and that lies within the radius of another point, i.e.
  two clicks where the model sees one object.

The residual map (the model's density minus the density the points make with the checkpoint's kernel) is
what the window draws under the markers: positive where objects are missing, negative where clicks are extra.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.counting.blob_split import locate_objects
from engine.density import DensitySettings, density_map
from engine.metrics import match_points

# A model object is a "missed" hint only when its blob holds at least this many objects.
MIN_MASS = 0.5


@dataclass(frozen=True)
class ClickHints:
    missed: np.ndarray  # (M, 2) x, y of objects the model sees that no point covers
    doubled: np.ndarray  # (D,) indices into the points of clicks that look like a second click on one object


def model_objects(density: np.ndarray, stride: int, image_size: tuple[int, int],
                  radius: float) -> tuple[np.ndarray, np.ndarray]:
    """The model's objects ((K, 2) x, y) and the density's integral near each (its confidence)."""
    objects = locate_objects(density, stride, image_size=image_size).reshape(-1, 2)
    return objects, _mass_near(density, stride, objects, radius)


def hints_from_objects(objects, masses, points, radius: float, min_mass: float = MIN_MASS) -> ClickHints:
    """The hints, from the model's objects (as :func:`model_objects` gives them) and the points as they are
    now; no model needed, so the window recomputes them after every click."""
    objects = np.asarray(objects, dtype=np.float64).reshape(-1, 2)
    masses = np.asarray(masses, dtype=np.float64).reshape(-1)
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    matched_objects, matched_points = match_points(objects, points, radius)
    unmatched = np.ones(len(objects), dtype=bool)
    unmatched[matched_objects] = False
    missed = objects[unmatched & (masses >= min_mass)]
    lonely = np.ones(len(points), dtype=bool)
    lonely[matched_points] = False
    doubled = []
    for index in np.flatnonzero(lonely):
        distances = np.hypot(*(points - points[index]).T)
        distances[index] = np.inf
        if distances.min() <= radius:
            doubled.append(index)
    return ClickHints(missed=missed.reshape(-1, 2), doubled=np.asarray(doubled, dtype=np.int64))


def residual_density(density: np.ndarray, stride: int, points, settings: DensitySettings) -> np.ndarray:
    """The model's density minus the density of ``points`` (same kernel settings, same stride and shape)."""
    rows, cols = density.shape
    made = density_map(points, (rows * stride, cols * stride), settings, stride=stride)
    return density - made[:rows, :cols]


def _mass_near(density: np.ndarray, stride: int, objects: np.ndarray, radius: float) -> np.ndarray:
    """The density's integral within ``radius`` pixels of each object (a square window, for speed)."""
    masses = np.zeros(len(objects))
    reach = max(1, int(np.ceil(radius / stride)))
    rows, cols = density.shape
    for index, (x, y) in enumerate(objects):
        row, col = int(y // stride), int(x // stride)
        window = density[max(0, row - reach):min(rows, row + reach + 1), max(0, col - reach):min(cols, col + reach + 1)]
        masses[index] = float(window.sum())
    return masses
