"""Image -> network input, in one place so training and counting always agree.

The normalisation and the density scale chosen here are written into every checkpoint, and counting reads
them back from the checkpoint, never from here: an old checkpoint keeps working if these defaults change.
"""

from __future__ import annotations

import numpy as np

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
