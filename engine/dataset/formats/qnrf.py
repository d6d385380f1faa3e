"""UCF-QNRF (Idrees et al., ECCV 2018): ``img_0001.jpg`` beside ``img_0001_ann.mat`` (variable ``annPoints``).

Point the importer at one split folder (``Train`` or ``Test``); the .mat files may also be in an
``annotations/`` or ``ground-truth/`` folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.dataset.formats.common import Discovery, existing_folders, find_images, list_files, pair_by_key
from engine.dataset.formats.matfile import read_mat_points

NAME = "qnrf"
DESCRIPTION = "UCF-QNRF: img_0001.jpg + img_0001_ann.mat (annPoints)"
ANNOTATION_FOLDERS = (".", "annotations", "ground-truth", "ground_truth", "gt")
SUFFIX = "_ann"


def read_qnrf_points(path: Path | str, size=None, notes: list[str] | None = None) -> np.ndarray:
    """(N, 2) float64 x, y points of one ``*_ann.mat`` file (``size`` is unused)."""
    return read_mat_points(path, notes)


def discover(src: Path) -> Discovery:
    """Pair every image with ``<stem>_ann.mat``."""
    annotations: dict[str, Path] = {}
    for folder in existing_folders(src, ANNOTATION_FOLDERS):
        for path in list_files(folder, (".mat",)):
            if path.stem.lower().endswith(SUFFIX):
                annotations.setdefault(path.stem[: -len(SUFFIX)].lower(), path)
    return pair_by_key(find_images(src), annotations, lambda image: image.stem.lower(), read_qnrf_points)
