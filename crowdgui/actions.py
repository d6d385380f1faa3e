"""The main window's actions: text, shortcuts, icons and tips in one place (the menus, the toolbar and the
shortcuts dialog all read them). Connections are made by the main window."""

from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QWidget

from crowdgui.icons import icon

Key = QKeySequence.StandardKey


def _action(parent: QWidget, text: str, shortcuts=(), icon_name: str | None = None, tip: str = "",
            checkable: bool = False) -> QAction:
    action = QAction(text, parent)
    keys = [QKeySequence(k) if isinstance(k, str) else k for k in shortcuts]
    sequences = []
    for key in keys:
        sequences.extend(QKeySequence.keyBindings(key) if isinstance(key, QKeySequence.StandardKey) else [key])
    if sequences:
        action.setShortcuts(sequences)
    if icon_name:
        action.setIcon(icon(icon_name))
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(f"{text.replace('&', '').rstrip('.…')}  ({sequences[0].toString()})" if sequences
                          else text.replace("&", ""))
    action.setCheckable(checkable)
    parent.addAction(action)  # shortcuts work even when the action is in no visible menu
    return action


class WindowActions:
    """Every action of the main window, created once."""

    def __init__(self, parent: QWidget):
        a = _action
        # File
        self.open_folder = a(parent, "&Open Folder…", [Key.Open], "open", "Open a folder of images")
        self.open_demo = a(parent, "Open the &Demo Dataset", [], "demo",
                           "Synthetic cell images to try CrowdGUI with")
        self.save = a(parent, "&Save Now", [Key.Save], "save",
                      "Write the points now (they are also saved automatically)")
        self.close_folder = a(parent, "&Close Folder", [Key.Close], None, "Close the open folder")
        self.quit = a(parent, "&Quit", [Key.Quit], None, "Quit CrowdGUI")
        # Edit (undo and redo come from the QUndoGroup so their text follows the stack)
        self.select_all = a(parent, "Select &All Points", [Key.SelectAll], None, "Select every point")
        self.delete_selected = a(parent, "&Delete Selected Points", ["Delete", "Backspace"], "delete",
                                 "Delete the selected points")
        self.clear_selection = a(parent, "Clear Selectio&n", ["Esc"], None, "Deselect all points")
        self.clear_points = a(parent, "C&lear All Points of This Image", ["Ctrl+Shift+Delete"], None,
                              "Remove every point of the image (can be undone)")
        self.mark_no_objects = a(parent, "Mark as Annotated: &No Objects", ["Ctrl+Shift+E"], None,
                                 "Say that this image holds no objects: it is saved as annotated with 0 points "
                                 "(an image is never annotated just because its points were deleted)")
        self.add_mode = a(parent, "Add &Points Mode", ["P"], "mode-add",
                          "Left click adds a point, drag moves one", checkable=True)
        self.select_mode = a(parent, "&Select Mode", ["S"], "mode-select",
                             "Left drag selects points in a box, click selects a point", checkable=True)
        self.mode_group = QActionGroup(parent)
        self.mode_group.addAction(self.add_mode)
        self.mode_group.addAction(self.select_mode)
        self.add_mode.setChecked(True)
        # View
        self.fit = a(parent, "&Fit to Window", ["F", "Ctrl+0"], "zoom-fit", "Show the whole image")
        self.actual_size = a(parent, "&Actual Pixels (1:1)", ["1", "Ctrl+1"], "zoom-actual",
                             "One image pixel per screen pixel")
        self.zoom_in = a(parent, "Zoom &In", ["+", "=", Key.ZoomIn], "zoom-in", "Zoom in")
        self.zoom_out = a(parent, "Zoom &Out", ["-", Key.ZoomOut], "zoom-out", "Zoom out")
        self.bigger_points = a(parent, "&Bigger Points", ["]"], None, "Draw the points bigger")
        self.smaller_points = a(parent, "&Smaller Points", ["["], None, "Draw the points smaller")
        self.point_color = a(parent, "Point &Colour…", [], None, "Choose the colour of the points")
        # Image
        self.next_image = a(parent, "&Next Image", ["PgDown", "D"], "next", "Show the next image")
        self.previous_image = a(parent, "&Previous Image", ["PgUp", "A"], "previous",
                                "Show the previous image")
        self.next_todo = a(parent, "Next &Unannotated Image", ["N"], None,
                           "Show the next image without points file")
        # Help
        self.shortcuts = a(parent, "&Keyboard and Mouse…", [Key.HelpContents], "help",
                           "All shortcuts and mouse gestures")
        self.about = a(parent, "&About CrowdGUI", [], None, "Version and credits")

    def needing_image(self) -> list[QAction]:
        """Actions that only make sense while an image is shown."""
        return [self.select_all, self.delete_selected, self.clear_selection, self.clear_points,
                self.mark_no_objects, self.fit,
                self.actual_size, self.zoom_in, self.zoom_out]

    def needing_folder(self) -> list[QAction]:
        return [self.save, self.close_folder, self.next_image, self.previous_image, self.next_todo]
