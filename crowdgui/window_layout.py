"""The main window's menus and main toolbar, built from its actions (crowdgui/actions.py)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QToolBar


def build_menus(window) -> None:
    """File, Edit, View (with Panels), Image and Help; features add theirs with ``window.menu(title)``."""
    a = window.actions
    file_menu = window.menuBar().addMenu("&File")
    file_menu.addAction(a.open_folder)
    window.recent_menu = file_menu.addMenu("Open &Recent")
    file_menu.addAction(a.open_demo)
    file_menu.addSeparator()
    file_menu.addActions([a.save, a.close_folder])
    file_menu.addSeparator()
    file_menu.addAction(a.quit)
    edit_menu = window.menuBar().addMenu("&Edit")
    edit_menu.addActions([window.undo_action, window.redo_action])
    edit_menu.addSeparator()
    edit_menu.addActions([a.add_mode, a.select_mode])
    edit_menu.addSeparator()
    edit_menu.addActions([a.select_all, a.clear_selection, a.delete_selected, a.clear_points])
    edit_menu.addSeparator()
    edit_menu.addAction(a.mark_no_objects)
    view_menu = window.menuBar().addMenu("&View")
    view_menu.addActions([a.fit, a.actual_size, a.zoom_in, a.zoom_out])
    view_menu.addSeparator()
    view_menu.addActions([a.bigger_points, a.smaller_points, a.point_color])
    view_menu.addSeparator()
    window.panels_menu = view_menu.addMenu("&Panels")
    for dock in window.findChildren(QDockWidget):
        window.panels_menu.addAction(dock.toggleViewAction())
    image_menu = window.menuBar().addMenu("&Image")
    image_menu.addActions([a.previous_image, a.next_image, a.next_todo])
    window.help_menu = window.menuBar().addMenu("&Help")
    window.help_menu.addActions([a.shortcuts, a.about])


def build_toolbar(window) -> QToolBar:
    a = window.actions
    toolbar = QToolBar("Main toolbar", objectName="mainToolbar", movable=False)
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    window.addToolBar(toolbar)
    for group in ([a.open_folder], [a.previous_image, a.next_image], [window.undo_action, window.redo_action],
                  [a.add_mode, a.select_mode, a.delete_selected], [a.fit, a.actual_size, a.zoom_in, a.zoom_out]):
        toolbar.addActions(group)
        toolbar.addSeparator()
    toolbar.addWidget(window.point_style)
    return toolbar
