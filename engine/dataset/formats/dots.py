"""Dot-annotation images: a photo and an image of the same size with one dot per object on a plain background.

Any layout users have: VGG cells ``001cell.png`` + ``001dots.png`` (red pixels on black), CVPPP plants
``plant001_rgb.png`` + ``plant001_centers.png`` (palette PNG, one non-zero pixel per plant), ``images/Bees.png``
+ ``dots/Bees_gt.png`` (white dots on black in a parallel folder). See dot_pairing.py for how files pair.

Reading (:func:`read_dot_points`): the background is the dots image's most common value (palette index, grey
level, 16-bit value or RGB colour; fully transparent pixels are background too) and every other pixel is dot.
A dot pixel gives the point at its centre: row r, column c -> (x, y) = (c + 0.5, r + 0.5), inside that pixel in
CrowdGUI's convention (origin at the top-left corner of the top-left pixel).

- Dots of one pixel (the usual case) are counted pixel by pixel, exactly. When most dots are single pixels
  and a few touch, each pixel still counts (two objects clicked side by side), with a note.
- Dots drawn larger than one pixel (most blobs bigger than a pixel) count once per 8-connected blob, at its
  centroid, with a warning: touching dots merge, so the count needs checking.
- A JPEG dots image cannot hold exact pixels: dot pixels are those far from the background colour (a channel
  differs by DOT_CONTRAST or more), always counted per blob, with the same warning.
- ``classes=True`` makes each dot colour a class (``#rrggbb``, or ``value N`` for grey and 16-bit images),
  stored as the points' labels; a blob takes its most common colour.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from engine.dataset.formats.common import AnnotationError, Discovery, Imported
from engine.dataset.formats.dot_pairing import pair_by_pattern, pair_by_suffix

NAME = "dots"
DESCRIPTION = ("dot-annotation images: 001cell.png + 001dots.png, a_rgb.png + a_centers.png, images/a.png + "
               "dots/a_gt.png (one dot per object, any colour on a plain background)")
LOSSY = (".jpg", ".jpeg")
DOT_CONTRAST = 80  # JPEG: how far (0-255, largest channel difference) a dot pixel lies from the background


def read_dot_points(path: Path | str, size: tuple[int, int] | None = None, notes: list[str] | None = None,
                    classes: bool = False) -> Imported:
    """The dots of one dots image: (N, 2) float64 x, y (and their colours as labels when ``classes``).

    ``size`` is the (width, height) of the photo; a dots image of another size is read anyway and the
    difference is noted. Raises AnnotationError for an unreadable file.
    """
    path = Path(path)
    notes = notes if notes is not None else []
    lossy = path.suffix.lower() in LOSSY
    try:
        with Image.open(path) as image:
            values, visible, name_of = _pixel_values(image)
            rgb = np.asarray(image.convert("RGB")).astype(np.int16) if lossy else None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise AnnotationError(f"not a readable image ({exc})") from None
    height, width = values.shape
    if size is not None and tuple(size) != (width, height):
        notes.append(f"dots image is {width}x{height} but the photo is {size[0]}x{size[1]}")
    dot = _lossy_dots(rgb, visible) if lossy else visible & (values != _background(values, visible))
    points, colours = _points_of(dot, values, lossy, notes)
    labels = [name_of(value) for value in colours] if classes else None
    return Imported(points, labels)


def _pixel_values(image: Image.Image):
    """(one int64 value per pixel, visible mask, value -> class name) for any PIL mode."""
    if image.mode == "P":
        indices = np.asarray(image).astype(np.int64)
        palette = image.getpalette() or []
        transparent = image.info.get("transparency")
        visible = indices != transparent if isinstance(transparent, int) else np.ones(indices.shape, bool)

        def palette_name(index: int) -> str:
            rgb = palette[3 * index: 3 * index + 3] or [index] * 3
            return "#{:02x}{:02x}{:02x}".format(*rgb)
        return indices, visible, palette_name
    if image.mode in ("1", "L", "I", "I;16", "I;16B", "I;16L", "F"):
        grey = np.asarray(image).astype(np.int64)
        return grey, np.ones(grey.shape, bool), lambda value: f"value {value}"
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    rgba = np.asarray(image.convert("RGBA")).astype(np.int64)
    packed = (rgba[:, :, 0] << 16) | (rgba[:, :, 1] << 8) | rgba[:, :, 2]
    visible = rgba[:, :, 3] > 0 if has_alpha else np.ones(packed.shape, bool)
    return packed, visible, lambda value: f"#{value:06x}"


def _background(values: np.ndarray, visible: np.ndarray) -> int:
    shown = values[visible]
    if not shown.size:
        return -1
    found, counts = np.unique(shown, return_counts=True)
    return int(found[np.argmax(counts)])


def _lossy_dots(rgb: np.ndarray, visible: np.ndarray) -> np.ndarray:
    # JPEG smears every colour, so the background is the median colour and a dot is a pixel far from it.
    background = np.median(rgb[visible], axis=0) if visible.any() else np.zeros(3)
    return visible & (np.abs(rgb - background).max(axis=-1) >= DOT_CONTRAST)


def _points_of(dot: np.ndarray, values: np.ndarray, lossy: bool, notes: list[str]):
    """The points of a dot mask (pixel centres, or blob centroids) and each point's pixel value."""
    from scipy import ndimage

    blobs, count = ndimage.label(dot, structure=np.ones((3, 3)))
    if count == 0:
        return np.zeros((0, 2), dtype=np.float64), []
    sizes = np.bincount(blobs.ravel())[1:]
    big = int(np.sum(sizes > 1))
    if not lossy and big * 2 <= count:  # one pixel per object: every dot pixel is an object
        if big:
            notes.append(f"{big} group(s) of touching dot pixels were counted pixel by pixel "
                         f"({int(sizes[sizes > 1].sum())} points); most dots are single pixels")
        rows, cols = np.nonzero(dot)
        return np.column_stack([cols + 0.5, rows + 0.5]).astype(np.float64), values[rows, cols].tolist()
    why = "lossy (JPEG) dots image" if lossy else (f"{big} of {count} dots are larger than one pixel "
                                                   f"(median {int(np.median(sizes))} pixels)")
    notes.append(f"{why}: counted one point per blob, at its centroid; dots that touch merge, so check this "
                 "count")
    index = range(1, count + 1)
    centres = np.asarray(ndimage.center_of_mass(dot, blobs, index), dtype=np.float64).reshape(-1, 2)
    colours = [_most_common(values[blobs == label]) for label in index]
    return np.column_stack([centres[:, 1] + 0.5, centres[:, 0] + 0.5]), colours


def _most_common(values: np.ndarray) -> int:
    found, counts = np.unique(values, return_counts=True)
    return int(found[np.argmax(counts)])


def discover(src: Path, dots: str | None = None, dot_classes: bool = False) -> Discovery:
    """Pair each photo of ``src`` with its dots image: by the name pattern ``dots``, or by the usual names."""
    reader = partial(read_dot_points, classes=True) if dot_classes else read_dot_points
    if dots is not None:
        return pair_by_pattern(src, dots, reader)
    return pair_by_suffix(src, reader)
