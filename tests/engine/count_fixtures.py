"""Test helpers for counting: a model whose output is known exactly, checkpoints, and images to count.

``RedCounter`` (registered as ``test_red_counter`` only inside ``red_counter_registered()``) sum-pools the first input channel at its stride and
multiplies by ``gain``; with ``classes=2`` it has a second output channel that counts green pixels alike (two
classes, each with a known answer). Saved with normalisation mean 0 / std 1 and ``gain`` = the checkpoint's density
scale, it predicts one object per pure-red pixel (red = 255) - so every count in a test has a known answer.
Imported by the count tests (which put this folder on sys.path) and by their child processes
(``python -m count_fixtures ARGS`` runs the engine's command line with the test model registered).
"""

from __future__ import annotations

import contextlib
import csv
import json
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

import engine.models
from engine.dataset.sidecar import Annotation, sidecar_path, write_sidecar
from engine.models import get_model, register
from engine.models.checkpoint import save_checkpoint
from engine.models.contract import DEFAULT_NORMALIZATION

PLAIN_NORMALIZATION = {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}


class RedCounter(nn.Module):
    """Test only: density = gain x (red channel summed over each stride x stride cell)."""

    receptive_radius = 0
    calls: ClassVar[list[tuple[int, ...]]] = []  # input shapes of every forward pass, for batching tests

    def __init__(self, stride: int = 4, delay: float = 0.0, classes: int = 1):
        super().__init__()
        self.classes = classes
        self.delay = delay  # seconds per forward pass: a slow model, to cancel a count half-way
        self.stride = stride
        self.input_multiple = stride
        self.gain = nn.Parameter(torch.tensor(1.0))

    def forward(self, x):
        RedCounter.calls.append(tuple(x.shape))
        if self.delay:
            time.sleep(self.delay)
        return self.gain * F.avg_pool2d(x[:, :self.classes], self.stride) * self.stride**2


@contextlib.contextmanager
def red_counter_registered():
    """Make ``test_red_counter`` buildable from a checkpoint, and forget it afterwards (so tests that list
    the real architectures never see it)."""
    register("test_red_counter", "test only: one object per pure-red pixel")(RedCounter)
    try:
        yield RedCounter
    finally:
        engine.models._REGISTRY.pop("test_red_counter", None)
        engine.models._DESCRIPTIONS.pop("test_red_counter", None)


def red_counter_checkpoint(path: Path, stride: int = 4, density_scale: float = 50.0, sigma: float = 2.0,
                           delay: float = 0.0, classes: list[str] | None = None) -> Path:
    """The exact-answer model's checkpoint; ``classes`` (two names): red pixels are the first class, green
    pixels the second."""
    config = {"stride": stride, "delay": delay}
    if classes:
        config["classes"] = len(classes)
    model = RedCounter(**config)
    with torch.no_grad():
        model.gain.fill_(density_scale)
    record = {
        "arch": "test_red_counter", "model_config": config, "stride": stride,
        "input_multiple": stride, "normalization": PLAIN_NORMALIZATION, "density_scale": density_scale,
        "density": {"mode": "fixed", "sigma": sigma}, "state_dict": model.state_dict(),
    }
    if classes:
        record["classes"] = list(classes)
    return save_checkpoint(path, record)


def fcrn_checkpoint(path: Path, width: int = 4, seed: int = 0) -> Path:
    """A real (untrained) FCRN-A checkpoint: output arbitrary but deterministic."""
    torch.manual_seed(seed)
    model = get_model("fcrn_a", width=width)
    return save_checkpoint(path, {
        "arch": "fcrn_a", "model_config": model.config, "stride": model.stride,
        "input_multiple": model.input_multiple, "normalization": DEFAULT_NORMALIZATION,
        "density_scale": 100.0, "density": {"mode": "fixed", "sigma": 3.0}, "state_dict": model.state_dict(),
    })


def spread_pixels(count: int, width: int, height: int, spacing: int = 12, offset: int = 0) -> np.ndarray:
    """``count`` integer (x, y) pixel positions on a grid ``spacing`` apart, inside the image."""
    columns = max(1, (width - 4) // spacing)
    positions = [(4 + offset + (i % columns) * spacing, 4 + offset + (i // columns) * spacing)
                 for i in range(count)]
    array = np.asarray(positions, dtype=int).reshape(-1, 2)
    if len(array) and (array[:, 0].max() >= width or array[:, 1].max() >= height):
        raise ValueError("image too small for that many pixels")
    return array


def red_pixel_image(pixels: np.ndarray, width: int, height: int, green_pixels=None) -> np.ndarray:
    """A black (H, W, 3) uint8 image with red = 255 at each (x, y) of ``pixels`` (green at ``green_pixels``)."""
    image = np.zeros((height, width, 3), dtype=np.uint8)
    for x, y in np.asarray(pixels).reshape(-1, 2):
        image[y, x, 0] = 255
    for x, y in np.asarray(green_pixels if green_pixels is not None else []).reshape(-1, 2):
        image[y, x, 1] = 255
    return image


def write_red_image(folder: Path, name: str, pixels: np.ndarray, width: int = 64, height: int = 48,
                    annotated_points=None, split: str | None = None, green_pixels=None, labels=None) -> Path:
    """Save a red-pixel image (and, given ``annotated_points`` and their ``labels``, its sidecar) into
    ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    Image.fromarray(red_pixel_image(pixels, width, height, green_pixels)).save(path)
    if annotated_points is not None:
        write_sidecar(sidecar_path(path), Annotation(name, width, height, annotated_points, split=split,
                                                     labels=labels))
    return path


def pixel_centres(pixels: np.ndarray) -> np.ndarray:
    """Annotation points at the centres of integer pixels."""
    return np.asarray(pixels, dtype=np.float64).reshape(-1, 2) + 0.5


if __name__ == "__main__":  # the engine's command line, with the test model available
    import sys

    from engine.cli import main

    with red_counter_registered():
        sys.exit(main(sys.argv[1:]))


def jsonl_events(text: str) -> list[dict]:
    """The events a command printed with ``--events jsonl``."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def csv_rows(path) -> list[list[str]]:
    """Every row of a CSV file, header first."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))
