"""UCSD pedestrians (Chan et al., CVPR 2008): frames ``ucsdpeds/vidf/vidf1_33_00N.y/vidf1_33_00N_fXXX.png``
with ground truth ``vidf-cvpr/vidf1_33_00N_frame_full.mat`` and the ROI ``vidf-cvpr/vidf1_33_roi_mainwalkway.mat``.

Each ``_frame_full.mat`` holds the ``frame`` cell of its video (200 frames, ``loc`` N x 3: x, y and a third
column that is not a coordinate; see frame_sets.py); frame ``fXXX`` is cell XXX (1-based). The ROI's ``roi``
struct has the polygon ``xi``, ``yi`` and its ``mask``; every frame gets the polygon as a ``roi`` region.
Point the importer at the folder holding ``vidf-cvpr/`` and ``ucsdpeds/`` (or at a folder holding the
``.mat`` files and the ``.y`` frame folders side by side).
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import numpy as np

from engine.dataset.formats.common import AnnotationError, Discovery, SourceItem, existing_folders, list_files
from engine.dataset.formats.frame_sets import frame_points, read_roi

NAME = "ucsd"
DESCRIPTION = ("UCSD pedestrians: ucsdpeds/vidf/vidf1_33_00N.y/*_fXXX.png + vidf-cvpr/vidf1_33_00N_frame_full.mat "
               "(+ vidf1_33_roi_mainwalkway.mat)")
ANNOTATION_FOLDERS = (".", "vidf-cvpr", "gt/vidf", "gt")
FRAME_FOLDERS = (".", "ucsdpeds/vidf", "vidf", "video/vidf")
ROI_NAME = "vidf1_33_roi_mainwalkway.mat"
_GROUND_TRUTH = re.compile(r"^(vidf\d+_\d+_\d+)_frame_full\.mat$", re.IGNORECASE)
_FRAME = re.compile(r"_f(\d+)$", re.IGNORECASE)


def read_ucsd_points(path: Path | str, size=None, notes: list[str] | None = None, *, frame: int) -> np.ndarray:
    """The (N, 2) x, y points of frame ``frame`` (0-based) of one ``_frame_full.mat``."""
    return frame_points(Path(path), frame, notes if notes is not None else [])


def discover(src: Path) -> Discovery:
    discovery = Discovery()
    annotation_folders = existing_folders(src, ANNOTATION_FOLDERS)
    regions = _roi(annotation_folders, discovery)
    frame_folders = existing_folders(src, FRAME_FOLDERS)
    for folder in annotation_folders:
        for mat in list_files(folder, (".mat",)):
            match = _GROUND_TRUTH.match(mat.name)
            if not match:
                continue
            video = match.group(1)
            frames = [f for base in frame_folders for f in list_files(base / f"{video}.y", (".png",))]
            if not frames:
                discovery.skipped.append((mat, f"no frames found (expected a {video}.y folder of PNGs)"))
            for image in frames:
                index = _FRAME.search(image.stem)
                if index is None:
                    discovery.items.append(SourceItem(image))
                    continue
                reader = partial(read_ucsd_points, frame=int(index.group(1)) - 1)
                discovery.items.append(SourceItem(image, mat, reader, regions=regions))
    return discovery


def _roi(folders: list[Path], discovery: Discovery) -> list:
    for folder in folders:
        path = folder / ROI_NAME
        if path.is_file():
            try:
                return read_roi(path)
            except AnnotationError as exc:
                discovery.skipped.append((path, f"region of interest unreadable: {exc}"))
    return []
