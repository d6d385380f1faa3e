"""Pairing for formats with one annotation file for many images (COCO JSON, CVAT XML).

Each file is parsed once, into {image file name: what the file holds for it}; images found in the source are
matched by file name (the last part of the stored path, any case). Entries of images that are not there are
reported; an image named in two files is given to the first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.dataset.formats.common import (
    AnnotationError,
    Discovery,
    SourceItem,
    existing_folders,
    find_images,
    list_files,
)

ANNOTATION_FOLDERS = (".", "annotations", "labels")

# parse(path) -> {image name: entry}, or None when the file is not of this format (then it is left alone);
# AnnotationError when it is but cannot be used. read(entry, size, notes) -> Imported.
Parse = Callable[[Path], "dict | None"]


def pair_collection(src: Path, suffixes: tuple[str, ...], parse: Parse, read: Callable) -> Discovery:
    """Pair the images of ``src`` with the entries of its collection files."""
    discovery = Discovery()
    owners: dict[str, tuple[Path, object]] = {}
    for folder in existing_folders(src, ANNOTATION_FOLDERS):
        for path in list_files(folder, suffixes):
            try:
                entries = parse(path)
            except AnnotationError as exc:
                discovery.skipped.append((path, str(exc)))
                continue
            for name, entry in (entries or {}).items():
                key = Path(str(name).replace("\\", "/")).name.lower()
                if key in owners:
                    discovery.skipped.append((path, f"{name} is also annotated in {owners[key][0].name}"))
                else:
                    owners[key] = (path, entry)
    found = set()
    for image in find_images(src):
        owner = owners.get(image.name.lower())
        if owner is None or image.name.lower() in found:
            discovery.items.append(SourceItem(image))
            continue
        found.add(image.name.lower())
        path, entry = owner
        discovery.items.append(SourceItem(image, path, _bind(read, entry)))
    for key, (path, _) in owners.items():
        if key not in found:
            discovery.skipped.append((path, f"annotates {key}, but that image is not in the source folder"))
    return discovery


def _bind(read: Callable, entry):
    def reader(path, size, notes):
        return read(entry, size, notes)
    return reader
