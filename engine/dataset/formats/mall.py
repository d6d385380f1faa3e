"""Mall (Chen et al., BMVC 2012): ``mall_dataset/frames/seq_XXXXXX.jpg`` with ``mall_dataset/mall_gt.mat`` and
the ROI in ``mall_dataset/perspective_roi.mat``.

``mall_gt.mat`` holds ``frame`` (a cell of 2,000 structs with ``loc``, N x 2 x, y) and ``count`` (2,000 x 1,
the number of people per frame, checked against the points); frame ``seq_XXXXXX`` is cell XXXXXX (1-based).
``perspective_roi.mat`` holds the perspective map ``pMapN`` and ``roi`` with its ``mask``, whose outline
becomes a ``roi`` region of every frame (frame_sets.mask_outlines). Point the importer at ``mall_dataset/``
or at the folder holding it.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import numpy as np

from engine.dataset.formats.common import AnnotationError, Discovery, SourceItem, existing_folders, list_files
from engine.dataset.formats.frame_sets import frame_points, read_roi

NAME = "mall"
DESCRIPTION = "Mall: frames/seq_XXXXXX.jpg + mall_gt.mat (frame, count) (+ perspective_roi.mat)"
GROUND_TRUTH = "mall_gt.mat"
ROI_FILE = "perspective_roi.mat"
_FRAME = re.compile(r"^seq_(\d+)$", re.IGNORECASE)


def read_mall_points(path: Path | str, size=None, notes: list[str] | None = None, *, frame: int) -> np.ndarray:
    """The (N, 2) x, y points of frame ``frame`` (0-based) of ``mall_gt.mat``."""
    return frame_points(Path(path), frame, notes if notes is not None else [])


def discover(src: Path) -> Discovery:
    discovery = Discovery()
    for root in existing_folders(src, (".", "mall_dataset")):
        ground_truth = root / GROUND_TRUTH
        if not ground_truth.is_file():
            continue
        regions = []
        if (root / ROI_FILE).is_file():
            try:
                regions = read_roi(root / ROI_FILE)
            except AnnotationError as exc:
                discovery.skipped.append((root / ROI_FILE, f"region of interest unreadable: {exc}"))
        for image in list_files(root / "frames", (".jpg", ".jpeg", ".png")):
            match = _FRAME.match(image.stem)
            if match is None:
                discovery.items.append(SourceItem(image))
                continue
            reader = partial(read_mall_points, frame=int(match.group(1)) - 1)
            discovery.items.append(SourceItem(image, ground_truth, reader, regions=regions))
        break
    return discovery
