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

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from crowdgui.annotation.image_edits import ImageEdits, ImageState, edits_from_disk, image_state, no_edits
from crowdgui.annotation.points_model import PointsModel
from crowdgui.annotation.regions_model import NoObjectsMark, RegionsModel
from crowdgui.annotation.save_policy import SavePolicy, save_failure_message, write_proposals
from crowdgui.annotation.undo_stacks import UndoStacks
from crowdgui.annotation.unsaved import UnsavedStore
from engine.dataset import Dataset, ImageEntry, ImageReadError, SidecarError, read_image

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
        saved(str, object)               an image's annotation reached disk (object: where a malformed file went)
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
        self.stacks = UndoStacks(self)
        self.undo_group = self.stacks.group
        self.dataset: Dataset | None = None
        self.current_name: str | None = None
        self.image: np.ndarray | None = None  # the current image as (H, W, 3) uint8
        self._unsaved = UnsavedStore()
        self._policy = SavePolicy()
        self._failure_reported = False
        self._autosave = QTimer(self, singleShot=True, interval=autosave_ms)
        self._autosave.timeout.connect(self.save_dirty)
        self.stacks.created.connect(lambda name: self._policy.record_baseline(self.dataset, name, 0))
        self.stacks.clean_changed.connect(self._on_clean_changed)
        self.stacks.index_changed.connect(self._on_stack_index_changed)
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
        self.stacks.close()
        self._unsaved.clear()
        self._policy.forget()
        self._failure_reported = False
        self.dataset, self.current_name, self.image = None, None, None
        self._show(None, no_edits())
        self.dataset_closed.emit()

    def rescan(self, changed=()) -> None:
        """Read the folder again after an engine command wrote the sidecars of the images ``changed`` (save
        first). Those without unsaved edits show what is on disk now; their undo history is cleared."""
        if self.dataset is None:
            return
        self.dataset.rescan()
        for name in changed:
            if not self.is_dirty(name):
                self._restart_history(name)
        current = self.current_name
        if current in changed and current in self.dataset.names() and not self.is_dirty(current):
            self._show(current, self._load_edits(self.dataset.entry(current)))
        self.dataset_rescanned.emit()

    def store_proposals(self, name: str, proposed, labels: list[str] | None = None) -> bool:
        """Write model proposals for ``name``, an image that is not shown, with its annotation as it is.

        (The shown image gets them through an undo command instead.) Its undo history is cleared: it refers to
        the proposals these replace; ``labels`` are their classes. False (reason reported) if not written.
        """
        try:
            moved_aside = write_proposals(self.dataset, name, self._unsaved.get(name), proposed, labels)
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
        """Forget an image's undo history after its file changed under it; that file is the new start."""
        self.stacks.clear_history(name)
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
        self.stacks.activate(name)
        self._show(name, edits)
        self.current_image_changed.emit(name)
        self.dirty_changed.emit(self.is_dirty(name))
        return True

    def step(self, delta: int) -> bool:
        """Go to the next (delta=1) or previous (delta=-1) readable image; False at either end."""
        if self.dataset is None:
            return False
        onward = _onward(self.dataset.names(), self.current_name, delta)
        return any(self.dataset.entry(name).usable and self.select(name) for name in onward)

    def _show(self, name: str | None, edits: ImageEdits) -> None:
        # Points last: views redraw the count label on points_changed and read the others then.
        self.no_objects.reset(name, edits.no_objects)
        self.regions.reset(name, edits.regions)
        self.proposed.reset(name, edits.proposed, edits.proposed_labels)
        # What a point without a label is (accepting proposals of another class writes it out).
        self.points.unlabelled_class = None if self.dataset is None else self.dataset.settings.class_names()[0]
        self.points.reset(name, edits.points, edits.labels)

    def _load_edits(self, entry: ImageEntry) -> ImageEdits:
        edits, warning = edits_from_disk(self.dataset, entry)
        if entry.sidecar_error is not None:
            self.image_state_changed.emit(entry.name)
        if warning:
            self.notice.emit("warning", warning)
        return edits

    def _leave_current(self) -> None:
        name = self.current_name
        if name is not None and self.is_dirty(name):
            edits = self._current_edits()
            if not self._save(name, edits):
                self._unsaved.keep(name, edits)

    def _current_edits(self) -> ImageEdits:
        return ImageEdits(self.points.points, self.proposed.points, self.points.labels, self.regions.regions,
                          self.no_objects.value, self.proposed.labels)

    # ------------------------------------------------------------------- undo
    def stack(self, name: str) -> QUndoStack:
        return self.stacks.stack(name)

    def push(self, command: QUndoCommand) -> None:
        """Apply an edit of the current image's annotation so that it can be undone."""
        if self.current_name is None:
            return
        self.stack(self.current_name).push(command)

    def is_dirty(self, name: str) -> bool:
        return self.stacks.is_dirty(name)

    def dirty_names(self) -> list[str]:
        return self.stacks.dirty_names()

    # ------------------------------------------------------------ image state
    def edits_of(self, name: str) -> ImageEdits | None:
        """The annotation of an image with unsaved edits as the user sees it (None: disk holds it all)."""
        if name == self.current_name and self.is_dirty(name):
            return self._current_edits()
        return self._unsaved.get(name)

    def state_of(self, name: str) -> ImageState:
        """Status and counts of an image as the user sees them now, unsaved edits included."""
        return image_state(self.dataset.entry(name), self.edits_of(name), self.dataset.settings.class_names())

    def _on_clean_changed(self, name: str, clean: bool) -> None:
        self.image_state_changed.emit(name)
        if name == self.current_name:
            self.dirty_changed.emit(not clean)

    def _on_stack_index_changed(self) -> None:
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


def _onward(names: list[str], current: str | None, delta: int) -> list[str]:
    """The images after (delta=1) or before (delta=-1) ``current``, nearest first."""
    if current not in names:
        return names if delta > 0 else names[::-1]
    index = names.index(current)
    return names[index + 1:] if delta > 0 else names[:index][::-1]
