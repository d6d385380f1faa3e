"""One image's annotation as the user sees it, and the store of images left with unsaved edits.

When a save fails as the user switches away from an image (a read-only folder, a full disk), its edits are
kept here, in memory, so that nothing is lost: the image shows them again when it is chosen, the image list
counts them, the recovery journal writes them, and saving is tried again on the next occasion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.dataset.regions import Region
from engine.dataset.sidecar import Annotation, as_points
from engine.dataset.store import annotation_status


@dataclass
class ImageEdits:
    """Points, their labels, pending proposals, regions and the "no objects" mark of one image."""

    points: np.ndarray
    proposed: np.ndarray
    labels: list[str] | None = None
    regions: list[Region] = field(default_factory=list)
    no_objects: bool = False

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


class UnsavedStore:
    """Edits of images that are not shown and could not be saved yet, by image name."""

    def __init__(self):
        self._edits: dict[str, ImageEdits] = {}

    def keep(self, name: str, edits: ImageEdits) -> None:
        self._edits[name] = edits

    def get(self, name: str) -> ImageEdits | None:
        return self._edits.get(name)

    def take(self, name: str) -> ImageEdits | None:
        """The image's kept edits, forgotten here (they are shown or were saved)."""
        return self._edits.pop(name, None)

    def __contains__(self, name: str) -> bool:
        return name in self._edits

    def clear(self) -> None:
        self._edits.clear()
