"""CVAT for images 1.1 XML: one ``annotations.xml`` for a folder of images, points as ``<points>`` shapes.

::

    <annotations><version>1.1</version>
      <image id="0" name="photo.jpg" width="640" height="480">
        <points label="cell" occluded="0" source="manual" points="10.5,20.25;31.0,7.5" z_order="0"/>

Each ``<points>`` shape holds one or more points ``x,y`` separated by ``;``; its ``label`` is their class.
Other shapes (box, polygon, polyline, ellipse, mask, skeleton) are skipped and counted in a note. An image
listed with no points is annotated with no objects. CVAT's coordinates have CrowdGUI's origin (top-left corner
of the image) and are used unchanged.

Export writes one ``<points>`` shape per run of consecutive points of one class, numbers in full precision,
so reading it back gives the same points, in order, with their classes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from engine.atomic import atomic_write_bytes
from engine.dataset.formats.collection_files import pair_collection
from engine.dataset.formats.common import AnnotationError, Discovery, Imported, label_runs, parse_xml

NAME = "cvat"
DESCRIPTION = "CVAT for images XML: annotations.xml with <points> shapes per image"
FILE_NAME = "annotations.xml"
OTHER_SHAPES = ("box", "polygon", "polyline", "ellipse", "mask", "skeleton", "cuboid", "tag")


def parse_cvat(path: Path) -> dict | None:
    """{image name: its <image> element}, or None when ``path`` is not a CVAT for images file."""
    try:
        root = parse_xml(path)
    except AnnotationError:
        return None  # not ours to report: other formats use .xml files too
    if root.tag != "annotations" or root.find("image") is None:
        return None
    return {image.get("name", ""): image for image in root.iter("image")}


def read_cvat_entry(image, size=None, notes: list[str] | None = None) -> Imported:
    """The points and classes of one ``<image>`` element."""
    notes = notes if notes is not None else []
    points, labels, others = [], [], Counter()
    for shape in image:
        if shape.tag != "points":
            if shape.tag in OTHER_SHAPES:
                others[shape.tag] += 1
            continue
        label = shape.get("label", "")
        for pair in (shape.get("points") or "").split(";"):
            try:
                x, y = (float(value) for value in pair.split(","))
            except ValueError:
                raise AnnotationError(f"points of {image.get('name')} hold {pair!r}, not x,y") from None
            points.append((x, y))
            labels.append(label)
    if others:
        notes.append("skipped shapes that are not points: "
                     + ", ".join(f"{count} {kind}" for kind, count in sorted(others.items())))
    return Imported(np.asarray(points, dtype=np.float64).reshape(-1, 2), labels)


def write_cvat(path: Path | str, annotations: list) -> None:
    """Write one CVAT for images 1.1 file for ``annotations`` (sidecar Annotation objects)."""
    root = ElementTree.Element("annotations")
    ElementTree.SubElement(root, "version").text = "1.1"
    meta_labels = ElementTree.SubElement(ElementTree.SubElement(ElementTree.SubElement(
        root, "meta"), "task"), "labels")
    seen: dict[str, None] = {}
    for image_id, annotation in enumerate(annotations):
        image = ElementTree.SubElement(root, "image", id=str(image_id), name=annotation.image,
                                       width=str(annotation.width), height=str(annotation.height))
        for name, run in label_runs(annotation.points, annotation.labels):
            seen.setdefault(name)
            text = ";".join(f"{float(x)!r},{float(y)!r}" for x, y in run)
            ElementTree.SubElement(image, "points", label=name, occluded="0", source="manual", points=text,
                                   z_order="0")
    for name in seen:
        label = ElementTree.SubElement(meta_labels, "label")
        ElementTree.SubElement(label, "name").text = name
        ElementTree.SubElement(label, "type").text = "points"
    ElementTree.indent(root)
    atomic_write_bytes(path, ElementTree.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n")


def discover(src: Path) -> Discovery:
    """Pair the images of ``src`` with the ``<image>`` entries of the CVAT file(s) there."""
    return pair_collection(src, (".xml",), parse_cvat, read_cvat_entry)
