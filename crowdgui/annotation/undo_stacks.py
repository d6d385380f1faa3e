"""One QUndoStack per image, all in one QUndoGroup whose active stack is the shown image's.

A stack's clean state is "what is on disk": it drives the unsaved marker and the autosave. Stacks are
created when an image is first shown and kept while the folder is open, so each image keeps its history.
"""

from __future__ import annotations

import functools

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoGroup, QUndoStack


class UndoStacks(QObject):
    """The undo stacks of the open folder's images.

    Signals:
        created(str)              an image got its stack (its history starts here)
        clean_changed(str, bool)  an image's stack reached or left its clean (saved) state
        index_changed()           an edit was done, undone or redone on some stack
    """

    created = Signal(str)
    clean_changed = Signal(str, bool)
    index_changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.group = QUndoGroup(self)
        self._stacks: dict[str, QUndoStack] = {}

    def stack(self, name: str) -> QUndoStack:
        """The undo stack of one image (created when first needed)."""
        stack = self._stacks.get(name)
        if stack is None:
            stack = QUndoStack(self)
            self.group.addStack(stack)
            stack.cleanChanged.connect(functools.partial(self.clean_changed.emit, name))
            stack.indexChanged.connect(lambda _index: self.index_changed.emit())
            self._stacks[name] = stack
            self.created.emit(name)
        return stack

    def activate(self, name: str) -> None:
        self.group.setActiveStack(self.stack(name))

    def is_dirty(self, name: str) -> bool:
        stack = self._stacks.get(name)
        return stack is not None and not stack.isClean()

    def dirty_names(self) -> list[str]:
        return [name for name in self._stacks if self.is_dirty(name)]

    def clear_history(self, name: str) -> None:
        """Forget an image's history (its file changed under it); the image is clean (saved) afterwards."""
        stack = self._stacks.get(name)
        if stack is not None:
            stack.clear()

    def close(self) -> None:
        """Drop every stack (the folder closes)."""
        for stack in self._stacks.values():
            self.group.removeStack(stack)
            # A stack destroyed with unsaved edits emits cleanChanged from its destructor, possibly while the
            # session itself is being destroyed (window closed after "Discard"): nothing may listen by then.
            stack.blockSignals(True)
            stack.deleteLater()
        self._stacks.clear()
