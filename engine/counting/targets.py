"""What ``count`` counts: the images named by a path, their annotations and regions, and the area counted.

- :func:`gather_targets`: the images of a path (an image, a folder, a dataset folder with sidecars), with
  their confirmed points and regions where a sidecar exists, and plain-words problems for the files skipped,
  the sidecars ignored and the regions left out.
- :func:`counted_area`: for one image at the model's stride, where the count is taken (inside the ROI, the
  whole image without one, never in ignore areas; engine.dataset.regions decides), its area in pixels, and
  the annotated count inside that same area when the annotation is complete there (and, for a model of
  2+ classes, each class's count and annotated count there: :meth:`CountedArea.class_counts`,
  :meth:`CountedArea.class_annotated`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.counting.stated import honour_stated_counts

from engine.dataset.classes import class_indices
from engine.dataset.images import ImageReadError, image_size, is_image_file
from engine.dataset.regions import (
    Region,
    known_area,
    mask_area_px,
    points_in_mask,
    region_problems,
    usable_regions,
)
from engine.dataset.sidecar import Annotation, SidecarError, read_sidecar, sidecar_path
from engine.dataset.store import Dataset, annotation_status


@dataclass
class CountTarget:
    """One image to count, with its annotation when it has a valid sidecar that says something certain."""

    name: str
    path: Path
    points: np.ndarray | None = None  # confirmed points inside the image; None: not annotated
    labels: list[str] | None = None  # the class of each of ``points``; None: the sidecar names none
    point_count: int = 0  # confirmed points in the file (outside ones too): the regions' rules need it
    regions: list[Region] = field(default_factory=list)  # the sidecar's own
    roi: list[Region] | None = None  # a --roi file's regions: its ROI replaces the sidecar's

    @property
    def annotated_count(self) -> int | None:
        """The annotated count of the whole image (None when the image is not annotated)."""
        return None if self.points is None else len(self.points)


@dataclass
class Problem:
    """A file that was skipped (``skipped``: an image) or partly ignored (a malformed sidecar, a region)."""

    message: str
    path: Path
    skipped: bool
    reason: str = ""  # the plain-words reason alone (``message`` also names the file)


@dataclass
class CountedArea:
    """Where one image's count is taken, at the model's stride."""

    mask: np.ndarray | None  # cells counted; None: all of them
    area_px: int  # image pixels covered by those cells
    annotated_count: int | None  # confirmed points in the same cells, when the annotation is complete there
    roi: list[list[list[float]]]  # the usable ROI polygons, for drawing
    ignore: list[list[list[float]]]  # the usable ignore polygons, for drawing
    # Counts a person stated (count regions): (cells inside the counted area, stated number) each.
    stated: list[tuple[np.ndarray, float]] = field(default_factory=list)
    # The labels of the points behind ``annotated_count`` (None: unlabelled, every point the first class).
    annotated_labels: list[str] | None = None

    def count(self, density: np.ndarray) -> float:
        """The density map's sum over the counted cells, with every stated count honoured: inside a count
        region the person's number replaces the model's (engine.counting.stated)."""
        return honour_stated_counts(density, self.stated, known=self.mask).count

    def class_counts(self, maps: np.ndarray) -> list[float]:
        """Each class's count from (C, h, w) maps, in the same area as :meth:`count`; they add up to it.

        A stated count says how many objects, not of which class: it is shared among the classes as the
        model's own maps share that region (evenly where the model sees nothing there).
        """
        total = maps.sum(axis=0, dtype=np.float64)
        counts = []
        for channel in maps:
            shares = []
            for cells, number in self.stated:
                predicted = float(total[cells].sum())
                share = float(channel[cells].sum(dtype=np.float64)) / predicted if predicted > 0 else 1 / len(maps)
                shares.append((cells, number * share))
            counts.append(honour_stated_counts(channel, shares, known=self.mask).count)
        return counts

    def class_annotated(self, class_names: list[str]) -> list[int] | None:
        """The annotated count of each of ``class_names`` (None when not annotated, or when a point's label
        is none of them: a per-class comparison would then be wrong)."""
        if self.annotated_count is None:
            return None
        indices = class_indices(self.annotated_labels, self.annotated_count, class_names)
        if (indices < 0).any():
            return None
        return np.bincount(indices, minlength=len(class_names)).tolist()


def gather_targets(path: Path | str, roi: list[Region] | None = None,
                   roi_name: str = "--roi") -> tuple[list[CountTarget], list[Problem]]:
    """(images to count, problems in plain words) for an image file or a folder.

    A folder is read as a CrowdGUI dataset (engine.dataset.Dataset): images in natural order, unreadable ones
    reported and skipped, malformed sidecars reported (the image is still counted, without annotation).
    ``roi`` (the regions of a ``--roi`` file, named ``roi_name`` in messages) replaces every image's own ROI;
    its ignore regions add to the image's own. Raises FileNotFoundError when ``path`` does not exist.
    """
    path = Path(path)
    problems: list[Problem] = []
    if path.is_dir():
        targets = []
        for entry in Dataset(path):
            if entry.image_error:
                problems.append(Problem(f"{entry.name}: {entry.image_error} (skipped)", entry.path, True,
                                        entry.image_error))
                continue
            annotation, reason = None, entry.sidecar_error
            if reason is None and entry.sidecar.exists():
                try:
                    annotation = read_sidecar(entry.sidecar)
                except SidecarError as exc:  # changed since the folder was listed
                    reason = exc.reason
            if reason:
                problems.append(Problem(f"{entry.sidecar.name}: {reason} (annotation ignored)", entry.sidecar,
                                        False))
            targets.append(_target(entry.name, entry.path, annotation, (entry.width, entry.height), roi,
                                   roi_name, problems))
        # A dataset does not list subfolders, but one named like an image was surely meant to be counted.
        for child in sorted(path.iterdir()):
            if child.is_dir() and is_image_file(child) and not child.name.startswith("."):
                reason = "this is a folder, not an image file"
                problems.append(Problem(f"{child.name}: {reason} (skipped)", child, True, reason))
        return targets, problems
    if path.is_file():
        annotation = None
        if sidecar_path(path).is_file():
            try:
                annotation = read_sidecar(sidecar_path(path))
            except SidecarError as exc:
                problems.append(Problem(f"{exc} (annotation ignored)", sidecar_path(path), False))
        try:
            size = image_size(path)
        except ImageReadError:
            size = None  # the count of the image fails with its own message
        return [_target(path.name, path, annotation, size, roi, roi_name, problems)], problems
    raise FileNotFoundError(f"{path}: no such image or folder")


def _target(name: str, path: Path, annotation: Annotation | None, size: tuple[int, int] | None,
            roi: list[Region] | None, roi_name: str, problems: list[Problem]) -> CountTarget:
    """One image's target; what is wrong with its annotation or regions goes into ``problems``."""
    own = annotation.regions if annotation is not None else []
    target = CountTarget(name, path, regions=own, roi=roi)
    if size is None:
        return target
    width, height = size
    sidecar = sidecar_path(path)
    for message in region_problems(own, width, height):
        problems.append(Problem(f"{sidecar.name}: {message}", sidecar, False))
    if roi is not None:
        for message in region_problems(roi, width, height):
            problems.append(Problem(f"{roi_name} for {name}: {message}", path, False))
    if annotation is None:
        return target
    target.point_count = annotation.count
    if annotation_status(annotation, width, height) in ("complete", "partial"):
        points = annotation.points
        inside = (points[:, 0] >= 0) & (points[:, 1] >= 0) & (points[:, 0] < width) & (points[:, 1] < height)
        target.points = points[inside]
        if annotation.labels is not None:
            target.labels = [label for label, keep in zip(annotation.labels, inside) if keep]
        if not inside.all():
            # Compared with a count of the image, so only the points inside it count.
            problems.append(Problem(f"{sidecar.name}: {int((~inside).sum())} of {annotation.count} point(s) lie "
                                    "outside the image; the annotated count leaves them out", sidecar, False))
    return target


def counted_area(target: CountTarget, width: int, height: int, stride: int) -> CountedArea:
    """Where ``target`` is counted at ``stride`` and what its annotation says there (see the module)."""
    regions = target.regions
    if target.roi is not None:
        regions = [r for r in regions if r.kind != "roi"] + list(target.roi)
    known = known_area(target.point_count, regions, width, height, stride)
    mask = known.counted
    stated = [(cells if mask is None else cells & mask, number) for cells, number in known.counts]
    annotated = labels = None
    if target.points is not None:
        # What the annotation knows follows from the sidecar's own regions (a --roi file adds no knowledge).
        complete = known_area(target.point_count, target.regions, width, height, stride).complete
        # Compared only where every object is clicked: a partial annotation says nothing about the rest.
        if complete is None or not np.any((True if mask is None else mask) & ~complete):
            counted = points_in_mask(target.points, mask, stride)
            annotated = int(counted.sum())
            if target.labels is not None:
                labels = [label for label, keep in zip(target.labels, counted) if keep]
    usable = usable_regions(regions, width, height)
    return CountedArea(mask=mask, area_px=mask_area_px(mask, width, height, stride), annotated_count=annotated,
                       roi=[r.polygon.tolist() for r in usable if r.kind == "roi"],
                       ignore=[r.polygon.tolist() for r in usable if r.kind == "ignore"],
                       stated=[(cells, number) for cells, number in stated if cells.any()],
                       annotated_labels=labels)
