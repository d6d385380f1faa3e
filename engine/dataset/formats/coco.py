"""COCO-style keypoint or point JSON: one file (``annotations.json``) for a folder of images.

``{"images": [{"id", "file_name", "width", "height"}], "categories": [{"id", "name"}], "annotations":
[{"image_id", "category_id", "keypoints": [x, y, v, ...]} or {"image_id", "category_id", "point": [x, y]}]}``.
Every keypoint with visibility v > 0 is a point (v = 0 means "not labelled" in COCO); its class is the
annotation's category name. Annotations with neither keypoints nor a point (boxes, masks) are skipped and
counted in a note. An image listed with no annotations is annotated with no objects. COCO's continuous
coordinates have CrowdGUI's origin (top-left corner of the image) and are used unchanged.

Export writes one annotation per point (``keypoints: [x, y, 2]``, ``num_keypoints: 1``), categories in the
order classes first appear, so reading it back gives the same points, in order, with their classes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_bytes
from engine.dataset.formats.collection_files import pair_collection
from engine.dataset.formats.common import AnnotationError, Discovery, Imported, class_names, point_array

NAME = "coco"
DESCRIPTION = "COCO-style JSON: annotations.json with images, categories and keypoint/point annotations"
FILE_NAME = "annotations.json"


def parse_coco(path: Path) -> dict | None:
    """{image file name: (annotations of that image, category names by id)}, or None if not COCO."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # not ours to report: other formats use .json files too
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list):
        return None
    categories = {c.get("id"): str(c.get("name", c.get("id"))) for c in data.get("categories") or []
                  if isinstance(c, dict)}
    by_id: dict = {}
    names: dict = {}
    for image in data["images"]:
        if not isinstance(image, dict) or "file_name" not in image or "id" not in image:
            raise AnnotationError("an entry of 'images' has no 'id' and 'file_name'")
        names[image["id"]] = str(image["file_name"])
        by_id[image["id"]] = []
    for annotation in data["annotations"]:
        if isinstance(annotation, dict) and annotation.get("image_id") in by_id:
            by_id[annotation["image_id"]].append(annotation)
    return {names[key]: (annotations, categories) for key, annotations in by_id.items()}


def read_coco_entry(entry, size=None, notes: list[str] | None = None) -> Imported:
    """The points and classes of one image's COCO annotations (``entry`` from :func:`parse_coco`)."""
    notes = notes if notes is not None else []
    annotations, categories = entry
    points, labels, skipped = [], [], 0
    for annotation in annotations:
        name = categories.get(annotation.get("category_id"), str(annotation.get("category_id")))
        if "keypoints" in annotation:
            values = np.asarray(annotation["keypoints"], dtype=np.float64) if annotation["keypoints"] else []
            if len(values) % 3:
                raise AnnotationError(f"annotation {annotation.get('id')}: keypoints are not x, y, v triples")
            triples = np.asarray(values, dtype=np.float64).reshape(-1, 3)
            visible = triples[triples[:, 2] > 0, :2]
        elif "point" in annotation:
            visible = point_array(annotation["point"], f"annotation {annotation.get('id')}", [])
        else:
            skipped += 1
            continue
        points += visible.tolist()
        labels += [name] * len(visible)
    if skipped:
        notes.append(f"skipped {skipped} annotation(s) without keypoints or a point (boxes or masks)")
    return Imported(np.asarray(points, dtype=np.float64).reshape(-1, 2), labels)


def write_coco(path: Path | str, annotations: list) -> None:
    """Write one COCO file for ``annotations`` (sidecar Annotation objects; see the module's docstring)."""
    categories: dict[str, int] = {}
    images, entries = [], []
    for image_id, annotation in enumerate(annotations, start=1):
        images.append({"id": image_id, "file_name": annotation.image, "width": annotation.width,
                       "height": annotation.height})
        for (x, y), name in zip(annotation.points, class_names(annotation.labels, annotation.count)):
            category = categories.setdefault(name, len(categories) + 1)
            entries.append({"id": len(entries) + 1, "image_id": image_id, "category_id": category,
                            "keypoints": [float(x), float(y), 2], "num_keypoints": 1, "iscrowd": 0})
    data = {"images": images, "annotations": entries,
            "categories": [{"id": number, "name": name, "keypoints": ["point"], "skeleton": []}
                           for name, number in categories.items()]}
    atomic_write_bytes(path, json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8") + b"\n")


def discover(src: Path) -> Discovery:
    """Pair the images of ``src`` with the entries of the COCO file(s) there."""
    return pair_collection(src, (".json",), parse_coco, read_coco_entry)
