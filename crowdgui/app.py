"""The composition root: QApplication, style, error dialog, main window. No logic of its own."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crowdgui.icons import RESOURCES


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python main.py", description="CrowdGUI: count objects in images.")
    parser.add_argument("folder", nargs="?", help="a folder of images to open")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start the window; ``argv`` are the arguments after the program name (an optional FOLDER)."""
    args = _parse(sys.argv[1:] if argv is None else argv)

    from PySide6.QtWidgets import QApplication

    import crowdgui.canvas  # noqa: F401  (sets pyqtgraph's image axis order before any ImageItem exists)
    from crowdgui.errors import install_excepthook
    from crowdgui.features import build_window
    from crowdgui.icons import icon

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName("CrowdGUI")
    app.setApplicationName("CrowdGUI")
    app.setApplicationDisplayName("CrowdGUI")
    app.setWindowIcon(icon("app"))
    style = RESOURCES / "style.qss"
    if style.exists():
        app.setStyleSheet(style.read_text(encoding="utf-8"))
    install_excepthook()

    window = build_window()
    window.show()
    if args.folder:
        folder = Path(args.folder).expanduser()
        if not folder.is_dir():
            print(f"{folder} is not a folder", file=sys.stderr)
        else:
            window.open_folder(folder)
    return app.exec()
