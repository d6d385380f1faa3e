"""Image -> network input, in one place so training and counting always agree.

The normalisation and the density scale chosen here are written into every checkpoint, and counting reads
them back from the checkpoint, never from here: an old checkpoint keeps working if these defaults change.
"""

from __future__ import annotations

import math

import numpy as np


def alignment(input_multiple: int, stride: int) -> int:
    """What input sides (and tile edges) must be multiples of: lcm(the model's input multiple, its stride)."""
    return math.lcm(max(1, int(input_multiple)), max(1, int(stride)))


def round_up(value: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is >= ``value``."""
    return -(-int(value) // multiple) * multiple


# ImageNet statistics: pretrained VGG front ends (CSRNet) expect them, and they are harmless from scratch.
DEFAULT_NORMALIZATION = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}

# Networks learn better when a target pixel is not ~1e-3: they predict density x DENSITY_SCALE.
DEFAULT_DENSITY_SCALE = 100.0


def normalize_image(image: np.ndarray, normalization: dict = DEFAULT_NORMALIZATION) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (3, H, W) float32, normalised channel by channel."""
    mean = np.asarray(normalization["mean"], dtype=np.float32)[:, None, None]
    std = np.asarray(normalization["std"], dtype=np.float32)[:, None, None]
    chw = image.astype(np.float32).transpose(2, 0, 1) / 255.0
    return (chw - mean) / std


def pad_to_multiple(array: np.ndarray, multiple: int) -> np.ndarray:
    """Zero-pad the last two axes of a (C, H, W) array up to multiples of ``multiple`` (bottom/right)."""
    height, width = array.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if not pad_h and not pad_w:
        return array
    return np.pad(array, [(0, 0)] * (array.ndim - 2) + [(0, pad_h), (0, pad_w)])


# Mirrored pixels added around every image the network counts (validation, evaluate, count, propose): near an
# image's edge a convolution otherwise reads zeros, which the network answers with spurious or misplaced
# objects. U-Net's overlap-tile strategy (Ronneberger et al. 2015) extrapolates missing context the same way.
# Measured on VGG cells, 20 test images, same checkpoints (0 / 16 / 32 pixels): a U-Net trained on 64 images,
# MAE 3.99 / 3.67 / 3.77, false positives within 8 px of the edge 34 / 10 / 31, clicks to correct its
# proposals 328 / 303 / 361; one trained on 10 images, MAE 4.72 / 4.52 / 4.60, edge false positives
# 189 / 60 / 39, clicks 718 / 545 / 500. 16 pixels cost 25% more input at 256 x 256 (7% at 1024 x 768).
# Training crops are unchanged: they are cut from inside images. (python bench/edge_context.py)
CONTEXT_PIXELS = 16


def context_margin(align: int) -> int:
    """The mirrored margin in pixels: CONTEXT_PIXELS (read at each call: benchmarks vary it) rounded up to
    ``align``, so the margin is a whole number of output cells and pooling grids stay aligned with the image's."""
    return round_up(CONTEXT_PIXELS, align) if CONTEXT_PIXELS > 0 else 0


def context_shape(height: int, width: int, margin: int, align: int) -> tuple[int, int]:
    """The network input size of an image seen with ``margin`` mirrored pixels: each side plus two margins,
    rounded up to ``align``."""
    return round_up(height + 2 * margin, align), round_up(width + 2 * margin, align)


def image_cell_box(height: int, width: int, stride: int, margin: int) -> tuple[int, int, int]:
    """(first, rows, columns): the output cells ``[first, first + rows) x [first, first + columns)`` of a map
    predicted with ``margin`` mirrored pixels are the (height, width) image's own; the rest is margin."""
    return margin // stride, -(-height // stride), -(-width // stride)


def mirror_indices(start: int, stop: int, size: int) -> np.ndarray:
    """Indices ``start .. stop-1`` of an axis of ``size`` extended by mirroring: ... 2 1 | 0 1 ... n-1 | n-2 ...

    The edge pixel is not repeated (numpy's "reflect"), and a margin wider than the axis mirrors again.
    """
    index = np.arange(start, stop)
    if size == 1:
        return np.zeros_like(index)
    period = 2 * (size - 1)
    index = np.mod(index, period)
    return np.where(index >= size, period - index, index)


def mirrored_window(image: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Rows ``y0..y1-1`` and columns ``x0..x1-1`` of an (H, W, ...) image extended by mirroring past its edges.

    Only the window is copied (and not even that when it lies inside the image), so a tile of a huge image
    never costs a padded copy of the whole image.
    """
    height, width = image.shape[:2]
    top, bottom, left, right = max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width)
    rows, columns = min(y1, height) - max(y0, 0), min(x1, width) - max(x0, 0)  # of the part inside the image
    inside = image[max(y0, 0):min(y1, height), max(x0, 0):min(x1, width)] if rows > 0 and columns > 0 else None
    if inside is not None and not (top or bottom or left or right):
        return inside
    if inside is not None and max(top, bottom) < rows and max(left, right) < columns:  # usual: ~20x faster
        widths = [(top, bottom), (left, right)] + [(0, 0)] * (image.ndim - 2)
        return np.pad(inside, widths, mode="reflect")
    return image[np.ix_(mirror_indices(y0, y1, height), mirror_indices(x0, x1, width))]


def with_context(image: np.ndarray, margin: int, align: int) -> np.ndarray:
    """The network input of an (H, W, 3) image: ``margin`` mirrored pixels on every side, and more mirrored
    pixels at the bottom and right up to multiples of ``align`` (``context_shape``); :func:`image_cell_box`
    says which cells of its density map are the image's."""
    rows, columns = context_shape(*image.shape[:2], margin, align)
    return mirrored_window(image, -margin, rows - margin, -margin, columns - margin)
