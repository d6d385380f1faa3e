"""Fiji/ImageJ Cell Counter XML: ``CellCounter_photo.xml`` with markers grouped by marker type.

::

    <CellCounter_Marker_File>
      <Image_Properties><Image_Filename>photo.tif</Image_Filename></Image_Properties>
      <Marker_Data><Current_Type>1</Current_Type>
        <Marker_Type><Type>1</Type><Name>Type 1</Name>
          <Marker><MarkerX>10</MarkerX><MarkerY>20</MarkerY><MarkerZ>1</MarkerZ></Marker> ...

Cell Counter stores the pixel a person clicked (column, row, whole numbers), so a marker is imported at that
pixel's centre (MarkerX + 0.5, MarkerY + 0.5) and exported as the pixel that holds the point (floor): a Fiji
file round-trips exactly, and so do points at pixel centres. Each marker type is a class, named by ``<Name>``
(older files have none: ``Type N``). The export writes the points type by type, so points of classes that
alternate come back grouped by class. Types without markers are kept out; markers on other slices (MarkerZ) of
a stack are imported together, with a note. The image is the one ``Image_Filename`` names, or the image whose
stem the file's stem ends with (``CellCounter_photo.xml``).
"""

from __future__ import annotations

import math
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from engine.atomic import atomic_write_bytes
from engine.dataset.formats.common import AnnotationError, Discovery, Imported, class_names, parse_xml
from engine.dataset.formats.named_files import pair_named_files

NAME = "fiji"
DESCRIPTION = "Fiji/ImageJ Cell Counter: CellCounter_photo.xml (marker types become classes)"
PREFIX = "CellCounter_"


def read_fiji_points(path: Path | str, size=None, notes: list[str] | None = None) -> Imported:
    """The markers of one Cell Counter file as pixel-centre points, classed by marker type."""
    notes = notes if notes is not None else []
    root = parse_xml(Path(path))
    if root.tag != "CellCounter_Marker_File":
        raise AnnotationError("not a Cell Counter file (no CellCounter_Marker_File)")
    points, labels, slices = [], [], set()
    for marker_type in root.iter("Marker_Type"):
        number = (marker_type.findtext("Type") or "").strip()
        name = (marker_type.findtext("Name") or "").strip() or f"Type {number}"
        for marker in marker_type.iter("Marker"):
            try:
                x, y = int(marker.findtext("MarkerX")), int(marker.findtext("MarkerY"))
            except (TypeError, ValueError):
                raise AnnotationError(f"a marker of {name} has no whole-number MarkerX, MarkerY") from None
            points.append((x + 0.5, y + 0.5))
            labels.append(name)
            slices.add((marker.findtext("MarkerZ") or "").strip())
    if len(slices) > 1:
        notes.append(f"markers lie on {len(slices)} slices of a stack; all were imported into one image")
    return Imported(np.asarray(points, dtype=np.float64).reshape(-1, 2), labels)


def is_fiji_file(path: Path) -> bool:
    """A Cell Counter file by its name or its root element (an unreadable one is reported when read)."""
    if path.name.startswith(PREFIX):
        return True
    try:
        return parse_xml(path).tag == "CellCounter_Marker_File"
    except AnnotationError:
        return False


def image_name_in(path: Path) -> str | None:
    try:
        root = parse_xml(path)
    except AnnotationError:
        return None
    return (root.findtext("Image_Properties/Image_Filename") or "").strip() or None


def annotation_name(image_name: str) -> str:
    return f"{PREFIX}{Path(image_name).stem}.xml"


def write_fiji_points(path: Path | str, image_name: str, points: np.ndarray, labels: list[str] | None) -> None:
    """Write a Cell Counter file: one marker type per class, in the order classes first appear."""
    root = ElementTree.Element("CellCounter_Marker_File")
    properties = ElementTree.SubElement(root, "Image_Properties")
    ElementTree.SubElement(properties, "Image_Filename").text = image_name
    data = ElementTree.SubElement(root, "Marker_Data")
    ElementTree.SubElement(data, "Current_Type").text = "1"
    names = class_names(labels, len(points))
    for number, name in enumerate(dict.fromkeys(names), start=1):
        marker_type = ElementTree.SubElement(data, "Marker_Type")
        ElementTree.SubElement(marker_type, "Type").text = str(number)
        ElementTree.SubElement(marker_type, "Name").text = name
        for (x, y), label in zip(points, names):
            if label == name:
                marker = ElementTree.SubElement(marker_type, "Marker")
                ElementTree.SubElement(marker, "MarkerX").text = str(math.floor(x))
                ElementTree.SubElement(marker, "MarkerY").text = str(math.floor(y))
                ElementTree.SubElement(marker, "MarkerZ").text = "1"
    ElementTree.indent(root)
    atomic_write_bytes(path, ElementTree.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n")


def discover(src: Path) -> Discovery:
    """Pair Cell Counter files with the images they name (or whose stem their name ends with)."""
    return pair_named_files(src, (".xml",), image_name_in, read_fiji_points, PREFIX, is_format=is_fiji_file)
