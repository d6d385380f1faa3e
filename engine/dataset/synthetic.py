"""Synthetic fluorescence-cell images with known points: the demo dataset, test fixtures and benchmarks.

Cells are blurred bright discs of varying size and brightness on a dark, slightly noisy background, like the
VGG cells set, so a counting network can really learn them. Deterministic for a given seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from engine.dataset.sidecar import Annotation, sidecar_path, write_sidecar


def synthetic_cells(height: int = 256, width: int = 256, count: int = 60,
                    seed: int = 0, cell_radius: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """One image: returns ((H, W, 3) uint8 RGB, (count, 2) float points as x, y)."""
    rng = np.random.default_rng(seed)
    points = _random_points(rng, count, height, width)
    return _cells_image(points, np.tile([0.6, 1.0], (count, 1)), rng, height, width, cell_radius), points


def _random_points(rng: np.random.Generator, count: int, height: int, width: int) -> np.ndarray:
    margin = 2.0
    return np.column_stack([rng.uniform(margin, width - margin, count), rng.uniform(margin, height - margin, count)])


def _cells_image(points: np.ndarray, brightness_ranges: np.ndarray, rng: np.random.Generator, height: int,
                 width: int, cell_radius: float) -> np.ndarray:
    """(H, W, 3) uint8: a cell at every point, its brightness drawn from its (low, high) range."""
    from scipy.ndimage import gaussian_filter

    canvas = np.zeros((height, width), dtype=np.float32)
    yy, xx = np.mgrid[0:height, 0:width]
    reach = int(np.ceil(cell_radius * 2.5))
    for (x, y), (low, high) in zip(points, brightness_ranges):
        radius = cell_radius * rng.uniform(0.7, 1.3)
        brightness = rng.uniform(low, high)
        x0, x1 = max(int(x) - reach, 0), min(int(x) + reach + 1, width)
        y0, y1 = max(int(y) - reach, 0), min(int(y) + reach + 1, height)
        # Pixel centres are at integer + 0.5, so a point at (x, y) lights the pixel that contains it.
        dist2 = (xx[y0:y1, x0:x1] + 0.5 - x) ** 2 + (yy[y0:y1, x0:x1] + 0.5 - y) ** 2
        canvas[y0:y1, x0:x1] += brightness * (dist2 <= radius**2)
    canvas = gaussian_filter(canvas, sigma=1.2)
    canvas += rng.normal(0.05, 0.02, canvas.shape).astype(np.float32)
    canvas = np.clip(canvas / max(1.0, float(canvas.max())), 0, 1)
    rgb = np.stack([canvas * 0.25, canvas * 0.45, canvas], axis=2)
    return (rgb * 255).astype(np.uint8)


def write_synthetic_dataset(folder: Path | str, images: int = 8, size: tuple[int, int] = (256, 256),
                            counts: tuple[int, int] = (20, 120), seed: int = 0,
                            annotate: bool | int = True) -> Path:
    """Write ``images`` PNG files named ``cells_001.png``... with sidecars into ``folder``.

    ``annotate``: True writes every sidecar, False none, an int writes only the first that many (the rest are
    left unlabeled, as for learning from unlabeled images).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    height, width = size
    for index in range(images):
        count = int(rng.integers(counts[0], counts[1] + 1))
        image, points = synthetic_cells(height, width, count, seed=seed * 1000 + index)
        path = folder / f"cells_{index + 1:03d}.png"
        Image.fromarray(image).save(path)
        if annotate is True or (annotate is not False and index < int(annotate)):
            write_sidecar(sidecar_path(path), Annotation(path.name, width, height, points))
    return folder


# The two kinds of cell of write_two_class_dataset: (name, colour, brightness range). Dim cells are a third as
# bright as bright ones, so only their brightness tells them apart (same size, same spread).
TWO_CLASSES = (("bright", "#ffcc00", (0.85, 1.0)), ("dim", "#34c759", (0.25, 0.35)))


def write_two_class_dataset(folder: Path | str, images: int = 8, size: tuple[int, int] = (128, 128),
                            counts: tuple[int, int] = (10, 40), seed: int = 0) -> Path:
    """Like :func:`write_synthetic_dataset`, with two classes of cell: each image holds a random number of
    bright and of dim cells (each from ``counts``), labelled "bright" / "dim" in its sidecar, and the folder's
    crowdgui.json lists both classes (keys 1 and 2)."""
    from engine.dataset.classes import ObjectClass
    from engine.dataset.store import Dataset

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    height, width = size
    for index in range(images):
        numbers = [int(rng.integers(counts[0], counts[1] + 1)) for _ in TWO_CLASSES]
        cells = np.random.default_rng([seed, index])
        points = _random_points(cells, sum(numbers), height, width)
        ranges = np.concatenate([np.tile(spread, (n, 1)) for (_, _, spread), n in zip(TWO_CLASSES, numbers)])
        labels = [name for (name, _, _), n in zip(TWO_CLASSES, numbers) for _ in range(n)]
        path = folder / f"cells_{index + 1:03d}.png"
        Image.fromarray(_cells_image(points, ranges, cells, height, width, cell_radius=4.0)).save(path)
        write_sidecar(sidecar_path(path), Annotation(path.name, width, height, points, labels=labels))
    dataset = Dataset(folder)
    dataset.settings.classes = [ObjectClass(name, colour, key + 1)
                                for key, (name, colour, _) in enumerate(TWO_CLASSES)]
    dataset.save_settings()
    return folder
