"""The current image's points, as the Qt side sees them: an (N, 2) float array that announces its changes.

Only undo commands (crowdgui/annotation/undo.py) call the editing methods, so every edit can be undone. Views listen to
``points_changed`` and read ``points``; the change description lets the canvas redraw only what moved.

Class labels (sidecar ``labels``, one per point) travel with the points so that they stay aligned through every
edit. An image whose file has no labels keeps none; in one that has, a new point gets the first class named in
the file unless the edit names its class (the active class of a dataset with 2+ classes, crowdgui/classes/).
Points appended with labels of their own (accepted model proposals) keep them; in an image without labels the
points already there then get ``unlabelled_class``, the class a point without a label is (the session sets it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.dataset.sidecar import as_points


@dataclass(frozen=True)
class PointsChange:
    """What happened to the points.

    kind: "reset" (another image or a reload), "added" (appended at the end), "removed", "inserted",
    "moved" (one point), "relabelled" (classes changed, positions did not) or "replaced" (any other bulk
    change). ``indices`` are the affected rows, in the array
    as it is after the change for "added"/"inserted"/"moved", before it for "removed"; empty otherwise.
    """

    kind: str
    indices: np.ndarray


_NO_INDICES = np.zeros(0, dtype=np.intp)


def _empty() -> np.ndarray:
    return np.zeros((0, 2), dtype=np.float64)


class PointsModel(QObject):
    """The points of the image being annotated (x, y in image pixels, origin top-left)."""

    points_changed = Signal(object)  # PointsChange

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._points = _empty()
        self._labels: list[str] | None = None
        self._new_label: str | None = None  # the label a new point gets (None: the image has no labels)
        self.image_name: str | None = None
        self.unlabelled_class: str | None = None  # the dataset's first class: what a point without a label is

    # ------------------------------------------------------------------ reading
    @property
    def points(self) -> np.ndarray:
        """A read-only view of the (N, 2) float64 array; copy it to keep it beyond the next change."""
        view = self._points.view()
        view.flags.writeable = False
        return view

    @property
    def labels(self) -> list[str] | None:
        """A copy of the class name of each point, or None when the image has no labels."""
        return None if self._labels is None else list(self._labels)

    def labels_at(self, indices) -> list[str] | None:
        if self._labels is None:
            return None
        return [self._labels[int(i)] for i in np.unique(np.asarray(indices, dtype=np.intp))]

    @property
    def count(self) -> int:
        return len(self._points)

    def __len__(self) -> int:
        return self.count

    # ------------------------------------------------------------------ editing
    def reset(self, image_name: str | None, points, labels: list[str] | None = None) -> None:
        """Show another image's points and their labels (not an edit: nothing to undo)."""
        points = as_points(points).copy()
        if labels is not None and len(labels) != len(points):
            raise ValueError(f"{len(labels)} labels for {len(points)} points")
        self.image_name = image_name
        self._points = points
        self._labels = None if labels is None else list(labels)
        self._new_label = labels[0] if labels else None
        self._emit("reset")

    def append(self, points, label: str | None = None, labels: list[str] | None = None) -> np.ndarray:
        """Add points at the end; returns their indices. Their classes: ``labels``, one each (accepted proposals
        keep theirs), else ``label`` for all (needs labels, see :meth:`set_labels`), else the new-point label."""
        new = as_points(points)
        if label is not None and self._labels is None:
            raise ValueError("this image's points have no labels: set_labels first")
        start = len(self._points)
        if labels is not None and self._labels is None and self.unlabelled_class is not None:
            self._labels = [self.unlabelled_class] * start  # what they were without labels, now written out
            self._new_label = self.unlabelled_class  # and what a point clicked from now on is
        self._points = np.concatenate([self._points, new]) if len(new) else self._points
        if self._labels is not None:
            self._labels.extend(list(labels) if labels is not None else [label or self._new_label] * len(new))
        indices = np.arange(start, start + len(new), dtype=np.intp)
        self._emit("added", indices)
        return indices

    def remove(self, indices) -> np.ndarray:
        """Remove the points at ``indices``; returns the removed points in ascending index order."""
        indices = np.unique(np.asarray(indices, dtype=np.intp))
        removed = self._points[indices].copy()
        self._points = np.delete(self._points, indices, axis=0)
        if self._labels is not None:
            gone = set(indices.tolist())
            self._labels = [label for i, label in enumerate(self._labels) if i not in gone]
        self._emit("removed", indices)
        return removed

    def insert(self, indices, points, labels: list[str] | None = None) -> None:
        """Undo of :meth:`remove`: put ``points`` (and their ``labels``, from :meth:`labels_at` before the
        removal) back so that they end up at the ascending ``indices``."""
        indices = np.asarray(indices, dtype=np.intp)
        points = as_points(points)
        total = len(self._points) + len(indices)
        keep = np.ones(total, dtype=bool)
        keep[indices] = False
        merged = np.empty((total, 2), dtype=np.float64)
        merged[indices] = points
        merged[keep] = self._points
        self._points = merged
        if self._labels is not None:
            merged_labels = [self._new_label] * total
            for index, label in zip(indices.tolist(), labels or [self._new_label] * len(indices)):
                merged_labels[index] = label
            kept = iter(self._labels)
            self._labels = [label if not keep[i] else next(kept) for i, label in enumerate(merged_labels)]
        self._emit("inserted", indices)

    def move(self, index: int, x: float, y: float) -> None:
        """Move one point (a new array, so copies handed out earlier stay as they were)."""
        moved = self._points.copy()
        moved[index] = (x, y)
        self._points = moved
        self._emit("moved", np.array([index], dtype=np.intp))

    def replace(self, points, labels: list[str] | None = None, exact: bool = False) -> None:
        """Replace every point (clear, restore, ...); without ``labels`` every point gets the new-point label.
        ``exact``: the points get exactly ``labels`` (None: no labels), whether the image had labels or not."""
        points = as_points(points).copy()
        if labels is not None and len(labels) != len(points):
            raise ValueError(f"{len(labels)} labels for {len(points)} points")
        self._points = points
        if exact:
            self._labels = None if labels is None else list(labels)
            if labels and self._new_label is None:
                self._new_label = labels[0]
        elif self._labels is not None:
            self._labels = list(labels) if labels is not None else [self._new_label] * len(self._points)
        self._emit("replaced")

    def set_labels(self, labels: list[str] | None, default: str | None = None) -> None:
        """Give every point its class (one label per point; None: the image has no labels). ``default``: the
        label of points added without one, if the image had none so far."""
        if labels is not None and len(labels) != len(self._points):
            raise ValueError(f"{len(labels)} labels for {len(self._points)} points")
        self._labels = None if labels is None else list(labels)
        if labels is None:
            self._new_label = None
        elif self._new_label is None:
            self._new_label = default or (labels[0] if labels else None)
        self._emit("relabelled")

    def _emit(self, kind: str, indices: np.ndarray = _NO_INDICES) -> None:
        self.points_changed.emit(PointsChange(kind, indices))
