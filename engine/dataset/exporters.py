"""Write a CrowdGUI dataset's annotations in formats other tools read.

Layouts written into the output folder (each one is also what the importer reads back, exactly):

- ``shanghaitech``: ``images/<name>`` and ``ground-truth/GT_<stem>.mat`` (``image_info`` cell with
  ``location`` N x 2 double and ``number``, as in the original dataset).
- ``csv`` with layout ``per-image``: ``<name>`` and ``<stem>.csv`` (header ``x,y``) side by side.
- ``csv`` with layout ``table``: the images and one ``points.csv`` with ``image,x,y`` rows; an annotated image
  with no objects gets one row with empty x and y, so it is not mistaken for an unlabeled one.
- ``labelme`` (``<stem>.json``, point shapes with classes, regions as polygons), ``fiji``
  (``CellCounter_<stem>.xml``), ``qupath`` (``<stem>.geojson``) beside each image; ``coco``
  (``annotations.json``) and ``cvat`` (``annotations.xml``) for all images, beside them. These keep the points'
  classes (points without classes are written as class ``object``); see engine/dataset/export_writers.py.

Only annotated images are exported (an unlabeled image has no points to write); coordinates are written
unchanged with full float precision (Fiji stores whole pixels: see formats/fiji.py). Images are hard-linked
when possible, else copied (``images=False`` writes the annotations only). Existing files are never replaced
unless ``force`` is given; an image that is already there with the same bytes is kept.
"""

from __future__ import annotations

import filecmp
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.dataset.export_writers import WRITERS, OneFile
from engine.dataset.importers import link_or_copy
from engine.dataset.sidecar import Annotation, SidecarError
from engine.dataset.store import Dataset
from engine.events import EventSink, ListSink

EXPORT_FORMATS = ("csv", "shanghaitech", "labelme", "fiji", "qupath", "coco", "cvat")
CSV_LAYOUTS = ("per-image", "table")


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
    classes_left_out: int = 0  # images whose points' classes the format cannot hold
    regions_left_out: int = 0  # regions the format cannot hold
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"format": self.format, "dataset": self.dataset, "out": self.out, "images": self.images,
                "points": self.points, "unlabeled": self.unlabeled, "classes_left_out": self.classes_left_out,
                "regions_left_out": self.regions_left_out, "skipped": len(self.skipped),
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
    writer = WRITERS["csv-table" if fmt == "csv" and csv_layout == "table" else fmt]
    table = isinstance(writer, OneFile)
    if table and (out / writer.file_name).exists() and not force:
        raise DatasetExportError(f"{out / writer.file_name} already exists (use --force to replace it)")
    image_dir = out / writer.image_folder if not table else out
    points_dir = out / writer.folder if not table else out
    try:
        for folder in {out, image_dir, points_dir}:
            folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetExportError(f"cannot create {out}: {exc.strerror or exc}") from None

    summary = ExportSummary(format="csv-table" if fmt == "csv" and table else fmt, dataset=str(dataset.folder),
                            out=str(out))
    chosen = [e for e in dataset.entries if split == "all" or dataset.split_of(e.name) == split]
    events.emit("start", command="export", total=len(chosen), format=summary.format, out=str(out))
    rows: list[Annotation] = []
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
            reason = _export_one(entry, dataset, writer, image_dir, points_dir, rows, images, force, link,
                                 summary)
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
        writer.write(out / writer.file_name, rows)
    if summary.classes_left_out:
        events.warning(f"{fmt} files hold no classes: the classes of {summary.classes_left_out} image(s) "
                       "were not written")
    if summary.regions_left_out:
        events.warning(f"{summary.regions_left_out} region(s) were not written ({fmt} files hold no regions, "
                       "or the region could not be read; LabelMe keeps readable ones)")
    if summary.unlabeled:
        events.warning(f"{summary.unlabeled} unlabeled image(s) were not exported (they have no points)")
    summary.seconds = time.perf_counter() - started
    return summary


def _export_one(entry, dataset: Dataset, writer, image_dir: Path, points_dir: Path, rows: list, images: bool,
                force: bool, link: bool, summary: ExportSummary) -> str | None:
    """Write one image's annotation (and image); the reason it was skipped, or None."""
    try:
        annotation = dataset.load_annotation(entry.name)
    except SidecarError as exc:
        return f"annotation unreadable: {exc.reason}"
    annotation.image = entry.name
    entry.count = annotation.count  # the file may have changed since the folder was scanned
    target = None if isinstance(writer, OneFile) else points_dir / writer.name(entry.name)
    if target is not None and target.exists() and not force:
        return f"{target.name} already exists (use --force to replace it)"
    if images:
        reason = _place_image(entry.path, image_dir / entry.name, force, link)
        if reason is not None:
            return reason
    if target is None:
        rows.append(annotation)
    else:
        try:
            writer.write(target, annotation)
        except OSError as exc:
            return f"cannot write {target.name}: {exc.strerror or exc}"
    if annotation.labels is not None and not writer.keeps_classes:
        summary.classes_left_out += 1
    # A region the sidecar could not read (kept raw) has no polygon any format could write.
    summary.regions_left_out += sum(1 for region in annotation.regions
                                    if region.raw is not None or not writer.keeps_regions)
    return None
