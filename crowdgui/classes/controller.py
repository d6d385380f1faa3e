"""Classes in the annotation window: the palette dock, the active class (keys 1-9), show/hide, relabelling.

With the dataset's one default class nothing changes: no keys are taken, points keep the point colour of the
preferences and get no labels. With 2+ classes (crowdgui.json) the canvas draws each class in its colour, a
click adds a point of the active class, Shift+R (R is the rectangle region tool) gives the selected points the
active class, and the count label and image list count per class. Every edit is an undo command.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import QColorDialog, QDockWidget, QInputDialog, QProgressDialog

from crowdgui.annotation.undo import RelabelPoints
from crowdgui.classes.dataset_classes import (
    add_class,
    listed_classes,
    recolour_class,
    remove_class,
    removal_refusal,
    rename_class,
)
from crowdgui.classes.palette import ClassesPanel
from crowdgui.dialogs.messages import show_message
from engine.dataset.classes import class_counts

DOCK_OBJECT_NAME = "classesDock"
RENAME_DIALOG_AFTER_MS = 500  # a rename of a few hundred files (~4 ms each) finishes without a dialog
ACTUAL_SIZE_KEY = "1"  # View > Actual Pixels gives this key to class 1 while the dataset has 2+ classes


class ClassesController(QObject):
    """Installs the classes feature into ``window`` (a MainWindow).

    Signals: classes_changed() after the dataset's classes, or which are shown, changed.
    """

    classes_changed = Signal()

    def __init__(self, window):
        super().__init__(window)
        self.window, self.session, self.canvas = window, window.session, window.canvas
        self.active: str | None = None
        self.hidden: set[str] = set()
        self.rename_dialog: QProgressDialog | None = None
        self.ask_text = lambda title, label, text="": QInputDialog.getText(window, title, label, text=text)
        self.ask_colour = lambda current: QColorDialog.getColor(QColor(current), window, "Class colour")
        self.panel = ClassesPanel()
        # Under the image list rather than a tab behind it (what add_dock does): the active class stays in sight.
        self.dock = QDockWidget("Classes", window, objectName=DOCK_OBJECT_NAME)
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock, Qt.Orientation.Vertical)
        window.panels_menu.addAction(self.dock.toggleViewAction())
        self._build_actions()
        self.panel.activate_requested.connect(self.activate)
        self.panel.visibility_requested.connect(self.set_shown)
        self.panel.add_requested.connect(self.add)
        self.panel.rename_requested.connect(self.rename)
        self.panel.recolour_requested.connect(self.recolour)
        self.panel.remove_requested.connect(self.remove)
        self.session.dataset_opened.connect(self._on_dataset_opened)
        self.session.dataset_closed.connect(self.refresh)
        self.session.points.points_changed.connect(self._update_counts)
        self.canvas.count_breakdown = self.breakdown_html
        self.refresh()

    def _build_actions(self) -> None:
        window = self.window
        menu = window.menu("&Classes")
        self.relabel_action = QAction("&Relabel Selected Points as the Active Class", window)
        self.relabel_action.setShortcut(QKeySequence("Shift+R"))
        self.relabel_action.setStatusTip("The selected points become of the active class (can be undone)")
        self.relabel_action.triggered.connect(self.relabel_selected)
        self.add_action = QAction("&Add Class…", window, statusTip="Add a class of objects to the dataset")
        self.add_action.triggered.connect(self.add)
        self.key_actions = []
        for key in range(1, 10):
            action = QAction(f"Active Class {key}", window)
            action.triggered.connect(lambda _=False, key=key: self.activate_key(key))
            window.addAction(action)  # shortcuts work with no menu open; they are set only with 2+ classes
            self.key_actions.append(action)
        window.addAction(self.relabel_action)
        menu.addActions([self.relabel_action, self.add_action])
        menu.addSeparator()
        menu.addAction(self.dock.toggleViewAction())

    # ------------------------------------------------------------------ state
    @property
    def classes(self):
        return listed_classes(self.session.dataset) if self.session.dataset is not None else []

    @property
    def several(self) -> bool:
        return len(self.classes) >= 2

    def new_point_label(self) -> str | None:
        """The class of a new point: None with one class (points then get no label)."""
        return self.active if self.several else None

    def _on_dataset_opened(self, _dataset) -> None:
        self.active, self.hidden = None, set()
        self.refresh()

    def refresh(self, *_args) -> None:
        """Bring palette, canvas, keys and counts in line with the dataset's classes."""
        classes = self.classes
        names = [c.name for c in classes]
        if self.active not in names:
            self.active = names[0] if names else None
        self.hidden &= set(names)
        if self.session.dataset is not None:  # a class added or renamed while this image is open
            self.session.points.unlabelled_class = names[0]
        several = len(classes) >= 2
        colours = [QColor(c.colour) for c in classes] if several else []
        self.canvas.points_layer.set_classes(names if several else [], colours, self.hidden)
        keys = {c.key or number + 1: c.name for number, c in enumerate(classes)}
        for key, action in enumerate(self.key_actions, start=1):
            action.setShortcut(QKeySequence(str(key)) if several and key in keys else QKeySequence())
        actual = self.window.actions.actual_size
        actual.setShortcuts([QKeySequence(k) for k in ((["Ctrl+1"]) if several else [ACTUAL_SIZE_KEY, "Ctrl+1"])])
        self.relabel_action.setEnabled(several)
        # With classes the points take their class colours; the one point colour would change nothing.
        self.window.point_style.color_button.setVisible(not several)
        self.add_action.setEnabled(self.session.dataset is not None)
        self.panel.setEnabled(self.session.dataset is not None)
        self._show_counts()
        self.canvas.set_count_text(None)  # with or without the per-class counts
        if self.session.dataset is not None:  # the points column shows per-class counts or not
            for name in self.session.dataset.names():
                self.window.image_list.model.refresh(name)
        self.classes_changed.emit()

    def image_counts(self) -> dict[str, int]:
        points = self.session.points
        return class_counts(points.labels, points.count, [c.name for c in self.classes] or ["object"])

    def _show_counts(self, *_args) -> None:
        self.panel.show_classes(self.classes if self.several else [], self.image_counts(), self.active,
                                self.hidden)

    def _update_counts(self, *_args) -> None:
        if self.several:
            self.panel.update_counts(self.image_counts())

    def breakdown_html(self) -> str:
        """' = 120 live + 118 dead' in the class colours for the count label ('' with one class)."""
        if not self.several:
            return ""
        colours = {c.name: c.colour for c in self.classes}
        parts = [f'<span style="color:{colours.get(name, "#a0a0a0")}">{number:,} {name}</span>'
                 for name, number in self.image_counts().items()]
        return " = " + " + ".join(parts)

    # -------------------------------------------------------------- requests
    def activate(self, name: str) -> None:
        if name in [c.name for c in self.classes] and name != self.active:
            self.active = name
            self._show_counts()
            self.window.statusBar().showMessage(f"New points are {name}", 2000)

    def activate_key(self, key: int) -> None:
        for number, object_class in enumerate(self.classes):
            if (object_class.key or number + 1) == key:
                self.activate(object_class.name)
                return

    def set_shown(self, name: str, shown: bool) -> None:
        self.hidden = self.hidden - {name} if shown else self.hidden | {name}
        self.refresh()

    def relabel_selected(self) -> None:
        selected = self.canvas.selected_indices()
        if not self.several or not len(selected):
            self.window.statusBar().showMessage("Select points first, then Shift+R gives them the active class",
                                                3000)
            return
        self.session.push(RelabelPoints(self.session.points, selected, self.active))
        self._show_counts()

    def add(self) -> None:
        if self.session.dataset is None:
            return
        name, ok = self.ask_text("Add a class", "Name of the new class of objects:")
        if ok:
            self._change(lambda: add_class(self.session.dataset, name))

    def rename(self, old: str) -> None:
        new, ok = self.ask_text("Rename a class", f"New name of {old}:", old)
        if ok and new.strip() != old:
            rewritten = self._change(lambda: rename_class(self.session, old, new, self._rename_progress(old, new)))
            if rewritten is not None:
                self.window.statusBar().showMessage(
                    f"Renamed {old} to {new.strip()} ({len(rewritten):,} points file"
                    f"{'s' if len(rewritten) != 1 else ''} rewritten)", 5000)
                if self.active == old:
                    self.active = new.strip()
                    self.refresh()

    def _rename_progress(self, old: str, new: str):
        """A progress(done, total) that shows a modal dialog once renaming takes longer than half a second
        (the window repaints meanwhile; the dialog has no Cancel: a half-renamed class would be worse)."""
        dialog = None

        def progress(done: int, total: int) -> None:
            nonlocal dialog
            if dialog is None:
                dialog = QProgressDialog(f"Renaming {old} to {new.strip()} in {total:,} points files…", "", 0,
                                         total, self.window)
                dialog.setWindowTitle("Renaming a class")
                dialog.setCancelButton(None)
                dialog.setWindowModality(Qt.WindowModality.WindowModal)
                dialog.setMinimumDuration(RENAME_DIALOG_AFTER_MS)
                self.rename_dialog = dialog  # tests read it
            dialog.setValue(done)  # at the maximum it closes itself

        return progress

    def recolour(self, name: str) -> None:
        current = next(c.colour for c in self.classes if c.name == name)
        colour = self.ask_colour(current)
        if colour.isValid():
            self._change(lambda: recolour_class(self.session.dataset, name, colour.name()))

    def remove(self, name: str) -> None:
        refusal = removal_refusal(self.session, name)
        if refusal is not None:
            self.window.last_message = show_message(self.window, "warning", "Class not removed", refusal)
            return
        self._change(lambda: remove_class(self.session.dataset, name))

    def _change(self, change):
        """``change()``'s result, or None after saying why it failed."""
        result = None
        try:
            result = change()
        except ValueError as exc:
            self.window.last_message = show_message(self.window, "warning", "Classes not changed", str(exc))
        except OSError as exc:
            self.window.last_message = show_message(self.window, "error", "Classes not saved",
                                                    f"The dataset's classes could not be written: "
                                                    f"{exc.strerror or exc}")
        self.refresh()
        return result
