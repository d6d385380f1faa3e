"""What reaching disk means for an image's edits: write, remove, or put back the file it was opened with.

- Back at the undo step the image was opened in, its file is what it was then: no file if it had none, the
  very same bytes if it had one. Clicking points and undoing them all must leave no trace (it used to leave an
  empty file, which says "annotated: no objects" and made the image a zero-count validation image).
- An annotation with no points, proposals or regions is written only when the person marked the image "no
  objects"; otherwise the image has no file (unlabeled). A malformed file is never removed: it is kept.
- Anything else is written by Dataset.save_points (atomically; a malformed file is renamed aside first).
"""

from __future__ import annotations

from pathlib import Path

from crowdgui.annotation.image_edits import ImageEdits
from engine.dataset import Dataset


class SavePolicy:
    """Remembers each image's file as first opened (at which undo step) and writes edits by the rules above."""

    def __init__(self):
        # name -> (undo index, sidecar bytes or None for "no valid file") when the image was opened.
        self._baselines: dict[str, tuple[int, bytes | None]] = {}

    def record_baseline(self, dataset: Dataset, name: str, undo_index: int = 0) -> None:
        """Remember the image's file as it is now, as the state of undo step ``undo_index``."""
        entry = dataset.entry(name)
        content = None
        if entry.sidecar_error is None and entry.sidecar.is_file():
            try:
                content = entry.sidecar.read_bytes()
            except OSError:
                content = None  # unreadable now: saving writes the edits as usual instead of restoring it
                self._baselines.pop(name, None)
                return
        self._baselines[name] = (int(undo_index), content)

    def forget(self) -> None:
        self._baselines.clear()

    def write(self, dataset: Dataset, name: str, edits: ImageEdits, undo_index: int) -> Path | None:
        """Bring the image's file in line with ``edits``; returns where a malformed file was moved, if it was.

        Raises OSError (nothing changed on disk) when the folder refuses.
        """
        baseline = self._baselines.get(name)
        if baseline is not None and baseline[0] == undo_index:
            dataset.restore_sidecar(name, baseline[1])
            return None
        if not edits.has_file:
            dataset.delete_annotation(name)  # leaves a malformed file alone
            return None
        return dataset.save_points(name, edits.points, proposed=edits.proposed, labels=edits.labels,
                                   regions=edits.regions, proposed_labels=edits.proposed_labels)


def write_proposals(dataset: Dataset, name: str, kept: ImageEdits | None, proposed,
                    proposed_labels: list[str] | None = None) -> Path | None:
    """Write model proposals (with their classes) for an image that is not shown, with its unsaved edits
    ``kept`` (None: with what its file holds). Raises SidecarError for a file that cannot be read, OSError when
    the folder refuses."""
    if kept is None:
        return dataset.save_points(name, dataset.load_points(name), proposed=proposed,
                                   proposed_labels=proposed_labels)
    return dataset.save_points(name, kept.points, proposed=proposed, labels=kept.labels, regions=kept.regions,
                               proposed_labels=proposed_labels)


def save_failure_message(name: str, sidecar: Path, exc: OSError) -> str:
    """The plain-words explanation of a failed save."""
    if isinstance(exc, PermissionError):
        why = "the folder is read-only or you are not allowed to write there"
    else:
        why = exc.strerror or str(exc)
    return (f"Could not save the points of {name} to {sidecar}: {why}. Your points stay on screen, marked "
            "unsaved; saving is tried again after your next edit, when you change image and when you close.")
