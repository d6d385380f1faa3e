"""What ``count`` and ``evaluate`` read and write around the model (no torch).

- :func:`gather_targets`: the images named by a path (an image, a folder, a dataset folder with sidecars),
  with their annotated counts where a sidecar exists, and plain-words problems for the files skipped.
- :class:`StreamingCsv`: rows are appended and flushed to ``OUT.partial`` as images finish, and the finished
  file replaces ``OUT`` in one rename. A run killed half-way leaves ``OUT`` untouched (the previous results,
  if any) and ``OUT.partial`` holding every row finished so far.
- :func:`write_skipped_csv`: ``OUT`` with ``.skipped.csv`` for ``.csv`` lists the files not counted, with why,
  so the table alone never silently misses an image.
- Density maps (``NAME.density.npy``, float32 objects per cell at the model's stride, written atomically) with
  a ``densities.json`` manifest giving the stride; predicted points as ``NAME.points.csv`` (x,y pixels).
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.dataset.images import ImageReadError, image_size, is_image_file
from engine.dataset.sidecar import (
    SidecarError,
    atomic_write_bytes,
    points_outside,
    read_sidecar,
    sidecar_path,
)
from engine.dataset.store import Dataset
from engine.counting.localize import rounded_inside

DENSITY_SUFFIX = ".density.npy"
POINTS_SUFFIX = ".points.csv"  # not ".points.json": a density folder may be the image folder itself
MANIFEST_NAME = "densities.json"
MANIFEST_FORMAT = "crowdgui-density-maps"


@dataclass
class CountTarget:
    """One image to count: its display name, its file, and its annotation when it has a valid sidecar."""

    name: str
    path: Path
    annotated_count: int | None = None


@dataclass
class Problem:
    """A file that was skipped (``skipped``: an image) or partly ignored (a malformed sidecar)."""

    message: str
    path: Path
    skipped: bool
    reason: str = ""  # the plain-words reason alone (``message`` also names the file)


def gather_targets(path: Path | str) -> tuple[list[CountTarget], list[Problem]]:
    """(images to count, problems in plain words) for an image file or a folder.

    A folder is read as a CrowdGUI dataset (engine.dataset.Dataset): images in natural order, unreadable ones
    reported and skipped, malformed sidecars reported (the image is still counted, without annotation).
    Raises FileNotFoundError when ``path`` does not exist.
    """
    path = Path(path)
    problems: list[Problem] = []
    if path.is_dir():
        dataset = Dataset(path)
        targets = []
        for entry in dataset:
            if entry.image_error:
                problems.append(Problem(f"{entry.name}: {entry.image_error} (skipped)", entry.path, True,
                                        entry.image_error))
                continue
            if entry.sidecar_error:
                problems.append(Problem(f"{entry.sidecar.name}: {entry.sidecar_error} (annotation ignored)",
                                        entry.sidecar, False))
            annotated = entry.count if entry.annotated else None
            if annotated is not None and entry.outside:
                # Compared with a count of the image, so only the points inside it count.
                annotated -= entry.outside
                problems.append(Problem(f"{entry.sidecar.name}: {entry.outside} of {entry.count} point(s) lie "
                                        "outside the image; the annotated count leaves them out", entry.sidecar,
                                        False))
            targets.append(CountTarget(entry.name, entry.path, annotated))
        # A dataset does not list subfolders, but one named like an image was surely meant to be counted.
        for child in sorted(path.iterdir()):
            if child.is_dir() and is_image_file(child) and not child.name.startswith("."):
                reason = "this is a folder, not an image file"
                problems.append(Problem(f"{child.name}: {reason} (skipped)", child, True, reason))
        return targets, problems
    if path.is_file():
        annotated = None
        if sidecar_path(path).is_file():
            try:
                annotation = read_sidecar(sidecar_path(path))
            except SidecarError as exc:
                problems.append(Problem(f"{exc} (annotation ignored)", sidecar_path(path), False))
            else:
                annotated = annotation.count
                try:
                    outside = points_outside(annotation.points, *image_size(path))
                except ImageReadError:
                    outside = 0  # the count of the image fails with its own message
                if outside:
                    annotated -= outside
                    problems.append(Problem(f"{sidecar_path(path).name}: {outside} of {annotation.count} point(s) "
                                            "lie outside the image; the annotated count leaves them out",
                                            sidecar_path(path), False))
        return [CountTarget(path.name, path, annotated)], problems
    raise FileNotFoundError(f"{path}: no such image or folder")


class StreamingCsv:
    """A CSV written row by row to ``OUT.partial`` and moved onto ``OUT`` by :meth:`commit`."""

    def __init__(self, out: Path | str, header: list[str]):
        self.out = Path(out)
        self.partial = self.out.with_name(self.out.name + ".partial")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        # Kept open across writes on purpose: commit() or abandon() closes it.
        self._handle = open(self.partial, "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = csv.writer(self._handle)
        self._writer.writerow(header)
        self._handle.flush()
        self.rows = 0

    def write(self, row: list) -> None:
        """Append one row and flush it, so a kill loses at most the row being written."""
        self._writer.writerow(["" if value is None else value for value in row])
        self._handle.flush()
        self.rows += 1

    def commit(self) -> Path:
        """Make the finished file durable and put it in place in one rename."""
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self.partial, self.out)
        return self.out

    def abandon(self) -> Path:
        """Close without replacing ``OUT``; the rows so far stay in ``OUT.partial`` (returned)."""
        if not self._handle.closed:
            self._handle.close()
        return self.partial


def skipped_csv_path(out: Path | str) -> Path:
    """``counts.csv`` -> ``counts.skipped.csv`` (beside the counts table)."""
    out = Path(out)
    stem = out.name[:-4] if out.name.lower().endswith(".csv") else out.name
    return out.with_name(stem + ".skipped.csv")


def write_skipped_csv(out: Path | str, skipped_files: list[dict]) -> Path | None:
    """Write ``image,reason`` rows for the files not counted beside ``out``; None when none was skipped.

    A previous run's list is removed when nothing was skipped, so the file never describes an older run.
    """
    path = skipped_csv_path(out)
    if not skipped_files:
        path.unlink(missing_ok=True)
        return None
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["image", "reason"])
    writer.writerows([item["image"], item["reason"]] for item in skipped_files)
    atomic_write_bytes(path, text.getvalue().encode("utf-8"))
    return path


def format_count(value: float | None) -> str | None:
    """Counts in files and tables: three decimals (a density map's sum is not an integer)."""
    return None if value is None else f"{round(value, 3) + 0.0:.3f}"  # + 0.0 turns -0.0 into 0.0


def write_density_manifest(folder: Path | str, stride: int, **details) -> Path:
    """``densities.json``: how to read the maps in ``folder`` (stride, units, which checkpoint made them)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"format": MANIFEST_FORMAT, "version": 1, "stride": int(stride),
                "units": "objects per cell; cell (r, c) covers pixels [c*stride, (c+1)*stride) x "
                         "[r*stride, (r+1)*stride); the map sums to the count",
                "suffix": DENSITY_SUFFIX, **details}
    path = folder / MANIFEST_NAME
    atomic_write_bytes(path, (json.dumps(manifest, indent=2, default=str) + "\n").encode("utf-8"))
    return path


def density_path(folder: Path | str, name: str) -> Path:
    """Where the density map of image ``name`` goes (the full name keeps a.jpg and a.png apart)."""
    return Path(folder) / f"{name}{DENSITY_SUFFIX}"


def save_density(folder: Path | str, name: str, density: np.ndarray) -> Path:
    """Save one density map as float32 .npy, atomically; returns its path."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(density, dtype=np.float32), allow_pickle=False)
    path = density_path(folder, name)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def save_points_csv(folder: Path | str, name: str, points: np.ndarray, image_size: tuple[int, int]) -> Path:
    """Save predicted points as ``NAME.points.csv`` with an ``x,y`` header (image pixels), atomically.

    Two decimals, every point inside the (width, height) image (engine.counting.localize.rounded_inside).
    """
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["x", "y"])
    writer.writerows([[f"{x:.2f}", f"{y:.2f}"] for x, y in rounded_inside(points, image_size)])
    path = Path(folder) / f"{name}{POINTS_SUFFIX}"
    atomic_write_bytes(path, text.getvalue().encode("utf-8"))
    return path
