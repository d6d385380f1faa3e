"""What a training crop knows: its loss mask and its stated counts, cut from an image's regions.

An image's regions (sidecar version 2) become masks in ``engine.dataset.regions.known_area``, the one place
that knows their rules; this module only moves those masks through a crop's transform (pad, cut, zoom, flip)
and down to the model's stride, exactly as the crop moves the image's pixels.

- The density loss counts only the cells where the points are complete (annotated minus ignore), weighted by
  the share of each cell that is known.
- A count region adds a loss on the predicted map's sum inside it. Only a count region wholly inside the crop
  can be used: the part of a stated count that falls inside a crop is unknown. So crops of an image with count
  regions are placed to contain one of them whole when it fits (see :func:`crop_origin`).
- Crops of a partial image are placed over what is known (a known pixel, or a count region), so none is
  wasted on an unknown area.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from engine.dataset.regions import KnownArea, known_area

# Count regions used per crop (the rest of those wholly inside it are left out); fixed so crops batch together.
MAX_COUNT_REGIONS_PER_CROP = 4


@dataclass
class AreaSource:
    """What ``known_area`` needs for one image; the masks are made where they are used (loader processes)."""

    point_count: int
    regions: list = field(default_factory=list)
    width: int = 0
    height: int = 0

    def known(self, stride: int = 1) -> KnownArea:
        return known_area(self.point_count, self.regions, self.width, self.height, stride)


@dataclass
class Placement:
    """Where a crop was cut: padding offset, the (x0, y0) of its source square, that square's side, and the
    zoom and flip applied, so masks follow the image."""

    offset: np.ndarray  # (left, top) where the image sits on its padded canvas
    x0: float
    y0: float
    side: float  # the square taken from the (padded) image, in image pixels
    scale: float
    flipped: bool = False


def crop_origin(known: KnownArea, canvas: tuple[int, int], offset: np.ndarray, side: float, whole_pixels: bool,
                rng: np.random.Generator) -> tuple[float, float]:
    """(x0, y0) of a crop of ``side`` pixels over what ``known`` says is known, on a padded canvas (w, h).

    With count regions, half the crops (all of them when no point is complete anywhere) contain one of them
    whole, picked at random, when it fits in the crop; the others contain a random pixel where points are
    complete. ``whole_pixels`` rounds the origin (a crop cut without resampling).
    """
    width, height = canvas
    complete = known.complete
    has_points = complete is None or bool(complete.any())
    if known.counts and (not has_points or rng.random() < 0.5):
        mask = known.counts[int(rng.integers(len(known.counts)))][0]
        rows, cols = np.nonzero(mask)
        low = np.array([cols.min(), rows.min()], dtype=np.float64) + offset
        high = np.array([cols.max() + 1, rows.max() + 1], dtype=np.float64) + offset
    else:
        if complete is None:  # complete everywhere (only count regions make the image partial)
            low, high = np.zeros(2), np.array([width, height], dtype=np.float64)
        else:
            flat = np.flatnonzero(complete)
            row, col = divmod(int(flat[int(rng.integers(len(flat)))]), complete.shape[1])
            low = np.array([col, row], dtype=np.float64) + offset
            high = low + 1
    origin = []
    for axis, limit in enumerate((width, height)):
        if high[axis] - low[axis] <= side:  # the box fits: any origin that keeps it inside the crop
            first, last = high[axis] - side, low[axis]
        else:  # too big for one crop: any crop inside the box
            first, last = low[axis], high[axis] - side
        first, last = max(first, 0.0), min(last, limit - side)
        value = rng.uniform(first, last) if last > first else max(min(first, limit - side), 0.0)
        origin.append(float(math.floor(value)) if whole_pixels else value)
    return origin[0], origin[1]


def cut_mask(mask: np.ndarray, placement: Placement, size: int, stride: int) -> np.ndarray:
    """The share of each (size / stride)^2 output cell of the crop that ``mask`` (image pixels) covers."""
    left, top = (int(v) for v in placement.offset)
    canvas = np.zeros((max(mask.shape[0] + top, math.ceil(placement.y0 + placement.side)),
                       max(mask.shape[1] + left, math.ceil(placement.x0 + placement.side))), dtype=np.uint8)
    canvas[top:top + mask.shape[0], left:left + mask.shape[1]] = mask
    if placement.scale == 1.0:
        x0, y0 = int(placement.x0), int(placement.y0)
        pixels = canvas[y0:y0 + size, x0:x0 + size].astype(np.float32)
    else:
        box = (placement.x0, placement.y0, placement.x0 + placement.side, placement.y0 + placement.side)
        image = Image.fromarray(canvas * np.uint8(255)).resize((size, size), Image.NEAREST, box=box)
        pixels = np.asarray(image, dtype=np.float32) / 255
    if placement.flipped:
        pixels = pixels[:, ::-1]
    cells = size // stride
    return np.ascontiguousarray(pixels.reshape(cells, stride, cells, stride).mean(axis=(1, 3)))


def wholly_inside(mask: np.ndarray, placement: Placement) -> bool:
    """True when every pixel of ``mask`` lies inside the crop's source square."""
    rows, cols = np.nonzero(mask)
    if not len(rows):
        return False
    left, top = placement.offset
    return bool(cols.min() + left >= placement.x0 and cols.max() + 1 + left <= placement.x0 + placement.side
                and rows.min() + top >= placement.y0 and rows.max() + 1 + top <= placement.y0 + placement.side)


def crop_regions(known: KnownArea | None, placement: Placement | None, size: int, stride: int,
                 density_scale: float) -> dict:
    """The region tensors of one crop: ``known`` (1, h, w) loss weights, ``count_masks`` (K, h, w) and
    ``stated`` (K,) counts x ``density_scale``, K = MAX_COUNT_REGIONS_PER_CROP; unused masks are zero.

    ``known`` None (an image annotated whole) gives a mask of ones and no counts: the loss is the plain one.
    """
    cells = size // stride
    weights = np.ones((1, cells, cells), dtype=np.float32)
    count_masks = np.zeros((MAX_COUNT_REGIONS_PER_CROP, cells, cells), dtype=np.float32)
    stated = np.zeros(MAX_COUNT_REGIONS_PER_CROP, dtype=np.float32)
    if known is not None:
        if known.complete is not None:
            weights[0] = cut_mask(known.complete, placement, size, stride)
        inside = [(mask, count) for mask, count in known.counts if wholly_inside(mask, placement)]
        for slot, (mask, count) in enumerate(inside[:MAX_COUNT_REGIONS_PER_CROP]):
            count_masks[slot] = cut_mask(mask, placement, size, stride)
            stated[slot] = count * density_scale
    return {"known": torch.from_numpy(weights), "count_masks": torch.from_numpy(count_masks),
            "stated": torch.from_numpy(stated)}
