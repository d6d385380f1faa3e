"""Make the README screenshot: the complete window on a dataset, one image with its points and the density
overlay (adaptive mode), saved as a small PNG.

    python docs/make_screenshot.py /path/to/dataset docs/screenshot.png [--image IMG_1.jpg]

Runs offscreen and leaves the dataset as it was: nothing is edited, the density mode is set for the
picture only (not written to the dataset's crowdgui.json) and the window's settings live in a temporary
file. The PNG is reduced to a 192-colour palette so that it stays well under 300 KB.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def wait(app, seconds: float, until=lambda: False) -> None:
    """Run the event loop for ``seconds`` or until ``until()`` is true."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and not until():
        app.processEvents()
        time.sleep(0.02)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a dataset folder (images with .points.json sidecars)")
    parser.add_argument("output", type=Path, help="the PNG to write")
    parser.add_argument("--image", help="the image to show (default: the first annotated one)")
    parser.add_argument("--size", default="1440x900", help="window size, WIDTHxHEIGHT")
    parser.add_argument("--colors", type=int, default=192, help="palette size of the PNG")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))

    from PIL import Image
    from PySide6.QtCore import QSettings, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    import crowdgui.canvas  # noqa: F401  (sets pyqtgraph's image axis order before any ImageItem exists)
    from crowdgui.app import RESOURCES
    from crowdgui.features import build_window
    from engine.density import DensitySettings

    qInstallMessageHandler(lambda _kind, _context, text: None if "propagateSizeHints" in text
                           else print(text, file=sys.stderr))
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationDisplayName("CrowdGUI")
    style = RESOURCES / "style.qss"  # the look python main.py has
    if style.exists():
        app.setStyleSheet(style.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="crowdgui-shot-") as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = build_window(settings)
        window.resize(width, height)
        window.show()
        if not window.open_folder(args.folder):
            print(f"cannot open {args.folder}", file=sys.stderr)
            return 1
        dataset = window.session.dataset
        name = args.image or next((e.name for e in dataset.entries if e.annotated), None)
        if name is None or not window.session.select(name):
            print(f"cannot show {name or 'an annotated image'} of {args.folder}", file=sys.stderr)
            return 1
        density = window.density
        current = density.panel.settings()
        # set_settings shows the mode without announcing it, so the dataset's crowdgui.json is not written.
        density.panel.set_settings(DensitySettings("adaptive", current.sigma, current.beta, current.k))
        density.overlay_action.setChecked(True)
        density.dock.show()
        density.dock.raise_()  # in front of the docks tabbed with it
        density.schedule()
        wait(app, 30, until=lambda: density.last_result is not None)
        if density.last_result is None:
            print("the density map did not arrive in 30 s", file=sys.stderr)
            return 1
        window.canvas.fit_to_window()
        wait(app, 1.0)
        shot = window.grab()
        raw = Path(tmp) / "raw.png"
        shot.save(str(raw))
        window.close()
        image = Image.open(raw).convert("RGB")
        image = image.quantize(colors=args.colors, method=Image.Quantize.MEDIANCUT,
                               dither=Image.Dither.FLOYDSTEINBERG)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        image.save(args.output, optimize=True)
    print(f"{args.output}: {image.width}x{image.height}, {args.output.stat().st_size / 1024:.0f} KB, "
          f"{name} with {dataset.entry(name).count} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
