"""The user's choices that outlive a session (QSettings): recent folders, point look, window layout."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QMainWindow

MAX_RECENT = 8
DEFAULT_POINT_SIZE = 8
DEFAULT_POINT_COLOR = QColor(255, 59, 48)


class Preferences:
    """Typed access to QSettings. Tests pass their own QSettings (an ini file in a temporary folder)."""

    def __init__(self, settings: QSettings | None = None):
        self.settings = settings if settings is not None else QSettings()

    # --------------------------------------------------------- recent folders
    def recent_folders(self) -> list[str]:
        """Recently opened folders, newest first, those that still exist."""
        value = self.settings.value("recent_folders", [])
        if isinstance(value, str):  # QSettings returns a lone string for a one-item list
            value = [value]
        return [folder for folder in (value or []) if Path(folder).is_dir()]

    def add_recent_folder(self, folder: Path | str) -> None:
        folder = str(Path(folder).resolve())
        recent = [f for f in self.recent_folders() if f != folder]
        self.settings.setValue("recent_folders", [folder, *recent][:MAX_RECENT])

    # ------------------------------------------------------------- point look
    @property
    def point_size(self) -> int:
        try:
            return min(max(int(self.settings.value("points/size", DEFAULT_POINT_SIZE)), 2), 40)
        except (TypeError, ValueError):
            return DEFAULT_POINT_SIZE

    @point_size.setter
    def point_size(self, size: int) -> None:
        self.settings.setValue("points/size", int(size))

    @property
    def point_color(self) -> QColor:
        color = QColor(str(self.settings.value("points/color", DEFAULT_POINT_COLOR.name())))
        return color if color.isValid() else QColor(DEFAULT_POINT_COLOR)

    @point_color.setter
    def point_color(self, color: QColor) -> None:
        self.settings.setValue("points/color", QColor(color).name())

    # ----------------------------------------------------------------- window
    def save_window(self, window: QMainWindow) -> None:
        self.settings.setValue("window/geometry", window.saveGeometry())
        self.settings.setValue("window/state", window.saveState())

    def restore_window(self, window: QMainWindow) -> bool:
        """Put the window back where the user left it; False the first time."""
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray):
            window.restoreState(state)
        return isinstance(geometry, QByteArray) and window.restoreGeometry(geometry)
