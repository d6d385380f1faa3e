"""What every format module shares: the discovery result, the error type, finding images, checking arrays.

A format module turns a source folder into a :class:`Discovery`: one :class:`SourceItem` per image found
(with the annotation file that belongs to it, or none), plus the files it could not use and why. Reading the
points is deferred to :meth:`SourceItem.load`, so discovery stays a cheap look at file names and the importer
can report a bad annotation file and go on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.dataset.images import is_image_file
from engine.dataset.regions import Region
from engine.dataset.store import natural_key

# The class name written for points that have none (a sidecar without ``labels``) by formats that need one.
DEFAULT_CLASS = "object"

# Where images are looked for, relative to the source folder: the folder itself and an ``images/`` folder
# (ShanghaiTech, NWPU and most exports keep images there).
IMAGE_FOLDERS = (".", "images", "Images", "img", "imgs")


class AnnotationError(Exception):
    """An annotation file that cannot be read; the message says why in plain words."""


@dataclass
class Imported:
    """What one annotation file holds for one image: points, their classes (None: no classes) and regions."""

    points: np.ndarray
    labels: list[str] | None = None
    regions: list[Region] = field(default_factory=list)


# reader(annotation_path, (width, height) of the image, notes) -> (N, 2) float points, or an Imported when the
# format also carries classes or regions. Readers append plain-words remarks (ignored shapes, size mismatches)
# to ``notes`` and raise AnnotationError for bad files.
Reader = Callable[[Path, tuple, list], "np.ndarray | Imported"]


@dataclass
class SourceItem:
    """One source image and where its points come from (nothing, when the image is unlabeled)."""

    image: Path
    annotation: Path | None = None
    reader: Reader | None = None
    regions: list = field(default_factory=list)  # engine.dataset.regions.Region, written with the points

    @property
    def labeled(self) -> bool:
        return self.reader is not None

    def load(self, size: tuple[int, int], notes: list[str]) -> Imported:
        """The image's points (float64 (N, 2)), classes and regions; AnnotationError for an unusable file."""
        if self.reader is None:
            raise AnnotationError("this image has no annotation")
        found = self.reader(self.annotation, size, notes)
        found = found if isinstance(found, Imported) else Imported(found)
        if found.labels is not None and len(found.labels) != len(found.points):
            raise AnnotationError(f"{len(found.labels)} classes for {len(found.points)} points")
        return found


@dataclass
class Discovery:
    """What a format found in a source folder."""

    items: list[SourceItem] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # files that cannot be used, with why

    @property
    def labeled(self) -> int:
        return sum(1 for item in self.items if item.labeled)


def is_hidden(path: Path) -> bool:
    return path.name.startswith(".")


def list_files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Plain (non-hidden) files of one folder whose suffix is one of ``suffixes``, in natural order."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir()
             if p.is_file() and not is_hidden(p) and p.suffix.lower() in suffixes]
    return sorted(found, key=lambda p: natural_key(p.name))


def existing_folders(src: Path, names: tuple[str, ...]) -> list[Path]:
    """The folders ``src/name`` that exist, without duplicates (``.`` is ``src`` itself)."""
    folders, seen = [], set()
    for name in names:
        folder = (src / name) if name != "." else src
        if folder.is_dir():
            key = folder.resolve()
            if key not in seen:
                seen.add(key)
                folders.append(folder)
    return folders


def find_images(src: Path, exclude: Callable[[Path], bool] | None = None) -> list[Path]:
    """The images of ``src`` and of its image subfolders (see IMAGE_FOLDERS), in natural order.

    Our own sidecars never match (they end in .json). ``exclude`` drops files a format treats as
    annotations although they are images (the dot-annotation PNGs).
    """
    images = []
    for folder in existing_folders(src, IMAGE_FOLDERS):
        for path in sorted(folder.iterdir(), key=lambda p: natural_key(p.name)):
            if path.is_file() and not is_hidden(path) and is_image_file(path):
                if exclude is None or not exclude(path):
                    images.append(path)
    return images


def pair_by_key(images: list[Path], annotations: dict[str, Path], image_key: Callable[[Path], str],
                reader: Reader, discovery: Discovery | None = None) -> Discovery:
    """Match images to annotation files through a key made from each image's name.

    ``annotations`` maps key -> annotation file. Images without a match become unlabeled items; annotation
    files no image claimed are reported as skipped. Two images with the same key (``a.jpg`` and ``a.png``
    both wanting ``GT_a.mat``) cannot be told apart, so the annotation is given to neither.
    """
    discovery = discovery or Discovery()
    claims: dict[str, list[Path]] = {}
    for image in images:
        claims.setdefault(image_key(image), []).append(image)
    used = set()
    for image in images:
        key = image_key(image)
        annotation = annotations.get(key)
        if annotation is not None and len(claims[key]) == 1:
            discovery.items.append(SourceItem(image, annotation, reader))
            used.add(key)
        else:
            discovery.items.append(SourceItem(image))
    for key, annotation in annotations.items():
        if key in used:
            continue
        if len(claims.get(key, [])) > 1:
            names = ", ".join(p.name for p in claims[key])
            discovery.skipped.append((annotation, f"several images match it ({names}); rename one"))
        else:
            discovery.skipped.append((annotation, "no matching image found"))
    return discovery


def point_array(value, what: str, notes: list[str]) -> np.ndarray:
    """Turn what a file holds into a float64 (N, 2) array of x, y; AnnotationError if it is not one.

    An (N, k > 2) array keeps its first two columns (x, y) and says so in ``notes``.
    """
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise AnnotationError(f"{what} does not hold numbers") from None
    if array.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    if array.ndim == 1 and array.shape[0] == 2:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] < 2:
        raise AnnotationError(f"{what} should be an N x 2 array of x, y, but has shape {array.shape}")
    if array.shape[1] > 2:
        notes.append(f"{what} has {array.shape[1]} columns; the first two were read as x, y")
        array = array[:, :2]
    return np.ascontiguousarray(array)


def class_names(labels: list[str] | None, count: int) -> list[str]:
    """One class name per point: the labels, or DEFAULT_CLASS for every point of an annotation without."""
    return list(labels) if labels is not None else [DEFAULT_CLASS] * count


def label_runs(points: np.ndarray, labels: list[str] | None) -> list[tuple[str, np.ndarray]]:
    """The points cut into runs of consecutive points of one class, in order: (class, (n, 2) points).

    Writers that group points by class (QuPath MultiPoint, CVAT points) write one group per run, so reading
    the file back gives the points in their original order, with their classes.
    """
    names = class_names(labels, len(points))
    runs: list[tuple[str, np.ndarray]] = []
    start = 0
    for index in range(1, len(points) + 1):
        if index == len(points) or names[index] != names[start]:
            runs.append((names[start], points[start:index]))
            start = index
    return runs


def parse_xml(path: Path):
    """The root element of an XML file; AnnotationError when it cannot be read or parsed.

    Python's expat refuses external entities and caps entity expansion, so a hostile file cannot read other
    files or exhaust memory.
    """
    from xml.etree import ElementTree

    try:
        return ElementTree.parse(path).getroot()
    except ElementTree.ParseError as exc:
        raise AnnotationError(f"not valid XML ({exc})") from None
    except OSError as exc:
        raise AnnotationError(f"cannot read: {exc.strerror or exc}") from None
