"""The annotation sidecar: one JSON file beside each image, written atomically.

``photo.jpg`` is annotated by ``photo.jpg.points.json``::

    {"format": "crowdgui-points", "version": 2, "image": "photo.jpg", "width": 1024, "height": 768,
     "split": null, "points": [[x, y], ...], "labels": ["adult", ...], "proposed": [[x, y], ...],
     "regions": [{"kind": "annotated", "polygon": [[x, y], ...]}, {"kind": "count", "polygon": ..., "count": 37}]}

``labels`` (optional) names each point's class, aligned with ``points``; absent means every point is of the
dataset's first class. ``regions`` (optional) says where the points are complete, what to ignore, where to
count and counts a person stated: see :mod:`engine.dataset.regions`. Version 1 files (no labels, no regions)
still read, as whole-image annotations; every file is written as version 2, with ``labels``, ``proposed``
and ``regions`` present only when they hold something.

An optional ``"source": {"video": "street.mp4", "frame": 120, "time_s": 4.8}`` says the image is a frame
extracted from a video (its file name, the frame's index from 0 and its time in seconds); it is written only
when set and kept when the points are saved.

An optional ``"proposed": [[x, y], ...]`` holds points a model proposed that the user has not confirmed yet
(``python -m engine propose``, or "Propose points" in the window). An image with pending proposals is not
annotated: it stays out of training and evaluation until the proposals are accepted or discarded. The key is
written only when there are proposals, so files without any are exactly as before. A model of 2+ classes also
writes ``"proposed_labels": ["live", ...]``, the class of each proposal (aligned with ``proposed``; optional, so
older readers, which ignore it, still read the file).

Points are float image pixels, origin at the top-left corner of the top-left pixel, x to the right, y down,
in the image as displayed (EXIF orientation applied). ``split`` is ``"train"``, ``"val"``, ``"test"`` or null
(null: the dataset's automatic split decides).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.dataset.regions import Region
from engine.atomic import atomic_write_bytes  # noqa: F401  (re-exported: part of this API)

SIDECAR_SUFFIX = ".points.json"
FORMAT_NAME = "crowdgui-points"
SCHEMA_VERSION = 2
SPLITS = ("train", "val", "test")


class _Keep:
    """The type of :data:`KEEP`."""

    def __repr__(self) -> str:
        return "KEEP"


# Passed for a field of an annotation being saved: "keep what the file on disk holds now".
KEEP = _Keep()


class SidecarError(Exception):
    """A sidecar that cannot be trusted; the message says why in plain words."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{Path(path).name}: {reason}")
        self.path = Path(path)
        self.reason = reason


@dataclass
class Annotation:
    """The points of one image plus what is needed to check they belong to it."""

    image: str
    width: int
    height: int
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.float64))
    split: str | None = None
    proposed: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.float64))
    labels: list[str] | None = None  # one class name per point; None: all of the dataset's first class
    regions: list[Region] = field(default_factory=list)
    source: dict | None = None  # {"video": name, "frame": index, "time_s": seconds} for a video frame
    proposed_labels: list[str] | None = None  # the class of each proposal; None: the model named none

    def __post_init__(self) -> None:
        self.points = as_points(self.points)
        self.proposed = as_points(self.proposed)
        if self.labels is not None:
            self.labels = [str(label) for label in self.labels]
            if len(self.labels) != len(self.points):
                raise ValueError(f"{len(self.labels)} labels for {len(self.points)} points")
        if self.proposed_labels is not None:
            self.proposed_labels = [str(label) for label in self.proposed_labels]
            if len(self.proposed_labels) != len(self.proposed):
                raise ValueError(f"{len(self.proposed_labels)} labels for {len(self.proposed)} proposed points")

    @property
    def empty(self) -> bool:
        """Nothing clicked, proposed or drawn: as if the image had no annotation file."""
        return not len(self.points) and not len(self.proposed) and not self.regions

    @property
    def count(self) -> int:
        """Confirmed points only; proposals are not counted until accepted."""
        return int(len(self.points))

    @property
    def pending(self) -> bool:
        """True while model-proposed points wait for the user to accept or discard them."""
        return bool(len(self.proposed))


def as_points(points) -> np.ndarray:
    """Any (N, 2)-shaped sequence as a float64 (N, 2) array (an empty one for N = 0)."""
    array = np.asarray(points, dtype=np.float64)
    if array.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {array.shape}")
    return array


def sidecar_path(image_path: Path | str) -> Path:
    """Where the annotation of ``image_path`` lives."""
    image_path = Path(image_path)
    return image_path.with_name(image_path.name + SIDECAR_SUFFIX)


def annotation_to_json(annotation: Annotation) -> str:
    """The sidecar's text. Raises ValueError for NaN or infinite points, which JSON cannot hold."""
    for kind, points in (("point", annotation.points), ("proposed point", annotation.proposed)):
        if points.size and not np.all(np.isfinite(points)):
            bad = int(np.sum(~np.all(np.isfinite(points), axis=1)))
            raise ValueError(f"{bad} {kind}(s) have non-finite coordinates (NaN or infinity); not saved")
    header = {
        "format": FORMAT_NAME,
        "version": SCHEMA_VERSION,
        "image": annotation.image,
        "width": int(annotation.width),
        "height": int(annotation.height),
        "split": annotation.split,
    }
    head = json.dumps(header, indent=2)[:-2]  # drop the closing "\n}" to append the points
    body = f',\n  "points": {_points_text(annotation.points)}'
    if annotation.labels is not None:
        body += f',\n  "labels": {json.dumps(annotation.labels, ensure_ascii=False)}'
    if annotation.pending:
        body += f',\n  "proposed": {_points_text(annotation.proposed)}'
        if annotation.proposed_labels is not None:
            body += f',\n  "proposed_labels": {json.dumps(annotation.proposed_labels, ensure_ascii=False)}'
    if annotation.regions:
        regions = ",\n    ".join(json.dumps(region.to_json(), allow_nan=False) for region in annotation.regions)
        body += f',\n  "regions": [\n    {regions}\n  ]'
    if annotation.source is not None:
        body += f',\n  "source": {json.dumps(annotation.source, ensure_ascii=False, allow_nan=False)}'
    return head + body + "\n}\n"


def _points_text(points: np.ndarray) -> str:
    # One point per line keeps big files diff-able and still compact; repr() keeps full float precision.
    if not len(points):
        return "[]"
    lines = ",\n    ".join(f"[{float(x)!r}, {float(y)!r}]" for x, y in points)
    return f"[\n    {lines}\n  ]"


def write_sidecar(path: Path | str, annotation: Annotation) -> None:
    """Save an annotation atomically (see :func:`atomic_write_bytes`); ValueError for non-finite points."""
    atomic_write_bytes(path, annotation_to_json(annotation).encode("utf-8"))


def read_sidecar(path: Path | str) -> Annotation:
    """Load and validate a sidecar; raise SidecarError with a plain-words reason for anything wrong."""
    path = Path(path)
    if path.exists() and not path.is_file():
        # A folder, a named pipe (reading would wait forever) or a device is never an annotation.
        raise SidecarError(path, "not a regular file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SidecarError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        # utf-8-sig: a file re-saved by a Windows editor starts with a byte-order mark; the points are fine.
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, and numbers too long to convert
        raise SidecarError(path, f"not valid JSON ({_first_line(exc)})") from None
    except RecursionError:  # "[[[[...": a hostile file must not take the folder scan down
        raise SidecarError(path, "not valid JSON (nested too deeply)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise SidecarError(path, "not a CrowdGUI annotation file (missing 'format': 'crowdgui-points')")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version > SCHEMA_VERSION or version < 1:
        raise SidecarError(
            path, f"schema version {version!r} is not supported (this CrowdGUI reads up to {SCHEMA_VERSION})"
        )
    try:
        width, height = int(data["width"]), int(data["height"])
        image = str(data["image"])
        raw_points = data["points"]
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise SidecarError(path, f"missing or invalid field {exc}") from None
    if width < 1 or height < 1:
        raise SidecarError(path, f"image size {width} x {height} is not a size")
    points = _read_points(path, raw_points, "points")
    proposed = _read_points(path, data.get("proposed") or [], "proposed")
    split = data.get("split")
    if split not in (None, *SPLITS):
        raise SidecarError(path, f"unknown split {split!r} (expected one of {', '.join(SPLITS)} or null)")
    labels = data.get("labels")
    if labels is not None and (not isinstance(labels, list) or not all(isinstance(x, str) for x in labels)
                               or len(labels) != len(points)):
        raise SidecarError(path, f"labels must be a list of {len(points)} class names, one per point")
    proposed_labels = data.get("proposed_labels")
    if proposed_labels is not None and (not isinstance(proposed_labels, list) or len(proposed_labels) != len(proposed)
                                        or not all(isinstance(x, str) for x in proposed_labels)):
        raise SidecarError(path, f"proposed_labels must be a list of {len(proposed)} class names, one per proposal")
    raw_regions = data.get("regions") or []
    if not isinstance(raw_regions, list):
        raise SidecarError(path, "regions must be a list of {'kind': ..., 'polygon': [[x, y], ...]} objects")
    # A region that cannot be used is kept (written back as it was) and reported, never a reason to distrust
    # the points: see engine.dataset.regions.region_problem.
    regions = [Region.from_json(raw) for raw in raw_regions]
    source = data.get("source")
    if source is not None and not _is_frame_source(source):
        raise SidecarError(path, 'source must be {"video": file name, "frame": index from 0, "time_s": seconds}')
    return Annotation(image=image, width=width, height=height, points=points, split=split, proposed=proposed,
                      labels=labels, regions=regions, source=source, proposed_labels=proposed_labels)


def frame_source(video: str, frame: int, time_s: float) -> dict:
    """The ``source`` of a frame extracted from a video."""
    return {"video": str(video), "frame": int(frame), "time_s": round(float(time_s), 6)}


def _is_frame_source(source) -> bool:
    return (isinstance(source, dict) and isinstance(source.get("video"), str)
            and isinstance(source.get("frame"), int) and not isinstance(source.get("frame"), bool)
            and source["frame"] >= 0 and is_finite_number(source.get("time_s")))


def _read_points(path: Path, raw, key: str) -> np.ndarray:
    """The finite (N, 2) array of one points list of a sidecar, or SidecarError naming the key."""
    try:
        # Numbers only: numpy would otherwise turn "1" or true into 1.0 without a word.
        array = np.asarray(raw) if isinstance(raw, list) and raw else np.zeros((0, 2))
        if not isinstance(raw, list) or array.dtype.kind not in "iuf":
            raise TypeError(key)
        points = as_points(array)
    except (ValueError, TypeError):
        raise SidecarError(path, f"{key} must be a list of [x, y] number pairs") from None
    if points.size and not np.all(np.isfinite(points)):
        bad = int(np.sum(~np.all(np.isfinite(points), axis=1)))
        kind = "point" if key == "points" else "proposed point"
        raise SidecarError(path, f"{bad} {kind}(s) have non-finite coordinates (NaN or infinity)")
    return points


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def points_outside(points: np.ndarray, width: int, height: int) -> int:
    """How many points fall outside the image rectangle [0, width) x [0, height)."""
    if not len(points):
        return 0
    x, y = points[:, 0], points[:, 1]
    return int(np.sum((x < 0) | (y < 0) | (x >= width) | (y >= height)))


def is_finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
