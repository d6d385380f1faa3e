"""Every edit of the points is a QUndoCommand pushed on the image's own QUndoStack.

Commands hold the points model of the current image. A stack is active only while its image is shown (the
session switches the QUndoGroup's active stack), so a command always acts on its own image's points; the
assertion guards that promise.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QUndoCommand

from crowdgui.annotation.points_model import PointsModel
from engine.dataset.sidecar import as_points


class _PointsCommand(QUndoCommand):
    def __init__(self, model: PointsModel, text: str):
        super().__init__(text)
        self.model = model
        self.image_name = model.image_name

    def _check(self) -> None:
        assert self.model.image_name == self.image_name, (
            f"undo command for {self.image_name!r} applied to {self.model.image_name!r}")


class AddPoint(_PointsCommand):
    """Add one point at the end of the list.

    ``label``: in a dataset of 2+ classes, the new point's class; an image whose points have no labels yet gets
    them (every earlier point is of the model's ``unlabelled_class``, the dataset's first), and undo takes them
    away again.
    """

    def __init__(self, model: PointsModel, x: float, y: float, label: str | None = None):
        super().__init__(model, "Add point" if label is None else f"Add {label}")
        self.xy = (float(x), float(y))
        self.label = label
        self.index: int | None = None
        self.made_labels = False

    def redo(self) -> None:
        self._check()
        self.made_labels = self.label is not None and self.model.labels is None
        if self.made_labels:
            first = self.model.unlabelled_class or self.label
            self.model.set_labels([first] * self.model.count, default=first)
        self.index = int(self.model.append([self.xy], self.label)[0])

    def undo(self) -> None:
        self._check()
        self.model.remove([self.index])
        if self.made_labels:
            self.model.set_labels(None)


class RelabelPoints(_PointsCommand):
    """Give the points at ``indices`` the class ``label`` (labels are made for an image without them: every
    other point is of the model's ``unlabelled_class``)."""

    def __init__(self, model: PointsModel, indices, label: str):
        self.indices = np.unique(np.asarray(indices, dtype=np.intp))
        count = len(self.indices)
        super().__init__(model, f"Relabel {count:,} point{'s' if count != 1 else ''} as {label}")
        self.old = model.labels
        first_class = model.unlabelled_class or label
        new = list(self.old) if self.old is not None else [first_class] * model.count
        for index in self.indices.tolist():
            new[index] = label
        self.new, self.first_class = new, first_class

    def redo(self) -> None:
        self._check()
        self.model.set_labels(self.new, default=self.first_class)

    def undo(self) -> None:
        self._check()
        self.model.set_labels(self.old)


class DeletePoints(_PointsCommand):
    """Remove the points at the given indices (they come back at the same indices on undo)."""

    def __init__(self, model: PointsModel, indices):
        self.indices = np.unique(np.asarray(indices, dtype=np.intp))
        count = len(self.indices)
        super().__init__(model, "Delete point" if count == 1 else f"Delete {count} points")
        self.removed: np.ndarray | None = None
        self.removed_labels: list[str] | None = None

    def redo(self) -> None:
        self._check()
        self.removed_labels = self.model.labels_at(self.indices)
        self.removed = self.model.remove(self.indices)

    def undo(self) -> None:
        self._check()
        self.model.insert(self.indices, self.removed, self.removed_labels)


class MovePoint(_PointsCommand):
    """Move one point; a whole drag is one command (the canvas asks only when the drag ends)."""

    def __init__(self, model: PointsModel, index: int, x: float, y: float):
        super().__init__(model, "Move point")
        self.index = int(index)
        self.old = tuple(float(v) for v in model.points[self.index])
        self.new = (float(x), float(y))

    def redo(self) -> None:
        self._check()
        self.model.move(self.index, *self.new)

    def undo(self) -> None:
        self._check()
        self.model.move(self.index, *self.old)


class ReplacePoints(_PointsCommand):
    """Replace all points by another set (bulk operations such as accepting proposed points); with ``labels``
    (restoring journaled points) the points get exactly those classes."""

    def __init__(self, model: PointsModel, points, text: str = "Replace points", labels: list[str] | None = None):
        super().__init__(model, text)
        self.old = model.points.copy()
        self.old_labels = model.labels
        self.new = as_points(points).copy()
        self.new_labels = None if labels is None else list(labels)

    def redo(self) -> None:
        self._check()
        if self.new_labels is None:
            self.model.replace(self.new)
        else:
            self.model.replace(self.new, self.new_labels, exact=True)

    def undo(self) -> None:
        self._check()
        self.model.replace(self.old, self.old_labels, exact=True)


class ClearPoints(ReplacePoints):
    """Remove every point of the image."""

    def __init__(self, model: PointsModel):
        super().__init__(model, np.zeros((0, 2)), text=f"Clear {model.count} points")


# ------------------------------------------------------------ model-proposed points
# Proposals live in their own PointsModel (the session's ``proposed``) and share the image's undo stack, so
# proposing, accepting, deleting and discarding them make the image dirty and are autosaved like any edit.


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'s' if count != 1 else ''}"


class SetProposals(ReplacePoints):
    """The model's proposals for the image, with their classes (``labels``, None: unnamed), replace the pending
    ones (undo brings the old ones back, classes included)."""

    def __init__(self, proposed: PointsModel, points, labels: list[str] | None = None):
        super().__init__(proposed, points, text=f"Propose {_plural(len(as_points(points)), 'point')}")
        self.new_labels = labels

    def redo(self) -> None:
        self._check()
        self.model.replace(self.new, self.new_labels, exact=True)

    def undo(self) -> None:
        self._check()
        self.model.replace(self.old, self.old_labels, exact=True)


class DeleteProposals(DeletePoints):
    """Remove some proposals (the model was wrong there)."""

    def __init__(self, proposed: PointsModel, indices):
        super().__init__(proposed, indices)
        self.setText(f"Delete {_plural(len(self.indices), 'proposal')}")


class MoveProposal(MovePoint):
    """Move one proposal (it stays a proposal until accepted)."""

    def __init__(self, proposed: PointsModel, index: int, x: float, y: float):
        super().__init__(proposed, index, x, y)
        self.setText("Move proposal")


class DiscardProposals(ReplacePoints):
    """Drop every pending proposal of the image."""

    def __init__(self, proposed: PointsModel):
        super().__init__(proposed, np.zeros((0, 2)), text=f"Discard {_plural(proposed.count, 'proposal')}")


class AcceptProposals(QUndoCommand):
    """Proposals become ordinary points: removed from the proposals, appended to the points, in one step.

    ``indices``: the proposals to accept (None: all of them).
    """

    def __init__(self, points: PointsModel, proposed: PointsModel, indices=None):
        self.indices = (np.arange(proposed.count, dtype=np.intp) if indices is None
                        else np.unique(np.asarray(indices, dtype=np.intp)))
        super().__init__(f"Accept {_plural(len(self.indices), 'proposal')}")
        self.points, self.proposed = points, proposed
        self.image_name = points.image_name
        self.accepted: np.ndarray | None = None
        self.accepted_labels: list[str] | None = None
        self.appended: np.ndarray | None = None
        self.labels_before: list[str] | None = None

    def _check(self) -> None:
        for model in (self.points, self.proposed):
            assert model.image_name == self.image_name, (
                f"undo command for {self.image_name!r} applied to {model.image_name!r}")

    def redo(self) -> None:
        self._check()
        self.accepted_labels = self.proposed.labels_at(self.indices)  # each proposal's class, if it has one
        self.labels_before = self.points.labels
        self.accepted = self.proposed.remove(self.indices)
        self.appended = self.points.append(self.accepted, labels=self.accepted_labels)

    def undo(self) -> None:
        self._check()
        self.points.remove(self.appended)
        if self.labels_before is None and self.points.labels is not None:  # append wrote the classes out
            self.points.replace(self.points.points, None, exact=True)
        self.proposed.insert(self.indices, self.accepted, self.accepted_labels)
