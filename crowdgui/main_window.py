"""The main window: composes the canvas, the docks, menus and toolbar, and wires their signals.

It owns no data (the AnnotationSession does) and computes nothing: a canvas request becomes an undo command
pushed on the session, a session signal becomes a widget update.

Features added later install themselves with one call each: ``window.add_dock(widget, "Title")`` and
``window.menu("Training").addAction(...)``; they reach the data through ``window.session`` and draw on
``window.canvas`` (e.g. ``canvas.set_overlay``).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from crowdgui.actions import WindowActions
from crowdgui.annotation.recovery import SessionJournal, offer_recovery
from crowdgui.annotation.session import AUTOSAVE_DELAY_MS, AnnotationSession
from crowdgui.canvas import ImageCanvas
from crowdgui.classes.controller import ClassesController
from crowdgui.demo import ensure_demo_dataset
from crowdgui.dialogs.help import ShortcutsDialog, show_about
from crowdgui.dialogs.messages import show_message
from crowdgui.icons import icon
from crowdgui.panels.image_list import ImageListPanel
from crowdgui.panels.notice_bar import NoticeBar
from crowdgui.panels.point_style import PointStyleWidget
from crowdgui.panels.status_bar import StatusFields
from crowdgui.panels.welcome import WelcomePanel
from crowdgui.point_edits import PointEdits
from crowdgui.preferences import Preferences
from crowdgui.regions.tools import RegionTools
from crowdgui.window_feedback import SaveFeedback, next_unannotated, summarise_folder
from crowdgui.window_layout import build_menus, build_toolbar

MENU_ORDER = ("&File", "&Edit", "&View", "&Image")


class MainWindow(QMainWindow):
    """CrowdGUI's window. ``settings``: a QSettings to use instead of the user's (tests pass their own)."""

    def __init__(self, settings: QSettings | None = None, autosave_ms: int = AUTOSAVE_DELAY_MS):
        super().__init__()
        self.setWindowTitle("CrowdGUI[*]")
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self.preferences = Preferences(settings)
        self.session = AnnotationSession(self, autosave_ms=autosave_ms)
        self.recovery = SessionJournal(self.session)  # unsaved edits survive a crash (crowdgui/annotation/recovery.py)
        self.recovery_box: QMessageBox | None = None  # the offer to restore them, when a folder opened with some
        self.last_message: QMessageBox | None = None  # the latest message box (tests read it)

        self.canvas = ImageCanvas()
        self.canvas.bind_points(self.session.points)
        self.canvas.set_point_style(self.preferences.point_size, self.preferences.point_color)
        self.welcome = WelcomePanel()
        self.notice_bar = NoticeBar()
        self.pages = QStackedWidget()
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(self.canvas)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.notice_bar)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)

        self.image_list = ImageListPanel(self.session)
        self.image_list_dock = self.add_dock(self.image_list, "Images", Qt.DockWidgetArea.LeftDockWidgetArea)
        self.status_fields = StatusFields(self.statusBar())
        self.actions = WindowActions(self)
        self.undo_action = self.session.undo_group.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Undo))
        self.undo_action.setIcon(icon("undo"))
        self.redo_action = self.session.undo_group.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo_action.setIcon(icon("redo"))
        self.point_style = PointStyleWidget(self.preferences.point_size, self.preferences.point_color)
        build_menus(self)
        self.toolbar = build_toolbar(self)
        self.point_edits = PointEdits(self)
        self.region_tools = RegionTools(self)
        self.classes = ClassesController(self)
        self.save_feedback = SaveFeedback(self)
        self._connect()
        self._refresh_recent()
        self._update_enabled()
        if not self.preferences.restore_window(self):
            self.resize(1440, 900)

    # ------------------------------------------------------------- extension
    def add_dock(self, widget: QWidget, title: str,
                 area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
                 object_name: str | None = None) -> QDockWidget:
        """Put ``widget`` in a dock (tabbed with others in the same area) listed in View > Panels."""
        dock = QDockWidget(title, self)
        dock.setObjectName(object_name or f"dock_{title.lower().replace(' ', '_')}")
        dock.setWidget(widget)
        others = [d for d in self.findChildren(QDockWidget) if d is not dock and self.dockWidgetArea(d) == area]
        self.addDockWidget(area, dock)
        if others:
            self.tabifyDockWidget(others[-1], dock)
        if hasattr(self, "panels_menu"):
            self.panels_menu.addAction(dock.toggleViewAction())
        return dock

    def menu(self, title: str) -> QMenu:
        """The top-level menu called ``title`` (created before Help when it does not exist)."""
        for action in self.menuBar().actions():
            if action.menu() and action.text().replace("&", "") == title.replace("&", ""):
                return action.menu()
        menu = QMenu(title, self)
        self.menuBar().insertMenu(self.help_menu.menuAction(), menu)
        return menu

    def show_notice(self, level: str, text: str, action_text: str | None = None, action=None) -> None:
        """A message in the bar above the image ("info", "warning" or "error")."""
        self.notice_bar.show_notice(level, text, action_text, action)

    # ---------------------------------------------------------------- layout
    def _connect(self) -> None:
        a, canvas, session = self.actions, self.canvas, self.session
        canvas.cursor_moved.connect(lambda x, y: self.status_fields.show_cursor(x, y, canvas.pixel_value(x, y)))
        canvas.cursor_left.connect(self.status_fields.clear_cursor)
        canvas.zoom_changed.connect(self.status_fields.show_zoom)
        canvas.selection_changed.connect(self.status_fields.show_selection)
        session.current_image_changed.connect(self._on_current_image_changed)
        session.notice.connect(self.show_notice)
        self.image_list.image_activated.connect(self._activate_image)
        self.welcome.open_folder_requested.connect(self.choose_folder)
        self.welcome.demo_requested.connect(self.open_demo)
        self.welcome.recent_folder_requested.connect(self.open_folder)
        self.point_style.style_changed.connect(self._on_point_style)
        self.recent_menu.aboutToShow.connect(self._refresh_recent)

        a.open_folder.triggered.connect(self.choose_folder)
        a.open_demo.triggered.connect(self.open_demo)
        a.save.triggered.connect(self.save_now)
        a.close_folder.triggered.connect(self.close_folder)
        a.quit.triggered.connect(self.close)
        a.select_all.triggered.connect(canvas.select_all)
        a.delete_selected.triggered.connect(canvas.delete_selection)
        a.clear_selection.triggered.connect(canvas.clear_selection)
        a.select_mode.toggled.connect(canvas.set_select_mode)
        a.fit.triggered.connect(canvas.fit_to_window)
        a.actual_size.triggered.connect(canvas.zoom_actual_pixels)
        a.zoom_in.triggered.connect(canvas.zoom_in)
        a.zoom_out.triggered.connect(canvas.zoom_out)
        a.bigger_points.triggered.connect(lambda: self.point_style.set_size(self.point_style.size + 1))
        a.smaller_points.triggered.connect(lambda: self.point_style.set_size(self.point_style.size - 1))
        a.point_color.triggered.connect(self.point_style.choose_color)
        a.next_image.triggered.connect(lambda: self._step(1))
        a.previous_image.triggered.connect(lambda: self._step(-1))
        a.next_todo.triggered.connect(lambda: next_unannotated(self))
        a.shortcuts.triggered.connect(self._show_shortcuts)
        a.about.triggered.connect(lambda: show_about(self))

    # ---------------------------------------------------------------- folders
    def choose_folder(self) -> None:
        recent = self.preferences.recent_folders()
        start = str(Path(recent[0]).parent) if recent else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images", start)
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder) -> bool:
        """Open a dataset folder (after saving the current one). False if it could not be opened."""
        if not self._release_folder():
            return False
        try:
            dataset = self.session.open_folder(folder)
        except OSError as exc:
            self.last_message = show_message(self, "error", "Cannot open folder",
                                             f"{folder} cannot be opened: {exc.strerror or exc}")
            return False
        self.preferences.add_recent_folder(dataset.folder)
        self.pages.setCurrentWidget(self.canvas)
        summarise_folder(self, dataset)
        self._update_enabled()
        self.recovery_box = offer_recovery(self, self.recovery, self.show_notice)
        return True

    def open_demo(self) -> None:
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            folder = ensure_demo_dataset()
        except OSError as exc:
            self.last_message = show_message(self, "error", "Cannot create the demo dataset",
                                             f"The demo images could not be written: {exc}")
            return
        finally:
            QApplication.restoreOverrideCursor()
        self.open_folder(folder)

    def close_folder(self) -> None:
        if self._release_folder():
            self.session.close_dataset()
            self.notice_bar.hide()
            self.pages.setCurrentWidget(self.welcome)
            self._refresh_recent()
            self._update_enabled()

    def save_now(self) -> None:
        if not self.session.save_dirty():
            self.statusBar().showMessage("Saved", 2000)

    def _release_folder(self) -> bool:
        """Save everything; if some points cannot be saved, ask before they are dropped."""
        failed = self.session.save_dirty()
        return not failed or self._confirm_discard(failed)

    def _confirm_discard(self, names: list[str]) -> bool:
        listed = "\n".join(names[:10]) + ("\n…" if len(names) > 10 else "")
        answer = QMessageBox.warning(
            self, "Unsaved points",
            f"The points of {len(names)} image(s) could not be saved:\n{listed}\n\n"
            "Close anyway and lose these changes?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Discard

    def _refresh_recent(self) -> None:
        folders = self.preferences.recent_folders()
        self.welcome.set_recent_folders(folders)
        self.recent_menu.clear()
        for folder in folders:
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _checked=False, f=folder: self.open_folder(f))
        self.recent_menu.setEnabled(bool(folders))

    # ------------------------------------------------------------------ images
    def _activate_image(self, name: str) -> None:
        if not self.session.select(name):
            self.image_list.set_current(self.session.current_name or "")

    def _step(self, delta: int) -> None:
        if not self.session.step(delta):
            self.statusBar().showMessage("This is the last image" if delta > 0 else "This is the first image",
                                         2000)

    # ---------------------------------------------------------- session events
    def _on_current_image_changed(self, name: str) -> None:
        self.canvas.set_image(self.session.image if name else None)
        folder = self.session.dataset.folder.name if self.session.dataset else ""
        title = f"{name} — {folder}" if name else folder
        self.setWindowTitle(f"{title} — CrowdGUI[*]" if title else "CrowdGUI[*]")
        self.setWindowModified(bool(name) and self.session.is_dirty(name))
        self._update_enabled()

    # ------------------------------------------------------------------ misc
    def _on_point_style(self, size: int, color) -> None:
        self.canvas.set_point_style(size, color)
        self.preferences.point_size = size
        self.preferences.point_color = color

    def _update_enabled(self) -> None:
        has_folder = self.session.dataset is not None
        has_image = self.session.current_name is not None
        for action in self.actions.needing_folder():
            action.setEnabled(has_folder)
        for action in self.actions.needing_image():
            action.setEnabled(has_image)

    def _show_shortcuts(self) -> None:
        actions = [self.undo_action, self.redo_action, *self.findChildren(type(self.undo_action))]
        unique = list(dict.fromkeys(a for a in actions if a.shortcuts()))
        ShortcutsDialog(unique, self).exec()

    # -------------------------------------------------------------- Qt events
    def dragEnterEvent(self, event) -> None:
        if dropped_folder(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        folder = dropped_folder(event)
        if folder is not None:
            event.acceptProposedAction()
            self.open_folder(folder)

    def closeEvent(self, event) -> None:
        if not self._release_folder():
            event.ignore()
            return
        self.preferences.save_window(self)
        self.session.close_dataset()
        event.accept()


def dropped_folder(event) -> Path | None:
    """The folder dropped on the window (a dropped file stands for its folder), or None."""
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    paths = [Path(u.toLocalFile()) for u in urls if u.isLocalFile()]
    if not paths:
        return None
    return paths[0] if paths[0].is_dir() else paths[0].parent
