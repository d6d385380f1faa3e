"""Write a CrowdGUI dataset's annotations in formats other tools read: CSV and ShanghaiTech .mat.

Layouts written into the output folder (each one is also what the importer reads back, exactly):

- ``shanghaitech``: ``images/<name>`` and ``ground-truth/GT_<stem>.mat`` (``image_info`` cell with
  ``location`` N x 2 double and ``number``, as in the original dataset).
- ``csv`` with layout ``per-image``: ``<name>`` and ``<stem>.csv`` (header ``x,y``) side by side.
- ``csv`` with layout ``table``: the images and one ``points.csv`` with ``image,x,y`` rows; an annotated image
  with no objects gets one row with empty x and y, so it is not mistaken for an unlabeled one.

Only annotated images are exported (an unlabeled image has no points to write); coordinates are written
unchanged with full float precision. Images are hard-linked when possible, else copied (``images=False``
writes the annotations only). Existing files are never replaced unless ``force`` is given; an image that is
already there with the same bytes is kept.
"""

from __future__ import annotations

import filecmp
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.dataset.formats.csv_points import write_csv_points, write_csv_table
from engine.dataset.formats.shanghaitech import annotation_name, write_shanghaitech_points
from engine.dataset.importers import link_or_copy
from engine.dataset.sidecar import SidecarError
from engine.dataset.store import Dataset
from engine.events import EventSink, ListSink

EXPORT_FORMATS = ("csv", "shanghaitech")
CSV_LAYOUTS = ("per-image", "table")
TABLE_NAME = "points.csv"


class DatasetExportError(Exception):
    """The export cannot start; the message says why in plain words."""


@dataclass
class ExportSummary:
    """What an export wrote; ``skipped`` holds (file, reason) pairs."""

    format: str
    dataset: str
    out: str
    images: int = 0  # annotated images whose points were written
    points: int = 0
    unlabeled: int = 0  # images left out because they have no annotation
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"format": self.format, "dataset": self.dataset, "out": self.out, "images": self.images,
                "points": self.points, "unlabeled": self.unlabeled, "skipped": len(self.skipped),
                "skipped_files": [{"path": p, "reason": r} for p, r in self.skipped],
                "seconds": round(self.seconds, 3)}


def _place_image(source: Path, target: Path, force: bool, link: bool) -> str | None:
    """Put the image at ``target``; the reason it could not be, or None."""
    if target.exists():
        if os.path.samefile(source, target) or filecmp.cmp(source, target, shallow=False):
            return None
        if not force:
            return f"{target.name} already exists with other content (use --force to replace it)"
        target.unlink()
    try:
        link_or_copy(source, target, link)
    except OSError as exc:
        return f"cannot copy the image: {exc.strerror or exc}"
    return None


def export_dataset(dataset: Dataset | Path | str, out: Path | str, fmt: str, events: EventSink | None = None,
                   csv_layout: str = "per-image", split: str = "all", images: bool = True,
                   force: bool = False, link: bool = True) -> ExportSummary:
    """Export the annotated images of ``dataset`` (those of ``split``, or all) to ``out`` in format ``fmt``.

    Reports ``start``, per image ``result`` or ``warning``, and ``progress``; returns the summary. Raises
    DatasetExportError when the export cannot start.
    """
    started = time.perf_counter()
    events = events or ListSink()
    if fmt not in EXPORT_FORMATS:
        raise DatasetExportError(f"unknown export format {fmt!r} (known: {', '.join(EXPORT_FORMATS)})")
    if csv_layout not in CSV_LAYOUTS:
        raise DatasetExportError(f"unknown CSV layout {csv_layout!r} (known: {', '.join(CSV_LAYOUTS)})")
    if not isinstance(dataset, Dataset):
        try:
            dataset = Dataset(dataset)
        except FileNotFoundError as exc:
            raise DatasetExportError(str(exc)) from None
    out = Path(out).expanduser()
    if out.resolve() == dataset.folder:
        raise DatasetExportError("--out is the dataset folder itself; choose another folder")
    table = fmt == "csv" and csv_layout == "table"
    if table and (out / TABLE_NAME).exists() and not force:
        raise DatasetExportError(f"{out / TABLE_NAME} already exists (use --force to replace it)")
    image_dir = out / "images" if fmt == "shanghaitech" else out
    points_dir = out / "ground-truth" if fmt == "shanghaitech" else out
    try:
        for folder in {out, image_dir, points_dir}:
            folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetExportError(f"cannot create {out}: {exc.strerror or exc}") from None

    summary = ExportSummary(format="csv-table" if table else fmt, dataset=str(dataset.folder), out=str(out))
    chosen = [e for e in dataset.entries if split == "all" or dataset.split_of(e.name) == split]
    events.emit("start", command="export", total=len(chosen), format=summary.format, out=str(out))
    rows: dict[str, np.ndarray] = {}
    stems: set[str] = set()
    for done, entry in enumerate(chosen, start=1):
        reason = None
        if entry.image_error:
            reason = f"image unreadable: {entry.image_error}"
        elif entry.sidecar_error:
            reason = f"annotation unreadable: {entry.sidecar_error}"
        elif not entry.annotated:
            summary.unlabeled += 1
        elif not table and entry.path.stem.lower() in stems:
            reason = "another image has the same name before its extension; its file name would clash"
        else:
            reason = _export_one(entry, dataset, fmt, table, image_dir, points_dir, rows, images, force, link)
            if reason is None:
                stems.add(entry.path.stem.lower())
                summary.images += 1
                summary.points += entry.count or 0
                events.emit("result", image=entry.name, count=entry.count)
        if reason is not None:
            summary.skipped.append((str(entry.path), reason))
            events.warning(f"skipped {entry.name}: {reason}", path=str(entry.path))
        events.emit("progress", done=done, total=len(chosen))
    if table and rows:
        write_csv_table(out / TABLE_NAME, rows)
    if summary.unlabeled:
        events.warning(f"{summary.unlabeled} unlabeled image(s) were not exported (they have no points)")
    summary.seconds = time.perf_counter() - started
    return summary


def _export_one(entry, dataset: Dataset, fmt: str, table: bool, image_dir: Path, points_dir: Path,
                rows: dict, images: bool, force: bool, link: bool) -> str | None:
    """Write one image's points (and image); the reason it was skipped, or None."""
    try:
        points = dataset.load_points(entry.name)
    except SidecarError as exc:
        return f"annotation unreadable: {exc.reason}"
    entry.count = len(points)  # the file may have changed since the folder was scanned
    if fmt == "shanghaitech":
        target = points_dir / annotation_name(entry.name)
    else:
        target = None if table else points_dir / f"{entry.path.stem}.csv"
    if target is not None and target.exists() and not force:
        return f"{target.name} already exists (use --force to replace it)"
    if images:
        reason = _place_image(entry.path, image_dir / entry.name, force, link)
        if reason is not None:
            return reason
    try:
        if fmt == "shanghaitech":
            write_shanghaitech_points(target, points)
        elif table:
            rows[entry.name] = points
        else:
            write_csv_points(target, points)
    except OSError as exc:
        return f"cannot write {target.name}: {exc.strerror or exc}"
    return None
