"""NWPU-Crowd (Wang et al., TPAMI 2020): ``images/0001.jpg`` with ``mats/0001.mat`` (variable ``annPoints``).

The .mat file has the image's stem as its name; it may also sit beside the image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.dataset.formats.common import Discovery, existing_folders, find_images, list_files, pair_by_key
from engine.dataset.formats.matfile import read_mat_points

NAME = "nwpu"
DESCRIPTION = "NWPU-Crowd: images/0001.jpg + mats/0001.mat (annPoints)"
ANNOTATION_FOLDERS = ("mats", ".")


def read_nwpu_points(path: Path | str, size=None, notes: list[str] | None = None) -> np.ndarray:
    """(N, 2) float64 x, y points of one NWPU ``.mat`` file (``size`` is unused)."""
    return read_mat_points(path, notes)


def discover(src: Path) -> Discovery:
    """Pair every image with the ``.mat`` of the same stem in ``mats/`` (or beside it)."""
    annotations: dict[str, Path] = {}
    for folder in existing_folders(src, ANNOTATION_FOLDERS):
        for path in list_files(folder, (".mat",)):
            annotations.setdefault(path.stem.lower(), path)
    return pair_by_key(find_images(src), annotations, lambda image: image.stem.lower(), read_nwpu_points)
