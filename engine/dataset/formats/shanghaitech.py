"""ShanghaiTech (Zhang et al., CVPR 2016): ``images/IMG_n.jpg`` with ``ground-truth/GT_IMG_n.mat``.

Each ``GT_<image stem>.mat`` holds the ``image_info`` cell described in matfile.py. Point the importer at one
split folder (``part_B/train_data``); the .mat files may also sit beside the images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.dataset.formats.common import Discovery, existing_folders, find_images, list_files, pair_by_key
from engine.dataset.formats.matfile import read_mat_points, write_image_info_mat

NAME = "shanghaitech"
DESCRIPTION = "ShanghaiTech: images/IMG_n.jpg + ground-truth/GT_IMG_n.mat (image_info)"
ANNOTATION_FOLDERS = (".", "ground-truth", "ground_truth", "groundtruth", "gt", "GT")
PREFIX = "GT_"


def read_shanghaitech_points(path: Path | str, size=None, notes: list[str] | None = None) -> np.ndarray:
    """(N, 2) float64 x, y head points of one ``GT_IMG_n.mat`` (``size`` is unused: the file has none)."""
    return read_mat_points(path, notes)


def annotation_name(image_name: str) -> str:
    """``IMG_1.jpg`` -> ``GT_IMG_1.mat``."""
    return f"{PREFIX}{Path(image_name).stem}.mat"


def discover(src: Path) -> Discovery:
    """Pair every image of ``src`` (or ``src/images``) with ``GT_<stem>.mat`` from the ground-truth folder."""
    annotations: dict[str, Path] = {}
    for folder in existing_folders(src, ANNOTATION_FOLDERS):
        for path in list_files(folder, (".mat",)):
            if path.name.upper().startswith(PREFIX):
                annotations.setdefault(path.stem[len(PREFIX):].lower(), path)
    return pair_by_key(find_images(src), annotations, lambda image: image.stem.lower(),
                       read_shanghaitech_points)


def write_shanghaitech_points(path: Path | str, points: np.ndarray) -> None:
    """Write one ``GT_*.mat`` (``image_info`` with ``location`` and ``number``) atomically."""
    write_image_info_mat(path, points)
