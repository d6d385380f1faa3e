"""What the video-frame datasets (UCSD pedestrians, Mall) share: one .mat file holding every frame's points,
and a region of interest stored as a polygon or as a mask.

Their ground truth is a MATLAB ``frame`` cell (1 x number of frames), each cell a 1 x 1 struct with a ``loc``
field (N x 2 or N x 3; the first two columns are x, y in pixels), so that
``scipy.io.loadmat(p)["frame"][0, i][0, 0]["loc"]`` is frame i's points. Some UCSD copies wrap it in a struct
``fgt`` (``fgt.frame``). The whole file is read once and kept while an import runs (Mall holds 2,000 frames
in one file). Coordinates are kept as stored, like every other .mat format (formats/__init__.py), and so
is a polygon ROI; a mask ROI becomes the polygon that runs along the edges of its pixels, which holds
exactly the mask's pixels (a pixel is inside when its centre is, engine.dataset.regions).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.dataset.formats.common import AnnotationError, point_array
from engine.dataset.regions import Region


@lru_cache(maxsize=8)
def _frames_of(path: str, mtime: float) -> tuple:
    import scipy.io

    try:
        contents = scipy.io.loadmat(path, variable_names=("frame", "fgt", "count"))
    except Exception as exc:  # scipy raises many types for damaged files
        raise AnnotationError(f"not a readable MATLAB .mat file ({type(exc).__name__}: {exc})") from None
    cells = contents.get("frame")
    if cells is None and "fgt" in contents and "frame" in (contents["fgt"].dtype.names or ()):
        cells = contents["fgt"]["frame"].flat[0]
    if cells is None or cells.dtype != object:
        raise AnnotationError("holds no 'frame' cell of structs with a 'loc' field")
    counts = contents.get("count")
    return tuple(cells.ravel()), None if counts is None else np.asarray(counts, dtype=np.float64).ravel()


def frame_points(path: Path, index: int, notes: list[str]) -> np.ndarray:
    """The (N, 2) x, y points of frame ``index`` (0-based) of a ``frame`` cell .mat file."""
    cells, counts = _frames_of(str(path), path.stat().st_mtime)
    if not 0 <= index < len(cells):
        raise AnnotationError(f"has {len(cells)} frames, none for frame {index + 1}")
    struct = cells[index]
    while isinstance(struct, np.ndarray) and struct.dtype == object and struct.size == 1:
        struct = struct.flat[0]
    if not isinstance(struct, np.ndarray) or "loc" not in (struct.dtype.names or ()):
        raise AnnotationError(f"frame {index + 1} has no 'loc' field")
    loc = struct["loc"].flat[0]
    # The third column of UCSD's loc is not a coordinate; dropping it is expected, not worth a note.
    array = np.asarray(loc, dtype=np.float64)
    points = point_array(array[:, :2] if array.ndim == 2 and array.shape[1] > 2 else array,
                         f"frame {index + 1} loc", notes)
    if counts is not None and index < len(counts) and counts[index] != len(points):
        notes.append(f"'count' says {counts[index]:g} for frame {index + 1} but it has {len(points)} points; "
                     f"the {len(points)} points were imported")
    return points


def read_roi(path: Path) -> list[Region]:
    """The ``roi`` struct of a .mat file as ``roi`` regions: its polygon (``xi``, ``yi``) when it has one,
    else the outline of its ``mask``. Raises AnnotationError for a file without a usable ``roi``."""
    import scipy.io

    try:
        roi = scipy.io.loadmat(path, variable_names=("roi",)).get("roi")
    except Exception as exc:
        raise AnnotationError(f"not a readable MATLAB .mat file ({type(exc).__name__}: {exc})") from None
    names = roi.dtype.names or () if isinstance(roi, np.ndarray) else ()
    if "xi" in names and "yi" in names:
        x = np.asarray(roi["xi"].flat[0], dtype=np.float64).ravel()
        y = np.asarray(roi["yi"].flat[0], dtype=np.float64).ravel()
        if len(x) == len(y) >= 3:
            return [Region("roi", np.stack([x, y], axis=1))]
    if "mask" in names:
        polygons = mask_outlines(np.asarray(roi["mask"].flat[0]) != 0)
        if polygons:
            return [Region("roi", polygon) for polygon in polygons]
    raise AnnotationError("holds no 'roi' struct with a polygon (xi, yi) or a non-empty mask")


def mask_outlines(mask: np.ndarray) -> list[np.ndarray]:
    """The outer outline of each 4-connected part of ``mask`` as an (N, 2) x, y polygon along pixel edges.

    Holes are left out (a ``roi`` region is a union of filled polygons).
    """
    from scipy import ndimage

    labels, parts = ndimage.label(mask)
    outlines = []
    for part in range(1, parts + 1):
        loops = _edge_loops(labels == part)
        outlines.append(max(loops, key=_loop_area))  # the outer loop encloses the holes' loops
    return outlines


def _edge_loops(mask: np.ndarray) -> list[np.ndarray]:
    # Each exposed side of a mask pixel is a directed edge with the mask on one side; they chain into loops.
    padded = np.pad(mask, 1)
    inside = padded[1:-1, 1:-1]
    rows, cols = np.nonzero(inside & ~padded[:-2, 1:-1])
    edges = [((c + 1, r), (c, r)) for r, c in zip(rows, cols)]  # top
    rows, cols = np.nonzero(inside & ~padded[2:, 1:-1])
    edges += [((c, r + 1), (c + 1, r + 1)) for r, c in zip(rows, cols)]  # bottom
    rows, cols = np.nonzero(inside & ~padded[1:-1, :-2])
    edges += [((c, r), (c, r + 1)) for r, c in zip(rows, cols)]  # left
    rows, cols = np.nonzero(inside & ~padded[1:-1, 2:])
    edges += [((c + 1, r + 1), (c + 1, r)) for r, c in zip(rows, cols)]  # right
    following: dict[tuple, list[tuple]] = {}
    for start, end in edges:
        following.setdefault(start, []).append(end)
    loops = []
    while following:
        start = next(iter(following))
        loop, corner = [start], start
        while True:
            ends = following[corner]
            after = ends.pop()
            if not ends:
                del following[corner]
            if after == start:
                break
            loop.append(after)
            corner = after
        loops.append(_without_straight_corners(np.asarray(loop, dtype=np.float64)))
    return loops


def _without_straight_corners(loop: np.ndarray) -> np.ndarray:
    before, after = np.roll(loop, 1, axis=0), np.roll(loop, -1, axis=0)
    cross = (loop[:, 0] - before[:, 0]) * (after[:, 1] - loop[:, 1]) \
        - (loop[:, 1] - before[:, 1]) * (after[:, 0] - loop[:, 0])
    return loop[cross != 0]


def _loop_area(loop: np.ndarray) -> float:
    x, y = loop[:, 0], loop[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)
