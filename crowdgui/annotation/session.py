"""The annotation session: one open dataset, the image being annotated, its annotation, undo and saving.

Sits between the engine's Dataset (files on disk) and the widgets. The shown image's annotation lives in four
models (points with their labels, pending proposals, regions, the "no objects" mark); every image has its own
QUndoStack in one QUndoGroup (the active stack is the current image's); a stack's clean state is "what is on
disk", so it drives the unsaved marker and the debounced autosave. What a save writes is decided by
crowdgui/annotation/save_policy.py. Saving never loses edits: when a save fails, they stay in memory
(crowdgui/annotation/unsaved.py), marked unsaved, and saving is tried again after the next edit, on image
switch and on close.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoGroup, QUndoStack

from crowdgui.annotation.points_model import PointsModel
from crowdgui.annotation.regions_model import NoObjectsMark, RegionsModel
from crowdgui.annotation.save_policy import SavePolicy, save_failure_message
from crowdgui.annotation.unsaved import ImageEdits, UnsavedStore
from engine.dataset import Dataset, ImageEntry, ImageReadError, SidecarError, read_image
from engine.dataset.sidecar import points_outside
from engine.dataset.store import OUTSIDE_POLICY

AUTOSAVE_DELAY_MS = 1500


class AnnotationSession(QObject):
    """Owns the open Dataset, the current image and its annotation models, the undo stacks and saving.

    Signals:
        dataset_opened(Dataset)          a folder was opened (before its first image is selected)
        dataset_closed()
        dataset_rescanned()              the folder was read again (an engine command wrote sidecars)
        current_image_changed(str)       a new image and its annotation are loaded ("" when none)
        image_state_changed(str)         count, status, unsaved or error state of one image changed
        dirty_changed(bool)              the current image gained or lost unsaved edits
        saved(str, object)               an image's annotation reached disk; the object is the Path a malformed
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
        self.regions = RegionsModel(self)
        self.no_objects = NoObjectsMark(self)
        self.undo_group = QUndoGroup(self)
        self.dataset: Dataset | None = None
        self.current_name: str | None = None
        self.image: np.ndarray | None = None  # the current image as (H, W, 3) uint8
        self._stacks: dict[str, QUndoStack] = {}
        self._unsaved = UnsavedStore()
        self._policy = SavePolicy()
        self._failure_reported = False
        self._autosave = QTimer(self, singleShot=True, interval=autosave_ms)
        self._autosave.timeout.connect(self.save_dirty)
        for signal in (self.points.points_changed, self.proposed.points_changed, self.regions.regions_changed,
                       self.no_objects.changed):
            signal.connect(self._on_edited)

    # ---------------------------------------------------------------- dataset
    def open_folder(self, folder: Path | str) -> Dataset:
        """Open a dataset folder and show its first readable image. Raises OSError when it cannot be listed.

        The caller saves (``save_dirty``) and decides about unsaved edits of the previous folder first.
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
        """Forget the open dataset (unsaved edits are dropped: save first)."""
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
        self._policy.forget()
        self._failure_reported = False
        self.dataset, self.current_name, self.image = None, None, None
        self._show(None, ImageEdits(np.zeros((0, 2)), np.zeros((0, 2))))
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
            self._restart_history(name)
        current = self.current_name
        if current in changed and current in self.dataset.names() and not self.is_dirty(current):
            self._show(current, self._load_edits(self.dataset.entry(current)))
        self.dataset_rescanned.emit()

    def store_proposals(self, name: str, proposed) -> bool:
        """Write model proposals for ``name``, an image that is not shown, with its annotation as it is.

        (The shown image gets them through an undo command instead.) Its undo history is cleared: it refers to
        the proposals these replace. False, with the reason reported, when they cannot be written.
        """
        kept = self._unsaved.get(name)
        try:
            if kept is None:
                moved_aside = self.dataset.save_points(name, self.dataset.load_points(name), proposed=proposed)
            else:
                moved_aside = self.dataset.save_points(name, kept.points, proposed=proposed, labels=kept.labels,
                                                       regions=kept.regions)
        except SidecarError as exc:
            self.notice.emit("warning", f"The proposed points of {name} were not stored: {exc.reason}.")
            return False
        except OSError as exc:
            self._report_failure(name, exc)
            return False
        self._unsaved.take(name)
        self._restart_history(name)
        self.image_state_changed.emit(name)
        self.saved.emit(name, moved_aside)
        return True

    def _restart_history(self, name: str) -> None:
        """Forget an image's undo history after its file changed under it; its file now is the new start."""
        stack = self._stacks.get(name)
        if stack is not None and not self.is_dirty(name):
            stack.clear()
            self._policy.record_baseline(self.dataset, name, 0)

    # ----------------------------------------------------------------- images
    def select(self, name: str) -> bool:
        """Show image ``name`` with its annotation. False (and the image marked unreadable) if it cannot be read."""
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
        edits = self._unsaved.take(name) or self._load_edits(entry)
        self.image, self.current_name = image, name
        self.undo_group.setActiveStack(self.stack(name))
        self._show(name, edits)
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

    def _show(self, name: str | None, edits: ImageEdits) -> None:
        # Points last: views redraw the count label on points_changed and read the others then.
        self.no_objects.reset(name, edits.no_objects)
        self.regions.reset(name, edits.regions)
        self.proposed.reset(name, edits.proposed)
        self.points.reset(name, edits.points, edits.labels)

    def _load_edits(self, entry: ImageEntry) -> ImageEdits:
        """The image's annotation as on disk (an empty one, reported, when its file cannot be read)."""
        try:
            annotation = self.dataset.load_annotation(entry.name)
        except SidecarError as exc:
            entry.sidecar_error = exc.reason
            self.image_state_changed.emit(entry.name)
            self.notice.emit(
                "warning",
                f"{entry.sidecar.name} cannot be read ({exc.reason}). The file is kept as it is and the image "
                "opens with no points; when you add points, the old file is renamed aside, never overwritten.")
            return ImageEdits(np.zeros((0, 2)), np.zeros((0, 2)))
        outside = points_outside(annotation.points, entry.width, entry.height)
        if outside:
            self.notice.emit("warning", f"{outside} point(s) of {entry.name} lie outside the image: "
                                        f"{OUTSIDE_POLICY}.")
        # A valid file with nothing in it is a person's "no objects" (files are never written empty otherwise).
        no_objects = annotation.empty and entry.sidecar.is_file()
        return ImageEdits(annotation.points, annotation.proposed, annotation.labels, annotation.regions,
                          no_objects)

    def _leave_current(self) -> None:
        name = self.current_name
        if name is not None and self.is_dirty(name):
            edits = self._current_edits()
            if not self._save(name, edits):
                self._unsaved.keep(name, edits)

    def _current_edits(self) -> ImageEdits:
        return ImageEdits(self.points.points, self.proposed.points, self.points.labels, self.regions.regions,
                          self.no_objects.value)

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
            self._policy.record_baseline(self.dataset, name, 0)
        return stack

    def push(self, command: QUndoCommand) -> None:
        """Apply an edit of the current image's annotation so that it can be undone."""
        if self.current_name is None:
            return
        self.stack(self.current_name).push(command)

    def is_dirty(self, name: str) -> bool:
        stack = self._stacks.get(name)
        return stack is not None and not stack.isClean()

    def dirty_names(self) -> list[str]:
        return [name for name in self._stacks if self.is_dirty(name)]

    # ------------------------------------------------------------ image state
    def edits_of(self, name: str) -> ImageEdits | None:
        """The annotation of an image with unsaved edits as the user sees it (None: disk holds it all)."""
        if name == self.current_name and self.is_dirty(name):
            return self._current_edits()
        return self._unsaved.get(name)

    def status_of(self, name: str) -> str:
        """'complete', 'partial', 'proposed' or 'unlabeled', unsaved edits included."""
        edits = self.edits_of(name)
        entry = self.dataset.entry(name)
        return entry.status if edits is None else edits.status(name, entry.width, entry.height)

    def count_of(self, name: str) -> int | None:
        """Points of an image as the user sees them now (None: no annotation file, saved or to be saved).

        Merely showing an image without a file must not count it: zero points there is not "0 points".
        """
        if self.dataset is None:
            return None
        edits = self.edits_of(name)
        if edits is None:
            return self.dataset.entry(name).count
        return len(edits.points) if edits.has_file else None

    def proposed_count_of(self, name: str) -> int:
        """Model-proposed points of an image waiting to be accepted or discarded, as the user sees them now."""
        if self.dataset is None:
            return 0
        edits = self.edits_of(name)
        return self.dataset.entry(name).proposed if edits is None else len(edits.proposed)

    def is_annotated(self, name: str) -> bool:
        """Complete or partial, unsaved edits included (pending proposals keep an image out of training)."""
        return self.status_of(name) in ("complete", "partial")

    def _on_clean_changed(self, name: str, clean: bool) -> None:
        self.image_state_changed.emit(name)
        if name == self.current_name:
            self.dirty_changed.emit(not clean)

    def _on_stack_index_changed(self, _index: int) -> None:
        if self.dirty_names():
            self._autosave.start()  # restarting the single-shot timer debounces a burst of edits
        else:
            self._autosave.stop()

    def _on_edited(self, _change=None) -> None:
        if self.current_name is not None:
            self.image_state_changed.emit(self.current_name)

    # ----------------------------------------------------------------- saving
    def save_dirty(self) -> list[str]:
        """Write every image with unsaved edits; returns the names that could not be saved."""
        self._autosave.stop()
        failed = []
        for name in self.dirty_names():
            edits = self.edits_of(name)
            if edits is not None and not self._save(name, edits):
                failed.append(name)
        return failed

    def _save(self, name: str, edits: ImageEdits) -> bool:
        stack = self.stack(name)
        try:
            moved_aside = self._policy.write(self.dataset, name, edits, stack.index())
        except OSError as exc:
            self._report_failure(name, exc)
            return False
        self._unsaved.take(name)
        stack.setClean()
        self.image_state_changed.emit(name)
        self.saved.emit(name, moved_aside)
        return True

    def _report_failure(self, name: str, exc: OSError) -> None:
        first = not self._failure_reported
        self._failure_reported = True
        self.save_failed.emit(name, save_failure_message(name, self.dataset.entry(name).sidecar, exc), first)
