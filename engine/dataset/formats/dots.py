"""Dot-annotation images (the VGG cells set): ``001cell.png`` with ``001dots.png``.

The dots image has the size of the photo and one pure-red (255, 0, 0) pixel per object on black. A dot is
read as the centre of its pixel: the pixel in row r, column c gives the point (x, y) = (c + 0.5, r + 0.5),
which lies inside that pixel in CrowdGUI's convention (origin at the top-left corner of the top-left pixel).

Lossless files (PNG, BMP, TIFF) are counted exactly: only pixels that are exactly (255, 0, 0) count, and any
other reddish pixels are reported, not counted. A JPEG dots image cannot hold single exact pixels (the dots
smear), so there each connected blob of strongly red pixels counts once, at its centroid, with a warning
that the count may be off where dots touch.

Pairing: ``<prefix>dots.<ext>`` goes with the image named ``<prefix>`` plus ``cell``, ``cells``, ``image``,
``img`` or nothing (separators ``_``, ``-``, ``.`` and spaces between are allowed: ``a_dots.png`` pairs with
``a.png`` or ``a_cell.png``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from engine.dataset.formats.common import AnnotationError, Discovery, SourceItem, find_images

NAME = "dots"
DESCRIPTION = "dot-annotation images: 001cell.png + 001dots.png (one red pixel per object)"
DOTS_SUFFIX = "dots"
IMAGE_SUFFIXES = ("cell", "cells", "image", "img", "")
LOSSY = (".jpg", ".jpeg")
_SEPARATORS = "_-. "


def is_dots_file(path: Path) -> bool:
    return path.stem.lower().endswith(DOTS_SUFFIX)


def _pair_key(stem: str, suffixes: tuple[str, ...]) -> str | None:
    """The shared prefix of a photo or dots file name (lower case, separators stripped), or None."""
    stem = stem.lower()
    for suffix in sorted(suffixes, key=len, reverse=True):
        if stem.endswith(suffix):
            return stem[: len(stem) - len(suffix)].rstrip(_SEPARATORS)
    return None


def read_dot_points(path: Path | str, size: tuple[int, int] | None = None,
                    notes: list[str] | None = None) -> np.ndarray:
    """(N, 2) float64 x, y pixel centres of the red dots of one dots image, in row-major order.

    ``size`` is the (width, height) of the photo; a dots image of another size is read anyway and the
    difference is noted. Raises AnnotationError for an unreadable file.
    """
    path = Path(path)
    notes = notes if notes is not None else []
    try:
        with Image.open(path) as image:
            has_alpha = "A" in image.getbands() or "transparency" in image.info
            rgba = np.asarray(image.convert("RGBA"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise AnnotationError(f"not a readable image ({exc})") from None
    height, width = rgba.shape[:2]
    if size is not None and tuple(size) != (width, height):
        notes.append(f"dots image is {width}x{height} but the photo is {size[0]}x{size[1]}")
    red, green, blue = (rgba[:, :, i].astype(np.int16) for i in range(3))
    visible = rgba[:, :, 3] > 0 if has_alpha else np.ones(red.shape, dtype=bool)
    if path.suffix.lower() in LOSSY:
        return _blob_centres(visible & (red >= 128) & (red - np.maximum(green, blue) >= 80), notes)
    exact = visible & (red == 255) & (green == 0) & (blue == 0)
    reddish = visible & ~exact & (red >= 128) & (red - np.maximum(green, blue) >= 80)
    if reddish.any():
        notes.append(f"{int(reddish.sum())} reddish pixel(s) that are not pure red (255, 0, 0) "
                     "were not counted")
    rows, cols = np.nonzero(exact)
    return np.column_stack([cols + 0.5, rows + 0.5]).astype(np.float64)


def _blob_centres(mask: np.ndarray, notes: list[str]) -> np.ndarray:
    from scipy import ndimage

    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    notes.append(f"lossy (JPEG) dots image: counted {count} red blob(s), one per dot; dots that touch "
                 "merge, so check this count")
    if count == 0:
        return np.zeros((0, 2), dtype=np.float64)
    centres = np.asarray(ndimage.center_of_mass(mask, labels, range(1, count + 1)), dtype=np.float64)
    return np.column_stack([centres[:, 1] + 0.5, centres[:, 0] + 0.5])


def discover(src: Path) -> Discovery:
    """Pair each ``*dots.*`` image of ``src`` with its photo."""
    files = find_images(src)
    dots = {}
    for path in files:
        if is_dots_file(path):
            dots.setdefault(_pair_key(path.stem, (DOTS_SUFFIX,)), []).append(path)
    photos: dict[str, list[Path]] = {}
    for path in files:
        if not is_dots_file(path):
            key = _pair_key(path.stem, IMAGE_SUFFIXES)
            photos.setdefault(key, []).append(path)
    discovery = Discovery()
    used = set()
    for key, candidates in photos.items():
        for photo in candidates:
            match = dots.get(key, [])
            if len(candidates) == 1 and len(match) == 1:
                discovery.items.append(SourceItem(photo, match[0], read_dot_points))
                used.add(key)
            else:
                discovery.items.append(SourceItem(photo))
    for key, paths in dots.items():
        if key in used:
            continue
        for path in paths:
            if len(paths) > 1 or len(photos.get(key, [])) > 1:
                reason = "more than one photo or dots file share its name; rename them"
            else:
                reason = "no matching photo found"
            discovery.skipped.append((path, reason))
    position = {path: index for index, path in enumerate(files)}
    discovery.items.sort(key=lambda item: position[item.image])
    return discovery
