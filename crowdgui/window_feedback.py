"""What the main window tells the user about the folder and saving: the summary and problems when a folder
opens, and the save state (unsaved, saved, failed) in the status bar."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject

from crowdgui.dialogs.messages import show_message


def summarise_folder(window, dataset) -> None:
    """Status-bar summary of an opened folder; a notice listing its problems (details on demand)."""
    usable = sum(e.usable for e in dataset.entries)
    done = sum(e.annotated for e in dataset.entries)
    window.statusBar().showMessage(f"Opened {dataset.folder.name}: {len(dataset)} images, {done} annotated", 8000)
    problems = dataset.problems
    if not len(dataset):
        window.show_notice("info", "No images in this folder. CrowdGUI lists .jpg, .png, .tif and .bmp files "
                                   "directly inside the folder (not in subfolders).")
    elif problems:
        def details() -> None:
            window.last_message = show_message(window, "warning", "Problems found in this folder",
                                               f"{len(problems)} file(s) have problems.", "\n".join(problems))

        window.show_notice(
            "warning", f"{len(problems)} file(s) have problems: unreadable images are skipped, unreadable point "
                       "files are kept aside, points outside their image are kept but not used. "
                       f"{usable} of {len(dataset)} images can be annotated.", "Details…", details)
    else:
        window.notice_bar.hide()


def next_unannotated(window) -> None:
    """Show the next readable image that is neither annotated nor being edited (wrapping around)."""
    session = window.session
    if session.dataset is None:
        return
    names = session.dataset.names()
    start = names.index(session.current_name) + 1 if session.current_name in names else 0
    for name in names[start:] + names[:start]:
        entry = session.dataset.entry(name)
        if entry.usable and not entry.annotated and not session.is_dirty(name) and session.select(name):
            return
    window.statusBar().showMessage("Every image is annotated", 3000)


class SaveFeedback(QObject):
    """The unsaved marker in the title, the save state in the status bar, and save failures explained once."""

    def __init__(self, window):
        super().__init__(window)
        self.window, self.session = window, window.session
        self.session.dirty_changed.connect(self.on_dirty_changed)
        self.session.saved.connect(self.on_saved)
        self.session.save_failed.connect(self.on_save_failed)

    def on_dirty_changed(self, dirty: bool) -> None:
        fields = self.window.status_fields
        self.window.setWindowModified(dirty)
        if dirty:
            if fields.state != "failed":
                fields.show_save_state("unsaved")
        elif not self.session.dirty_names():
            fields.show_save_state("saved")

    def on_saved(self, name: str, moved_aside) -> None:
        if not self.session.dirty_names():
            self.window.status_fields.show_save_state("saved")
        if moved_aside is not None:
            self.window.show_notice("info", f"The unreadable points file of {name} was kept: it is now "
                                            f"{Path(moved_aside).name} in the same folder.")

    def on_save_failed(self, name: str, message: str, first: bool) -> None:
        self.window.status_fields.show_save_state("failed")
        if first:
            self.window.last_message = show_message(self.window, "error", "Points not saved", message)
        self.window.statusBar().showMessage(f"Could not save the points of {name} — they are kept on screen",
                                            10000)
