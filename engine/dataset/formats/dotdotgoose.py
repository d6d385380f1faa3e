"""DotDotGoose (Ersts, AMNH): one ``.pnt`` JSON file for a folder of images.

``{"classes": [...], "points": {"<image file name>": {"<class>": [{"x": .., "y": ..}, ...]}}, ...}``; the
images sit beside the ``.pnt`` file. DotDotGoose lists every image it opened, counted or not, so an image
whose entry holds no class at all is treated as not annotated (unlabeled); one with a class and an empty
list is annotated with no objects. Each point's class is imported as its label; ``label`` keeps only one
class. Coordinates are Qt scene coordinates of the image, the same origin as CrowdGUI's; used unchanged.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np

from engine.dataset.formats.common import (
    AnnotationError,
    Discovery,
    Imported,
    SourceItem,
    find_images,
    list_files,
)

NAME = "dotdotgoose"
DESCRIPTION = "DotDotGoose: a .pnt file beside the images (points per image and class)"


def _load(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnnotationError(f"not valid JSON ({exc})") from None
    except OSError as exc:
        raise AnnotationError(f"cannot read: {exc.strerror or exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("points"), dict):
        raise AnnotationError("not a DotDotGoose file (no 'points' object)")
    return data


def read_dotdotgoose_points(path: Path | str, image_name: str, size=None, notes: list[str] | None = None,
                            label: str | None = None) -> Imported:
    """One image's points in a ``.pnt`` file with their classes (only class ``label``'s, when given)."""
    classes = _load(Path(path))["points"].get(image_name)
    if not isinstance(classes, dict):
        raise AnnotationError(f"has no points for {image_name}")
    points, labels = [], []
    for name, entries in classes.items():
        if label is not None and name != label:
            continue
        if not isinstance(entries, list):
            raise AnnotationError(f"class {name!r} of {image_name} is not a list of points")
        try:
            points += [(float(p["x"]), float(p["y"])) for p in entries]
        except (KeyError, TypeError, ValueError):
            message = f"class {name!r} of {image_name} holds a point without numeric x, y"
            raise AnnotationError(message) from None
        labels += [str(name)] * len(entries)
    return Imported(np.asarray(points, dtype=np.float64).reshape(-1, 2), labels)


def discover(src: Path, label: str | None = None) -> Discovery:
    """Pair the images of ``src`` with the entries of the ``.pnt`` file(s) there."""
    discovery = Discovery()
    owners: dict[str, Path] = {}  # image name -> .pnt file holding its points
    for path in list_files(src, (".pnt",)):
        try:
            data = _load(path)
        except AnnotationError as exc:
            discovery.skipped.append((path, str(exc)))
            continue
        for image_name, classes in data["points"].items():
            if not isinstance(classes, dict) or not classes:
                continue  # opened in DotDotGoose but never counted
            if image_name in owners:
                discovery.skipped.append((path, f"{image_name} is also counted in {owners[image_name].name}"))
                continue
            owners[image_name] = path
    found = set()
    for image in find_images(src):
        pnt = owners.get(image.name) if image.parent == src else None
        if pnt is None:
            discovery.items.append(SourceItem(image))
            continue
        found.add(image.name)
        reader = partial(_read_for, image_name=image.name, label=label)
        discovery.items.append(SourceItem(image, pnt, reader))
    for image_name, pnt in owners.items():
        if image_name not in found:
            discovery.skipped.append((pnt, f"counts {image_name}, but that image is not beside it"))
    return discovery


def _read_for(path, size, notes, image_name, label):
    return read_dotdotgoose_points(path, image_name, size, notes, label=label)
