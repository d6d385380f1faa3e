"""Benchmark: how fast the annotation window reacts with many points on the image.

Two figures, both through the real window (offscreen, shown, a QSettings in a temporary folder):

* adding one point with 1k, 10k and 50k points already present: the canvas's ``point_add_requested`` signal
  (what a click emits) -> AddPoint undo command -> PointsModel -> scatter update -> ``processEvents`` and a
  repaint of the canvas; the median and 90th percentile over many adds;
* opening and showing an image carrying 100k points: a generated 2000 x 2000 PNG with its sidecar, from
  ``open_folder`` (list the folder, read the image and the sidecar) to the first painted frame.

Autosave is pushed out of the measurement (a long delay): writing the sidecar is the engine's cost, not the
canvas's.

    python bench/canvas.py            # 200 adds per size, 3 opens
    python bench/canvas.py --quick    # 30 adds per size, 1 open, to check the script works
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Run as a script from a clone (python bench/canvas.py): the packages are found without installing them.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ADD_SIZES = (1_000, 10_000, 50_000)
OPEN_POINTS = 100_000
OPEN_SIZE = 2000
NO_AUTOSAVE_MS = 10**8


def write_image_with_points(folder: Path, name: str, size: int, count: int, seed: int = 0) -> Path:
    """A size x size PNG (a smooth gradient, quick to encode and decode) and a sidecar with ``count`` points."""
    from PIL import Image

    from engine.dataset import Annotation, sidecar_path, write_sidecar

    folder.mkdir(parents=True, exist_ok=True)
    ramp = np.linspace(40, 200, size, dtype=np.float32)
    image = np.stack([np.add.outer(ramp, ramp) / 2, np.tile(ramp, (size, 1)), np.tile(ramp[:, None], (1, size))],
                     axis=2).astype(np.uint8)
    path = folder / name
    Image.fromarray(image).save(path, compress_level=1)
    points = np.random.default_rng(seed).uniform(0, size, (count, 2))
    write_sidecar(sidecar_path(path), Annotation(name, size, size, points))
    return path


def make_window(settings_dir: Path):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from crowdgui.main_window import MainWindow

    settings = QSettings(str(settings_dir / "bench.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, autosave_ms=NO_AUTOSAVE_MS)
    window.resize(1440, 900)
    window.show()
    window.paint_counter = PaintCounter(window.canvas.viewport())
    QApplication.processEvents()
    return window


class PaintCounter:
    """Counts the paint events of a widget (an event filter), so a frame is painted exactly once."""

    def __init__(self, widget):
        from PySide6.QtCore import QEvent, QObject

        class _Filter(QObject):
            def eventFilter(inner, _watched, event):
                if event.type() == QEvent.Type.Paint:
                    self.count += 1
                return False

        self.count = 0
        self._filter = _Filter()
        widget.installEventFilter(self._filter)


def settle(window) -> None:
    """Let pending events run, including the canvas's repaint (offscreen painting is real rendering); paint
    it now if the event loop did not."""
    from PySide6.QtWidgets import QApplication

    counter = window.paint_counter
    before = counter.count
    QApplication.processEvents()
    if counter.count == before:
        window.canvas.viewport().repaint()


def time_adds(window, folder: Path, count: int, repeats: int) -> tuple[list[float], list[float]]:
    """Seconds per added point with ``count`` points present: (up to the scatter's new data, up to the
    painted frame). Each add is undone before the next, untimed."""
    assert window.open_folder(folder)
    settle(window)
    canvas, session = window.canvas, window.session
    assert session.points.count == count, (session.points.count, count)
    rng = np.random.default_rng(1)
    size = session.image.shape[1]
    updated, painted = [], []
    for _ in range(repeats):
        x, y = rng.uniform(0, size, 2)
        start = time.perf_counter()
        canvas.point_add_requested.emit(float(x), float(y))  # synchronous up to the scatter's data
        updated.append(time.perf_counter() - start)
        settle(window)
        painted.append(time.perf_counter() - start)
        session.undo_group.undo()  # keep the count fixed (not timed)
        settle(window)
    assert session.points.count == count
    window.close_folder()
    return updated, painted


def time_open(window, folder: Path) -> float:
    """Seconds from open_folder to the first painted frame of the image with its points."""
    start = time.perf_counter()
    assert window.open_folder(folder)
    settle(window)
    elapsed = time.perf_counter() - start
    assert window.session.points.count == OPEN_POINTS
    window.close_folder()
    settle(window)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, to check the script works")
    args = parser.parse_args(argv)
    adds, opens = (30, 1) if args.quick else (200, 3)

    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    # The offscreen platform warns about every window it cannot resize natively; that is not our output.
    qInstallMessageHandler(lambda _kind, _context, text: None if "propagateSizeHints" in text
                           else print(text, file=sys.stderr))
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="crowdgui-bench-") as tmp:
        tmp = Path(tmp)
        window = make_window(tmp)
        print(f"Adding one point (median of {adds}; signal -> undo command -> model -> scatter -> paint)")
        print(f"{'points present':>15} {'model+scatter ms':>17} {'with paint ms':>14} {'p90 ms':>8}")
        for count in ADD_SIZES:
            folder = tmp / f"add_{count}"
            write_image_with_points(folder, "image.png", 1000, count)
            updated, painted = (np.array(t) * 1000 for t in time_adds(window, folder, count, adds))
            print(f"{count:>15,} {statistics.median(updated):>17.2f} {statistics.median(painted):>14.2f} "
                  f"{np.percentile(painted, 90):>8.2f}")

        folder = tmp / "open"
        write_image_with_points(folder, "image.png", OPEN_SIZE, OPEN_POINTS)
        times = [time_open(window, folder) * 1000 for _ in range(opens)]
        print(f"\nOpen and show a {OPEN_SIZE}x{OPEN_SIZE} image with {OPEN_POINTS:,} points "
              f"(median of {opens}): {statistics.median(times):.0f} ms")
        window.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
