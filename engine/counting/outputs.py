"""What ``count`` and ``evaluate`` write around the model, and read back (no torch).

- :class:`CountRecord`: one row of ``counts.csv``, its columns and number formats (the window's CSV export
  writes the same rows with :func:`counts_csv_bytes`).
- :class:`StreamingCsv`: rows are appended and flushed to ``OUT.partial`` as images finish, and the finished
  file replaces ``OUT`` in one rename. A run killed half-way leaves ``OUT`` untouched (the previous results,
  if any) and ``OUT.partial`` holding every row finished so far.
- :func:`write_skipped_csv`: ``OUT`` with ``.skipped.csv`` for ``.csv`` lists the files not counted, with why,
  so the table alone never silently misses an image.
- Density maps (``NAME.density.npy``, float32 objects per cell at the model's stride, written atomically) with
  a ``densities.json`` manifest giving the stride (:func:`density_stride` reads it back); a model of 2+ classes
  also writes ``NAME.classes.npy``, the (C, h, w) stack of each class's map in the manifest's ``classes``
  order (:func:`save_class_densities`); predicted points
  as ``NAME.points.csv`` (x,y pixels; :func:`read_points_csv` reads them back).
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_bytes
from engine.counting.localize import rounded_inside

DENSITY_SUFFIX = ".density.npy"
CLASS_DENSITY_SUFFIX = ".classes.npy"  # (C, h, w), channel order = the manifest's "classes"
POINTS_SUFFIX = ".points.csv"  # not ".points.json": a density folder may be the image folder itself
MANIFEST_NAME = "densities.json"
MANIFEST_FORMAT = "crowdgui-density-maps"


@dataclass
class CountRecord:
    """One row of ``counts.csv``: the one place its columns and number formats are decided.

    ``count`` is taken inside the image's ROI (the whole image without one), never in ignore areas;
    ``area_px`` is that area in pixels and ``per_area`` (column name, value) the count per mm² or per hectare
    when a pixel size is known (engine.dataset.pixel_size). With a model of 2+ classes, ``class_counts`` holds
    each class's count in the same area (columns ``count:<class>``) and, where the annotation says each
    point's class, ``class_annotated`` the annotated count of each (``annotated:<class>``, ``error:<class>``).
    """

    image: str
    count: float
    annotated_count: float | None = None
    area_px: int | None = None
    per_area: tuple[str, float | None] | None = None
    class_counts: dict[str, float] | None = None
    class_annotated: dict[str, int] | None = None

    @property
    def class_errors(self) -> dict[str, float] | None:
        """Each class's predicted minus annotated count (None when the classes were not annotated)."""
        if self.class_counts is None or self.class_annotated is None:
            return None
        return {name: self.class_counts[name] - self.class_annotated[name] for name in self.class_counts}

    @property
    def error(self) -> float | None:
        """Predicted minus annotated count (positive: the model counted too many)."""
        return None if self.annotated_count is None else self.count - self.annotated_count

    def row(self, per_area_column: str | None = None, class_names: list[str] | None = None) -> list:
        """The CSV cells, under :func:`count_columns` (``per_area_column``, ``class_names``)."""
        annotated = None if self.annotated_count is None else f"{self.annotated_count:g}"
        values = [self.image, format_count(self.count), annotated, format_count(self.error), self.area_px]
        if per_area_column:
            values.append(format_count(self.per_area[1]) if self.per_area else None)
        if class_names and len(class_names) > 1:
            counts, known, errors = self.class_counts or {}, self.class_annotated or {}, self.class_errors or {}
            values += [format_count(counts.get(name)) for name in class_names]
            values += [None if known.get(name) is None else f"{known[name]:g}" for name in class_names]
            values += [format_count(errors.get(name)) for name in class_names]
        return ["" if value is None else value for value in values]


COUNT_COLUMNS = ["image", "count", "annotated_count", "error", "area_px"]


def count_columns(per_area_column: str | None = None, class_names: list[str] | None = None) -> list[str]:
    """The header of ``counts.csv``; ``per_area_column`` (per_mm2 or per_hectare) with a pixel size;
    ``count:<class>``, ``annotated:<class>`` and ``error:<class>`` per class with 2+ ``class_names``."""
    columns = COUNT_COLUMNS + ([per_area_column] if per_area_column else [])
    if class_names and len(class_names) > 1:
        columns += [f"{kind}:{name}" for kind in ("count", "annotated", "error") for name in class_names]
    return columns


def counts_csv_bytes(records: list[CountRecord]) -> bytes:
    """A whole ``counts.csv`` at once (the window saves the rows of a cancelled run with it)."""
    # One run has one pixel size and one model, so the first record with a density (with classes) names the
    # columns.
    column = next((record.per_area[0] for record in records if record.per_area is not None), None)
    class_names = next((list(record.class_counts) for record in records if record.class_counts), None)
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(count_columns(column, class_names))
    writer.writerows(record.row(column, class_names) for record in records)
    return text.getvalue().encode("utf-8")


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
    return _save_float32(density_path(folder, name), density)


def class_density_path(folder: Path | str, name: str) -> Path:
    """Where the per-class maps of image ``name`` go: ``NAME.classes.npy``."""
    return Path(folder) / f"{name}{CLASS_DENSITY_SUFFIX}"


def save_class_densities(folder: Path | str, name: str, maps: np.ndarray) -> Path:
    """Save one image's (C, h, w) per-class maps as float32 .npy, atomically; returns its path."""
    return _save_float32(class_density_path(folder, name), maps)


def _save_float32(path: Path, array: np.ndarray) -> Path:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=np.float32), allow_pickle=False)
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


def read_points_csv(path: Path | str) -> np.ndarray:
    """A ``NAME.points.csv`` (header x,y) as an (N, 2) float array. Raises ValueError for another file."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"x", "y"} <= set(reader.fieldnames):
            raise ValueError(f"{Path(path).name}: not a points file (expected the columns x,y)")
        rows = [(float(row["x"]), float(row["y"])) for row in reader]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 2)


def density_stride(folder: Path | str) -> int:
    """The stride of the density maps in ``folder``, from its ``densities.json``.

    Raises ValueError (plain words) when the manifest is missing or unreadable: a stride guessed from the
    shapes would be wrong for maps whose image side is not a multiple of it.
    """
    path = Path(folder) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        stride = int(manifest["stride"])
    except FileNotFoundError:
        raise ValueError(f"{path.parent.name} has no {MANIFEST_NAME}, so the maps' stride is unknown") from None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{path}: cannot be read ({exc})") from None
    if manifest.get("format") != MANIFEST_FORMAT or stride < 1:
        raise ValueError(f"{path}: not a CrowdGUI density manifest")
    return stride
