"""Which files each export format writes: one per image (name, writer) or one for all images (name, writer).

Writers take sidecar :class:`Annotation` objects, so every format gets the points, their classes and regions
and writes what it can hold (see each module in engine/dataset/formats/).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.dataset.formats import coco, cvat, fiji, labelme, qupath
from engine.dataset.formats.csv_points import write_csv_points, write_csv_table
from engine.dataset.formats.shanghaitech import annotation_name as shanghaitech_name
from engine.dataset.formats.shanghaitech import write_shanghaitech_points
from engine.dataset.sidecar import Annotation

TABLE_NAME = "points.csv"


@dataclass(frozen=True)
class PerImage:
    """A format with one annotation file per image: its name, and how to write it."""

    name: Callable[[str], str]
    write: Callable[[Path, Annotation], None]
    folder: str = ""  # where the annotation files go inside the output folder
    image_folder: str = ""  # where the images go
    keeps_classes: bool = False
    keeps_regions: bool = False


@dataclass(frozen=True)
class OneFile:
    """A format with one annotation file for all images: its name, and how to write it."""

    file_name: str
    write: Callable[[Path, list], None]
    keeps_classes: bool = False
    keeps_regions: bool = False


WRITERS = {
    "shanghaitech": PerImage(shanghaitech_name, lambda path, a: write_shanghaitech_points(path, a.points),
                             folder="ground-truth", image_folder="images"),
    "csv": PerImage(lambda name: f"{Path(name).stem}.csv", lambda path, a: write_csv_points(path, a.points, a.labels),
                    keeps_classes=True),
    "csv-table": OneFile(TABLE_NAME, lambda path, annotations: write_csv_table(
        path, {a.image: a.points for a in annotations}, {a.image: a.labels for a in annotations}),
        keeps_classes=True),
    "labelme": PerImage(labelme.annotation_name, lambda path, a: labelme.write_labelme_points(
        path, a.image, (a.width, a.height), a.points, a.labels, a.regions), keeps_classes=True,
        keeps_regions=True),
    "fiji": PerImage(fiji.annotation_name, lambda path, a: fiji.write_fiji_points(path, a.image, a.points, a.labels),
                     keeps_classes=True),
    "qupath": PerImage(qupath.annotation_name, lambda path, a: qupath.write_qupath_points(path, a.points, a.labels),
                       keeps_classes=True),
    "coco": OneFile(coco.FILE_NAME, coco.write_coco, keeps_classes=True),
    "cvat": OneFile(cvat.FILE_NAME, cvat.write_cvat, keeps_classes=True),
}
