"""Unsaved edits survive a crash: the session's edits are journaled, and offered back when the folder opens.

Autosave writes an image's sidecar 1.5 s after the last edit (restarted by every edit, so a steady stream of
clicks is not saved until it pauses). :class:`SessionJournal` closes that window: at most ``JOURNAL_DELAY_MS``
after an edit, the edited image's current points (and proposals) go to the dataset's recovery journal
(engine/dataset/recovery.py, ~2 ms for 50k points, off the click itself: a timer that is started, never
restarted, by edits). A save deletes the image's journal file; so does closing the folder, which the window
only does after saving or after the user agreed to drop what could not be saved.

When a folder opens, journal files left behind are edits that never reached the sidecar: the process died.
:func:`offer_recovery` lists them (image, point counts) in a message box: Restore pushes them as one undoable
step per image (then they are autosaved like any edit); Discard deletes them and says what was lost.

A window holds ``recovery/window.lock`` (a QLockFile: process id and host inside, stale once that process is
gone) while it has journal files. A folder opened while another live window holds it is not offered that
window's journal (its edits are not crash leftovers) and the user is warned that both windows save the same
files. Nothing is written when a folder merely opens, and nothing is left once everything is saved.
"""

from __future__ import annotations

from PySide6.QtCore import QLockFile, QObject, QTimer
from PySide6.QtWidgets import QMessageBox, QWidget

from crowdgui.annotation.region_undo import MarkNoObjects, ReplaceRegions
from crowdgui.annotation.session import AnnotationSession
from crowdgui.annotation.undo import ReplacePoints
from engine.dataset.recovery import RecoveryJournal, UnsavedEdits

JOURNAL_DELAY_MS = 250
LOCK_NAME = "window.lock"
SHOWN = 12  # images listed in the message box before "and N more"


class SessionJournal(QObject):
    """Keeps the recovery journal of the session's open dataset up to date."""

    def __init__(self, session: AnnotationSession, delay_ms: int = JOURNAL_DELAY_MS):
        super().__init__(session)
        self.session = session
        self.journal: RecoveryJournal | None = None
        self.found: list[UnsavedEdits] = []  # left by a previous process, not yet restored or discarded
        self.problems: list[str] = []
        self.other_window: str | None = None  # "process N on HOST" when a live window journals this folder too
        self._lock: QLockFile | None = None
        self.writes = 0  # journal files written (tests and the benchmark read it)
        self._pending: set[str] = set()  # images whose journal may be out of date
        self._written: set[str] = set()  # images with a journal file this session wrote
        self._timer = QTimer(self, singleShot=True, interval=delay_ms)
        self._timer.timeout.connect(self.flush)
        session.dataset_opened.connect(self._on_opened)
        session.dataset_closed.connect(self._on_closed)
        session.image_state_changed.connect(self._on_state_changed)
        session.saved.connect(self._on_saved)

    # ------------------------------------------------------------------ writing
    def _on_state_changed(self, name: str) -> None:
        if self.journal is None or not name:
            return
        if name in self._written or self.session.is_dirty(name):
            self._pending.add(name)
            if not self._timer.isActive():  # started, never restarted: a stream of clicks is journaled too
                self._timer.start()

    def flush(self) -> None:
        """Bring the journal up to date now (the timer calls this)."""
        self._timer.stop()
        pending, self._pending = self._pending, set()
        if self.journal is None:
            return
        session = self.session
        for name in pending:
            if not session.is_dirty(name):
                if name in self._written:
                    self.journal.remove(name)
                    self._written.discard(name)
                    self._release_if_clean()
                continue
            edits = session.edits_of(name)
            if edits is None:
                continue
            try:
                self.journal.write(name, edits.points, edits.proposed, edits.regions, edits.labels,
                                   no_objects=edits.no_objects)
            except OSError:
                continue  # a safety net only: a folder that cannot take it cannot take the save either
            self._written.add(name)
            self.writes += 1
            if self._lock is None:
                self._take_lock()

    def _on_saved(self, name: str, _moved_aside) -> None:
        self._pending.discard(name)
        if self.journal is not None and name in self._written:
            self.journal.remove(name)
            self._written.discard(name)
            self._release_if_clean()

    # ------------------------------------------------------------ open / close
    def _on_opened(self, dataset) -> None:
        self.journal = RecoveryJournal(dataset.folder)
        self.other_window = self._held_by_another_window()
        if self.other_window is None:
            self.found, self.problems = self.journal.pending(dataset.names())
            self._release_if_clean()  # a dead window's lock taken over: kept only once we journal again

    def _take_lock(self) -> QLockFile:
        """Try to hold this folder's journal lock (a dead window's stale lock is taken over); the lock object is
        returned either way, so a caller can ask a failed one who holds it."""
        lock = QLockFile(str(self.journal.folder / LOCK_NAME))
        lock.setStaleLockTime(0)  # stale only when its process is gone, however long a window stays open
        if lock.tryLock(0):
            self._lock = lock
        return lock

    def _release_if_clean(self) -> None:
        if not self._written and self._lock is not None:
            self._lock.unlock()
            self._lock = None

    def _held_by_another_window(self) -> str | None:
        if not (self.journal.folder / LOCK_NAME).exists():
            return None
        lock = self._take_lock()
        if lock is self._lock or lock.error() != QLockFile.LockError.LockFailedError:
            return None  # ours now, or not ours to judge (permissions): journal as usual
        info = lock.getLockInfo()  # (pid, host, application); pid 0 when the file cannot be read
        return f"process {info[0]} on {info[1]}" if info and info[0] else "another process"

    def _on_closed(self) -> None:
        # The window closes a folder only after saving, or after the user chose to drop what failed to save.
        self._timer.stop()
        if self.journal is not None:
            for name in self._written:
                self.journal.remove(name)
        self._pending.clear()
        self._written.clear()
        if self._lock is not None:
            self._lock.unlock()
        self._lock, self.other_window = None, None
        self.journal, self.found, self.problems = None, [], []

    # --------------------------------------------------------- restore / discard
    def restore(self, edits: list[UnsavedEdits] | None = None) -> list[str]:
        """Put journaled points back on their images, each as one undoable step; returns the images restored.

        Each restored image becomes unsaved and is saved like any edit (when the next one is shown, or by
        autosave); the journal files stay until then. The first restored image is shown at the end.
        """
        session = self.session
        edits = self.found if edits is None else edits
        restored = []
        for item in edits:
            if item.image_missing or session.dataset is None or not session.select(item.image):
                continue
            stack = session.stack(item.image)
            stack.beginMacro(f"Restore {item.count:,} unsaved point{'s' if item.count != 1 else ''}")
            stack.push(ReplacePoints(session.points, item.points, text="Restore unsaved points",
                                     labels=item.labels))
            if item.proposed is not None:
                stack.push(ReplacePoints(session.proposed, item.proposed, text="Restore unsaved proposals"))
            if item.regions is not None:
                stack.push(ReplaceRegions(session.regions, item.regions, text="Restore unsaved regions"))
            if item.no_objects and not session.no_objects.value:
                stack.push(MarkNoObjects(session.no_objects))
            stack.endMacro()
            self._written.add(item.image)  # its file is ours now: removed when the image is saved
            restored.append(item.image)
        self.found = [item for item in self.found if item.image not in restored]
        if restored:
            session.select(restored[0])
        return restored

    def discard(self, edits: list[UnsavedEdits] | None = None) -> str:
        """Delete journaled edits; returns a sentence saying what was lost."""
        edits = self.found if edits is None else edits
        for item in edits:
            if self.journal is not None:
                self.journal.remove(item.image)
        gone = {item.image for item in edits}
        self.found = [item for item in self.found if item.image not in gone]
        return lost_sentence(edits)


def lost_sentence(edits: list[UnsavedEdits]) -> str:
    if not edits:
        return "No unsaved points were discarded."
    listed = "; ".join(item.describe() for item in edits[:SHOWN])
    more = f"; and {len(edits) - SHOWN} more image(s)" if len(edits) > SHOWN else ""
    return (f"Discarded the unsaved points of {len(edits)} image(s); their points files keep what was last "
            f"saved. Lost: {listed}{more}.")


def offer_recovery(parent: QWidget, journal: SessionJournal, notify) -> QMessageBox | None:
    """Ask whether to restore the unsaved edits a previous session left (None: there are none).

    The box is window-modal and returned without waiting (tests press its buttons). ``notify(level, text)``
    shows the outcome (the window's notice bar).
    """
    if journal.other_window:
        notify("warning", f"This folder is also open in another CrowdGUI window ({journal.other_window}). Both "
                          "save to the same points files: edit each image in one window only.")
    if journal.problems:
        notify("warning", "Some recovery files of this folder cannot be read and were set aside: "
                          + "; ".join(journal.problems))
    edits = list(journal.found)
    if not edits:
        return None
    listed = "\n".join(item.describe() for item in edits[:SHOWN])
    if len(edits) > SHOWN:
        listed += f"\n… and {len(edits) - SHOWN} more image(s)"
    box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved points found",
                      f"CrowdGUI did not close properly last time. These images have points that were "
                      f"never saved:\n\n{listed}\n\nRestore them (you can undo it), or discard them?",
                      QMessageBox.StandardButton.NoButton, parent)
    restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(restore)
    box.setEscapeButton(restore)  # closing the box must not throw points away

    def answered(button) -> None:
        if button is discard:
            notify("warning", journal.discard(edits))
            return
        restored = journal.restore(edits)
        skipped = [item.image for item in edits if item.image not in restored]
        text = f"Restored the unsaved points of {len(restored)} image(s); Undo takes them back."
        if skipped:
            text += f" Not restored (image missing or unreadable): {', '.join(skipped)}."
        notify("info" if not skipped else "warning", text)

    box.buttonClicked.connect(answered)
    box.open()
    return box
