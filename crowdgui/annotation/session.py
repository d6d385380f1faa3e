"""The annotation session: one open dataset, the image being annotated, its points, undo and saving.

Sits between the engine's Dataset (files on disk) and the widgets. Every image has its own QUndoStack in one
QUndoGroup (the active stack is the current image's); a stack's clean state is "what is on disk", so it drives
the unsaved marker and the debounced autosave. Saving never loses points: when a save fails, the points stay in
memory, marked unsaved, and saving is tried again after the next edit, on image switch and on close.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoGroup, QUndoStack

from crowdgui.annotation.points_model import PointsModel
from engine.dataset import Dataset, ImageEntry, ImageReadError, SidecarError, read_image
from engine.dataset.sidecar import KEEP, points_outside
from engine.dataset.store import OUTSIDE_POLICY

AUTOSAVE_DELAY_MS = 1500


class AnnotationSession(QObject):
    """Owns the open Dataset, the current image and its PointsModel, the undo stacks and saving.

    Signals:
        dataset_opened(Dataset)          a folder was opened (before its first image is selected)
        dataset_closed()
        dataset_rescanned()              the folder was read again (an engine command wrote sidecars)
        current_image_changed(str)       a new image and its points are loaded ("" when none)
        image_state_changed(str)         count, annotated, unsaved or error state of one image changed
        dirty_changed(bool)              the current image gained or lost unsaved edits
        saved(str, object)               an image's points were written; the object is the Path a malformed
                                         sidecar was moved to first, or None
        save_failed(str, str, bool)      image, plain-words message, True for the first failure of the session
        notice(str, str)                 level ("info", "warning", "error") and a message for the user
    """

    dataset_opened = Signal(object)
    dataset_closed = Signal()
    dataset_rescanned = Signal()
    current_image_changed = Signal(str)
    image_state_changed = Signal(str)
    dirty_changed = Signal(bool)
    saved = Signal(str, object)
    save_failed = Signal(str, str, bool)
    notice = Signal(str, str)

    def __init__(self, parent: QObject | None = None, autosave_ms: int = AUTOSAVE_DELAY_MS):
        super().__init__(parent)
        self.points = PointsModel(self)
        # Model-proposed points of the current image, waiting to be accepted or discarded (same undo stack).
        self.proposed = PointsModel(self)
        self.undo_group = QUndoGroup(self)
        self.dataset: Dataset | None = None
        self.current_name: str | None = None
        self.image: np.ndarray | None = None  # the current image as (H, W, 3) uint8
        self._stacks: dict[str, QUndoStack] = {}
        # Points of images left with unsaved edits (a save failed when switching away), so nothing is lost.
        self._unsaved: dict[str, np.ndarray] = {}
        self._unsaved_proposed: dict[str, np.ndarray] = {}  # their proposals, saved with them
        self._had_proposals: set[str] = set()  # images shown with proposals since the folder was opened
        self._failure_reported = False
        self._autosave = QTimer(self, singleShot=True, interval=autosave_ms)
        self._autosave.timeout.connect(self.save_dirty)
        self.points.points_changed.connect(self._on_points_changed)
        self.proposed.points_changed.connect(self._on_points_changed)
        self.proposed.points_changed.connect(self._note_proposals)

    # ---------------------------------------------------------------- dataset
    def open_folder(self, folder: Path | str) -> Dataset:
        """Open a dataset folder and show its first readable image. Raises OSError when it cannot be listed.

        The caller saves (``save_dirty``) and decides about unsaved points of the previous folder first.
        """
        dataset = Dataset(folder)
        self.close_dataset()
        self.dataset = dataset
        self.dataset_opened.emit(dataset)
        # The first image that really decodes: damage inside a file shows only when its pixels are read.
        for entry in dataset.entries:
            if entry.usable and self.select(entry.name):
                break
        if self.current_name is None:
            self.current_image_changed.emit("")
        return dataset

    def close_dataset(self) -> None:
        """Forget the open dataset (unsaved points are dropped: save first)."""
        if self.dataset is None:
            return
        self._autosave.stop()
        for stack in self._stacks.values():
            self.undo_group.removeStack(stack)
            # A stack destroyed with unsaved edits emits cleanChanged from its destructor, possibly while the
            # session itself is being destroyed (window closed after "Discard"): nothing may listen by then.
            stack.blockSignals(True)
            stack.deleteLater()
        self._stacks.clear()
        self._unsaved.clear()
        self._unsaved_proposed.clear()
        self._had_proposals.clear()
        self._failure_reported = False
        self.dataset, self.current_name, self.image = None, None, None
        self.points.reset(None, np.zeros((0, 2)))
        self.proposed.reset(None, np.zeros((0, 2)))
        self.dataset_closed.emit()

    def rescan(self, changed=()) -> None:
        """Read the folder again after an engine command wrote the sidecars of the images ``changed``.

        Save first: those images must have no unsaved edits. They show what is on disk now, and their undo
        history, which refers to the files as they were, is cleared.
        """
        if self.dataset is None:
            return
        self.dataset.rescan()
        for name in changed:
            stack = self._stacks.get(name)
            if stack is not None and not self.is_dirty(name):
                stack.clear()
        current = self.current_name
        if current in changed and current in self.dataset.names() and not self.is_dirty(current):
            entry = self.dataset.entry(current)
            self.proposed.reset(current, self._load_proposed(entry))
            self.points.reset(current, self._load_points(entry))
        self.dataset_rescanned.emit()

    def store_proposals(self, name: str, proposed) -> bool:
        """Write model proposals for ``name``, an image that is not shown, with its points as they are.

        (The shown image gets them through an undo command instead.) Its undo history is cleared: it refers to
        the proposals these replace. False, with the reason reported, when they cannot be written.
        """
        points = self._unsaved.get(name)
        try:
            if points is None:
                points = self.dataset.load_points(name)
            moved_aside = self.dataset.save_points(name, points, proposed=proposed)
        except SidecarError as exc:
            self.notice.emit("warning", f"The proposed points of {name} were not stored: {exc.reason}.")
            return False
        except OSError as exc:
            self._report_failure(name, exc)
            return False
        self._unsaved.pop(name, None)
        self._unsaved_proposed.pop(name, None)
        stack = self._stacks.get(name)
        if stack is not None:
            stack.clear()
        self.image_state_changed.emit(name)
        self.saved.emit(name, moved_aside)
        return True

    @property
    def current_entry(self) -> ImageEntry | None:
        return self.dataset.entry(self.current_name) if self.dataset and self.current_name else None

    # ----------------------------------------------------------------- images
    def select(self, name: str) -> bool:
        """Show image ``name`` with its points. False (and the image marked unreadable) if it cannot be read."""
        if self.dataset is None:
            return False
        if name == self.current_name:
            return True
        entry = self.dataset.entry(name)
        if not entry.usable:
            return False
        try:
            image = read_image(entry.path)
        except ImageReadError as exc:
            entry.image_error = exc.reason
            self.image_state_changed.emit(name)
            self.notice.emit("error", f"{name} cannot be opened: {exc.reason}. It is skipped.")
            return False
        self._leave_current()
        points = self._unsaved.pop(name, None)
        if points is None:
            points = self._load_points(entry)
        proposed = self._unsaved_proposed.pop(name, None)
        if proposed is None:
            proposed = self._load_proposed(entry)
        self.image, self.current_name = image, name
        self.undo_group.setActiveStack(self.stack(name))
        self.proposed.reset(name, proposed)
        self.points.reset(name, points)
        self.current_image_changed.emit(name)
        self.dirty_changed.emit(self.is_dirty(name))
        return True

    def step(self, delta: int) -> bool:
        """Go to the next (delta=1) or previous (delta=-1) readable image; False at either end."""
        if self.dataset is None or not self.dataset.entries:
            return False
        names = self.dataset.names()
        index = names.index(self.current_name) if self.current_name in names else (-1 if delta > 0 else len(names))
        index += delta
        while 0 <= index < len(names):
            if self.dataset.entries[index].usable and self.select(names[index]):
                return True
            index += delta
        return False

    def _load_points(self, entry: ImageEntry) -> np.ndarray:
        try:
            points = self.dataset.load_points(entry.name)
        except SidecarError as exc:
            entry.sidecar_error = exc.reason
            self.image_state_changed.emit(entry.name)
            self.notice.emit(
                "warning",
                f"{entry.sidecar.name} cannot be read ({exc.reason}). The file is kept as it is and the image "
                "opens with no points; when you add points, the old file is renamed aside, never overwritten.")
            return np.zeros((0, 2))
        outside = points_outside(points, entry.width, entry.height)
        if outside:
            self.notice.emit("warning", f"{outside} point(s) of {entry.name} lie outside the image: "
                                        f"{OUTSIDE_POLICY}.")
        return points

    def _load_proposed(self, entry: ImageEntry) -> np.ndarray:
        # A sidecar that cannot be read was already reported by _load_points: no proposals then.
        if entry.sidecar_error is not None or not entry.proposed:
            return np.zeros((0, 2))
        try:
            return self.dataset.load_proposed(entry.name)
        except SidecarError:
            return np.zeros((0, 2))

    def _leave_current(self) -> None:
        name = self.current_name
        if name is not None and self.is_dirty(name) and not self._save(name, self.points.points):
            self._unsaved[name] = self.points.points.copy()
            self._unsaved_proposed[name] = self.proposed.points.copy()

    # ------------------------------------------------------------------- undo
    def stack(self, name: str) -> QUndoStack:
        """The undo stack of one image (created when first needed, kept while the folder is open)."""
        stack = self._stacks.get(name)
        if stack is None:
            stack = QUndoStack(self)
            self.undo_group.addStack(stack)
            stack.cleanChanged.connect(functools.partial(self._on_clean_changed, name))
            stack.indexChanged.connect(self._on_stack_index_changed)
            self._stacks[name] = stack
        return stack

    def push(self, command: QUndoCommand) -> None:
        """Apply an edit of the current image's points so that it can be undone."""
        if self.current_name is None:
            return
        self.stack(self.current_name).push(command)

    def is_dirty(self, name: str) -> bool:
        stack = self._stacks.get(name)
        return stack is not None and not stack.isClean()

    def dirty_names(self) -> list[str]:
        return [name for name in self._stacks if self.is_dirty(name)]

    def count_of(self, name: str) -> int | None:
        """Points of an image as the user sees them now (None: not annotated yet).

        An image only counts as annotated once it has a points file or unsaved edits: merely showing an
        image without points file must not count it (its model holds zero points, which is not "0 points").
        """
        if self.dataset is None:
            return None
        if name in self._unsaved:
            return len(self._unsaved[name])
        entry = self.dataset.entry(name)
        if name == self.current_name and (entry.annotated or self.is_dirty(name)):
            return self.points.count
        return entry.count

    def proposed_count_of(self, name: str) -> int:
        """Model-proposed points of an image waiting to be accepted or discarded, as the user sees them now."""
        if self.dataset is None:
            return 0
        if name in self._unsaved_proposed:
            return len(self._unsaved_proposed[name])
        if name == self.current_name and self.proposed.image_name == name:
            return self.proposed.count
        return self.dataset.entry(name).proposed

    def is_annotated(self, name: str) -> bool:
        """Confirmed: points file or unsaved edits, and no proposals pending (those keep it out of training)."""
        return self.count_of(name) is not None and not self.proposed_count_of(name)

    def _on_clean_changed(self, name: str, clean: bool) -> None:
        self.image_state_changed.emit(name)
        if name == self.current_name:
            self.dirty_changed.emit(not clean)

    def _on_stack_index_changed(self, _index: int) -> None:
        if self.dirty_names():
            self._autosave.start()  # restarting the single-shot timer debounces a burst of edits
        else:
            self._autosave.stop()

    def _on_points_changed(self, _change) -> None:
        if self.current_name is not None:
            self.image_state_changed.emit(self.current_name)

    # ----------------------------------------------------------------- saving
    def save_dirty(self) -> list[str]:
        """Write every image with unsaved edits; returns the names that could not be saved."""
        self._autosave.stop()
        failed = []
        for name in self.dirty_names():
            points = self.points.points if name == self.current_name else self._unsaved.get(name)
            if points is not None and not self._save(name, points):
                failed.append(name)
        return failed

    def _save(self, name: str, points: np.ndarray) -> bool:
        try:
            proposed = self._proposed_to_save(name)
            if self._back_to_no_points_file(name, points, proposed):
                self.dataset.delete_annotation(name)
                moved_aside = None
            else:
                moved_aside = self.dataset.save_points(name, points, proposed=proposed)
        except OSError as exc:
            self._report_failure(name, exc)
            return False
        self._unsaved.pop(name, None)
        self._unsaved_proposed.pop(name, None)
        self.stack(name).setClean()
        self.image_state_changed.emit(name)
        self.saved.emit(name, moved_aside)
        return True

    def _note_proposals(self, _change) -> None:
        if self.proposed.count and self.current_name is not None:
            self._had_proposals.add(self.current_name)

    def _back_to_no_points_file(self, name: str, points: np.ndarray, proposed) -> bool:
        """True when an image that only ever had proposals is left with neither points nor proposals.

        (Proposals discarded or undone before any point was confirmed.) Its points file is then removed rather
        than written empty: an empty one would mean "annotated: no objects" and put it into training.
        """
        if len(points) or proposed is KEEP or len(proposed) or name not in self._had_proposals:
            return False
        entry = self.dataset.entry(name)
        return not entry.annotated and not entry.count and entry.sidecar_error is None

    def _proposed_to_save(self, name: str):
        """The proposals to write with an image's points (``KEEP``: keep what its sidecar holds)."""
        if name == self.current_name and self.proposed.image_name == name:
            return self.proposed.points
        return self._unsaved_proposed.get(name, KEEP)

    def _report_failure(self, name: str, exc: OSError) -> None:
        sidecar = self.dataset.entry(name).sidecar
        if isinstance(exc, PermissionError):
            why = "the folder is read-only or you are not allowed to write there"
        else:
            why = exc.strerror or str(exc)
        message = (f"Could not save the points of {name} to {sidecar}: {why}. Your points stay on screen, "
                   "marked unsaved; saving is tried again after your next edit, when you change image and "
                   "when you close.")
        first = not self._failure_reported
        self._failure_reported = True
        self.save_failed.emit(name, message, first)
