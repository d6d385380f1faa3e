"""Pairing for formats with one annotation file per image that may name its image (Fiji, QuPath).

The image is the one the file names (relative to the file's folder, or among the source's images by file
name), or else the image whose stem the file's stem equals once a format prefix (``CellCounter_``) is removed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.dataset.formats.common import (
    Discovery,
    Reader,
    SourceItem,
    existing_folders,
    find_images,
    list_files,
)

ANNOTATION_FOLDERS = (".", "annotations", "labels", "xml", "geojson")


def pair_named_files(src: Path, suffixes: tuple[str, ...], image_name_of: Callable[[Path], str | None],
                     reader: Reader, prefix: str = "", is_format: Callable[[Path], bool] | None = None
                     ) -> Discovery:
    """Pair each annotation file (``suffixes``) of ``src`` with its image.

    ``is_format(path)`` tells this format's files from others of the same suffix (which are left alone);
    ``image_name_of(path)`` gives the image name the file states, or None.
    """
    images = find_images(src)
    by_name = {image.name.lower(): image for image in images}
    by_stem: dict[str, list[Path]] = {}
    for image in images:
        by_stem.setdefault(image.stem.lower(), []).append(image)
    claimed: dict[Path, Path] = {}
    discovery = Discovery()
    for folder in existing_folders(src, ANNOTATION_FOLDERS):
        for path in list_files(folder, suffixes):
            if is_format is not None and not is_format(path):
                continue
            image = _image_for(path, image_name_of(path), by_name, by_stem, prefix)
            if image is None:
                discovery.skipped.append((path, "no matching image found"))
            elif image in claimed:
                discovery.skipped.append((path, f"{claimed[image].name} already annotates {image.name}"))
            else:
                claimed[image] = path
    for image in images:
        annotation = claimed.get(image)
        discovery.items.append(SourceItem(image, annotation, reader if annotation else None))
    return discovery


def _image_for(path: Path, named: str | None, by_name: dict, by_stem: dict, prefix: str) -> Path | None:
    if named:
        named = named.replace("\\", "/")
        beside = path.parent / named
        if beside.is_file() and beside.name.lower() in by_name:
            return by_name[beside.name.lower()]
        if Path(named).name.lower() in by_name:
            return by_name[Path(named).name.lower()]
    stem = path.stem
    if prefix and stem.lower().startswith(prefix.lower()):
        stem = stem[len(prefix):]
    same_stem = by_stem.get(stem.lower(), [])
    return same_stem[0] if len(same_stem) == 1 else None
