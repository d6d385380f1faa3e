"""Icons: SVG files in resources/icons, with a Qt standard icon where the file is missing."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QStyle

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
ICONS = RESOURCES / "icons"

# Qt's own icons for common actions: every platform style provides them, so they always look native.
_STANDARD = {
    "open": QStyle.StandardPixmap.SP_DirOpenIcon,
    "save": QStyle.StandardPixmap.SP_DialogSaveButton,
    "undo": QStyle.StandardPixmap.SP_ArrowBack,
    "redo": QStyle.StandardPixmap.SP_ArrowForward,
    "previous": QStyle.StandardPixmap.SP_ArrowUp,
    "next": QStyle.StandardPixmap.SP_ArrowDown,
    "delete": QStyle.StandardPixmap.SP_TrashIcon,
    "help": QStyle.StandardPixmap.SP_DialogHelpButton,
    "info": QStyle.StandardPixmap.SP_MessageBoxInformation,
    "warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
    "error": QStyle.StandardPixmap.SP_MessageBoxCritical,
    "close": QStyle.StandardPixmap.SP_TitleBarCloseButton,
    "demo": QStyle.StandardPixmap.SP_FileDialogContentsView,
}


@cache
def icon(name: str) -> QIcon:
    """The icon called ``name``: resources/icons/<name>.svg, else a Qt standard icon, else an empty icon."""
    path = ICONS / f"{name}.svg"
    if path.exists():
        return QIcon(str(path))
    if name in _STANDARD and QApplication.instance() is not None:
        return QApplication.style().standardIcon(_STANDARD[name])
    return QIcon()
