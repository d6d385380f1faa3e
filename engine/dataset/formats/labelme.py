"""LabelMe JSON (Wada, labelme): ``photo.json`` with ``shapes`` of ``shape_type`` ``"point"``.

The image is the one ``imagePath`` names (relative to the JSON file's folder; Windows separators allowed),
or else the image with the JSON file's stem. Point shapes are the points, their ``label`` their class
(``label`` keeps only the points of one class). Rectangles and polygons labelled ``annotated``, ``ignore``,
``roi`` or ``count`` become regions (engine/dataset/regions.py; a count region's count is its
``description``); every other shape is skipped, and a note says how many of each type. ``imageWidth`` /
``imageHeight`` that differ from the real image are noted too. LabelMe's coordinates have the same origin as
CrowdGUI's (top-left corner of the top-left pixel) and are used as they are.

:func:`write_labelme_points` writes the same: point shapes labelled with their class, regions as polygons.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_bytes
from engine.dataset.formats.common import (
    AnnotationError,
    Discovery,
    Imported,
    SourceItem,
    class_names,
    existing_folders,
    find_images,
    list_files,
    point_array,
)
from engine.dataset.regions import REGION_KINDS, Region, rectangle
from engine.dataset.sidecar import SIDECAR_SUFFIX

NAME = "labelme"
DESCRIPTION = "LabelMe: photo.json with point shapes (imagePath names the image)"
ANNOTATION_FOLDERS = (".", "annotations", "labels", "json")


def _load(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnnotationError(f"not valid JSON ({exc})") from None
    except OSError as exc:
        raise AnnotationError(f"cannot read: {exc.strerror or exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        raise AnnotationError("not a LabelMe file (no 'shapes' list)")
    return data


def read_labelme_points(path: Path | str, size: tuple[int, int] | None = None,
                        notes: list[str] | None = None, label: str | None = None) -> Imported:
    """The point shapes (with their labels as classes) and regions of one LabelMe JSON file.

    ``label`` keeps only the points of that label (regions are kept whatever it is).
    """
    notes = notes if notes is not None else []
    data = _load(Path(path))
    points, labels, regions, others = [], [], [], Counter()
    for number, shape in enumerate(data["shapes"], start=1):
        if not isinstance(shape, dict):
            raise AnnotationError(f"shape {number} is not an object")
        kind = shape.get("shape_type") or ("point" if len(shape.get("points") or []) == 1 else "polygon")
        name = str(shape.get("label", ""))
        if kind != "point":
            region = _region(shape, kind, name, number)
            if region is None:
                others[kind] += 1
            else:
                regions.append(region)
            continue
        if label is not None and name != label:
            continue
        xy = point_array(shape.get("points"), f"shape {number}", [])
        if len(xy) != 1:
            raise AnnotationError(f"point shape {number} has {len(xy)} coordinates pairs instead of one")
        points.append(xy[0])
        labels.append(name)
    if others:
        notes.append("skipped shapes that are not points or regions: "
                     + ", ".join(f"{count} {kind}" for kind, count in sorted(others.items())))
    stated = data.get("imageWidth"), data.get("imageHeight")
    if size is not None and all(isinstance(v, int) for v in stated) and tuple(stated) != tuple(size):
        notes.append(f"the file says the image is {stated[0]}x{stated[1]} but it is {size[0]}x{size[1]}")
    return Imported(np.asarray(points, dtype=np.float64).reshape(-1, 2), labels, regions)


def _region(shape: dict, kind: str, name: str, number: int) -> Region | None:
    """The region a rectangle or polygon labelled with a region kind stands for, or None."""
    if name not in REGION_KINDS or kind not in ("rectangle", "polygon"):
        return None
    corners = point_array(shape.get("points"), f"shape {number}", [])
    count = None
    if name == "count":
        try:
            count = float(str(shape.get("description") or "").strip())
        except ValueError:
            raise AnnotationError(f"count shape {number} has no number in its description") from None
    if kind == "rectangle":
        if len(corners) != 2:
            raise AnnotationError(f"rectangle shape {number} has {len(corners)} corners instead of two")
        return rectangle(name, *corners[0], *corners[1], count=count)
    return Region(name, corners, count)


def write_labelme_points(path: Path | str, image_name: str, size: tuple[int, int], points: np.ndarray,
                         labels: list[str] | None, regions: list[Region]) -> None:
    """Write a LabelMe file for one image: point shapes with their classes, regions as polygons."""
    shapes = [{"label": name, "points": [[float(x), float(y)]], "group_id": None, "description": "",
               "shape_type": "point", "flags": {}}
              for (x, y), name in zip(points, class_names(labels, len(points)))]
    for region in regions:
        if region.raw is not None:
            continue  # a region the sidecar could not read has no polygon to write
        shapes.append({"label": region.kind, "points": [[float(x), float(y)] for x, y in region.polygon],
                       "group_id": None, "description": "" if region.count is None else repr(region.count),
                       "shape_type": "polygon", "flags": {}})
    data = {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": image_name, "imageData": None,
            "imageHeight": int(size[1]), "imageWidth": int(size[0])}
    atomic_write_bytes(path, json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8") + b"\n")


def annotation_name(image_name: str) -> str:
    return f"{Path(image_name).stem}.json"


def _named_image(json_path: Path, data: dict) -> Path | None:
    image_path = data.get("imagePath")
    if not isinstance(image_path, str) or not image_path:
        return None
    candidate = (json_path.parent / image_path.replace("\\", "/")).resolve()
    return candidate if candidate.is_file() else None


def discover(src: Path, label: str | None = None) -> Discovery:
    """Pair LabelMe JSON files with the images they name (or with the image of the same stem)."""
    reader = partial(read_labelme_points, label=label)
    images = find_images(src)
    by_path = {image.resolve(): image for image in images}
    by_stem: dict[str, list[Path]] = {}
    for image in images:
        by_stem.setdefault(image.stem.lower(), []).append(image)
    claimed: dict[Path, Path] = {}
    discovery = Discovery()
    for folder in existing_folders(src, ANNOTATION_FOLDERS):
        for path in list_files(folder, (".json",)):
            if path.name.endswith(SIDECAR_SUFFIX) or path.name == "crowdgui.json":
                continue  # CrowdGUI's own files
            try:
                data = _load(path)
            except AnnotationError as exc:
                discovery.skipped.append((path, str(exc)))
                continue
            named = _named_image(path, data)
            image = by_path.get(named) if named is not None else None
            if image is None and named is not None:
                image = named  # an image outside the usual folders, named by the file itself
            if image is None:
                same_stem = by_stem.get(path.stem.lower(), [])
                image = same_stem[0] if len(same_stem) == 1 else None
            if image is None:
                discovery.skipped.append((path, f"image {data.get('imagePath')!r} not found"))
            elif image in claimed:
                discovery.skipped.append((path, f"{claimed[image].name} already annotates {image.name}"))
            else:
                claimed[image] = path
    for image in images:
        annotation = claimed.pop(image, None)
        discovery.items.append(SourceItem(image, annotation, reader if annotation else None))
    for image, annotation in claimed.items():  # images found through imagePath only
        discovery.items.append(SourceItem(image, annotation, reader))
    return discovery
