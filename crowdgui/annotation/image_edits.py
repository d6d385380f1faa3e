"""One image's annotation as the user sees it (points, labels, proposals, regions, the "no objects" mark),
and how it is read from disk."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from engine.dataset import Dataset, ImageEntry, SidecarError
from engine.dataset.classes import class_counts
from engine.dataset.regions import Region
from engine.dataset.sidecar import Annotation, as_points, points_outside
from engine.dataset.store import OUTSIDE_POLICY, annotation_status


@dataclass
class ImageEdits:
    """Points, their labels, pending proposals, regions and the "no objects" mark of one image."""

    points: np.ndarray
    proposed: np.ndarray
    labels: list[str] | None = None
    regions: list[Region] = field(default_factory=list)
    no_objects: bool = False
    proposed_labels: list[str] | None = None  # the class of each proposal (a model of 2+ classes)

    def __post_init__(self) -> None:
        self.points = as_points(self.points).copy()
        self.proposed = as_points(self.proposed).copy()
        self.regions = list(self.regions)

    @property
    def empty(self) -> bool:
        """Nothing clicked, proposed or drawn."""
        return not len(self.points) and not len(self.proposed) and not self.regions

    @property
    def has_file(self) -> bool:
        """Whether saving these edits writes a file: an empty one only when the person said "no objects"."""
        return not self.empty or self.no_objects

    def status(self, name: str, width: int, height: int) -> str:
        """'complete', 'partial', 'proposed' or 'unlabeled', by the engine's rules (engine.dataset.store)."""
        if not self.has_file:
            return "unlabeled"
        annotation = Annotation(image=name, width=width, height=height, points=self.points,
                                proposed=self.proposed, regions=self.regions)
        return annotation_status(annotation, width, height)


@dataclass(frozen=True)
class ImageState:
    """What the image list shows of an image."""

    status: str  # "complete", "partial", "proposed" or "unlabeled" (engine.dataset.store.ImageEntry.status)
    count: int | None  # confirmed points; None: no annotation file, saved or to be saved
    proposed: int  # model proposals waiting to be accepted or discarded
    class_counts: dict[str, int] | None = None  # confirmed points per class, only in a dataset of 2+ classes

    @property
    def annotated(self) -> bool:
        """Complete or partial: what training uses (pending proposals keep an image out)."""
        return self.status in ("complete", "partial")


def image_state(entry: ImageEntry, edits: ImageEdits | None, class_names: list[str] = ()) -> ImageState:
    """The state of an image from its file (``edits`` None: nothing unsaved) or from its unsaved edits, with
    its points per class when ``class_names`` lists 2+ classes.

    Merely showing an image without a file must not count it: zero points there is not "0 points".
    """
    if edits is None:
        state = ImageState(entry.status, entry.count, entry.proposed)
        labels = entry.labels
    else:
        state = ImageState(edits.status(entry.name, entry.width, entry.height),
                           len(edits.points) if edits.has_file else None, len(edits.proposed))
        labels = edits.labels
    if len(class_names) < 2 or state.count is None:
        return state
    return replace(state, class_counts=class_counts(labels, state.count, list(class_names)))


def no_edits() -> ImageEdits:
    return ImageEdits(np.zeros((0, 2)), np.zeros((0, 2)))


def edits_from_disk(dataset: Dataset, entry: ImageEntry) -> tuple[ImageEdits, str | None]:
    """The image's annotation as its file holds it, and a warning for the user (or None).

    A file that cannot be read gives an empty annotation (the file is kept: see Dataset.save_points) and marks
    the entry with the reason.
    """
    try:
        annotation = dataset.load_annotation(entry.name)
    except SidecarError as exc:
        entry.sidecar_error = exc.reason
        return no_edits(), (f"{entry.sidecar.name} cannot be read ({exc.reason}). The file is kept as it is and "
                            "the image opens with no points; when you add points, the old file is renamed aside, "
                            "never overwritten.")
    outside = points_outside(annotation.points, entry.width, entry.height)
    warning = f"{outside} point(s) of {entry.name} lie outside the image: {OUTSIDE_POLICY}." if outside else None
    # A valid file with nothing in it is a person's "no objects" (files are never written empty otherwise).
    no_objects = annotation.empty and entry.sidecar.is_file()
    return ImageEdits(annotation.points, annotation.proposed, annotation.labels, annotation.regions,
                      no_objects, annotation.proposed_labels), warning
