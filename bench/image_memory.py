"""Benchmark: peak memory and time of reading one big image, in the engine and shown in the window.

Each measurement runs in a fresh child process (so earlier allocations do not hide a peak) and reports the
peak resident memory (``VmHWM``) above what the process held just before the read, and the seconds. The
images are generated once into a temporary folder: a JPEG with a smooth gradient plus noise (so it does not
compress to nothing), optionally with an EXIF orientation that swaps its sides.

    python bench/image_memory.py                       # 8000 x 6000 JPEG, orientation 1 and 6: engine only
    python bench/image_memory.py --size 20000x20000    # the big one
    python bench/image_memory.py --canvas              # also open it in the real window (offscreen)

Figures are the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from engine.dataset.images import read_image
path, mode = sys.argv[1], sys.argv[2]
if mode == "canvas":
    import os
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication
    from crowdgui.main_window import MainWindow
    app = QApplication([])
    window = MainWindow(settings=QSettings(sys.argv[3], QSettings.Format.IniFormat), autosave_ms=10**8)
    window.resize(1200, 800)
    window.show()
    app.processEvents()
def high_water():
    # VmHWM belongs to this program's memory map; ru_maxrss would also carry the parent's peak across fork.
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM"))
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = high_water()
started = time.perf_counter()
if mode == "canvas":
    ok = window.open_folder(path)
    app.processEvents()
    window.canvas.grab()  # one painted frame
    shape = None if window.canvas.image is None else list(window.canvas.image.shape)
else:
    shape = list(read_image(path).shape)
seconds = time.perf_counter() - started
peak = high_water()
print(json.dumps({{"shape": shape, "seconds": seconds, "peak_above_start": peak - before}}))
"""


def write_jpeg(path: Path, width: int, height: int, orientation: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    rows = np.linspace(0, 200, height, dtype=np.float32)[:, None]
    image = Image.new("RGB", (width, height))
    step = 1000  # made in bands: the benchmark itself must not need the memory it measures
    for top in range(0, height, step):
        bottom = min(height, top + step)
        band = rows[top:bottom] + np.linspace(0, 50, width, dtype=np.float32)[None, :]
        band = band[:, :, None] + rng.integers(0, 8, (bottom - top, width, 3))
        image.paste(Image.fromarray(band.astype(np.uint8)), (0, top))
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, quality=85, exif=exif.tobytes())


def measure(path: Path, mode: str, settings: Path) -> dict:
    argv = [sys.executable, "-c", CHILD.format(root=str(ROOT)), str(path), mode, str(settings)]
    done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="8000x6000", help="WIDTHxHEIGHT of the generated JPEG")
    parser.add_argument("--orientations", default="1,6", help="EXIF orientations to measure")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--canvas", action="store_true", help="also open it in the real window (offscreen)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        for orientation in (int(v) for v in args.orientations.split(",")):
            folder = Path(tmp) / f"o{orientation}"
            folder.mkdir()
            path = folder / "big.jpg"
            write_jpeg(path, width, height, orientation)
            modes = [("engine", path)] + ([("canvas", folder)] if args.canvas else [])
            for mode, target in modes:
                runs = [measure(target, mode, Path(tmp) / "prefs.ini") for _ in range(args.repeat)]
                failed = [run["error"] for run in runs if "error" in run]
                if failed:
                    print(f"{args.size} orientation {orientation} {mode}: FAILED {failed[0]}")
                    continue
                peak = statistics.median(run["peak_above_start"] for run in runs) / 2**20
                seconds = statistics.median(run["seconds"] for run in runs)
                array = width * height * 3 / 2**20
                print(f"{args.size} orientation {orientation} {mode:6s}: peak {peak:7.0f} MB above start "
                      f"({peak / array:.2f} x the {array:.0f} MB RGB array), {seconds:5.2f} s, "
                      f"shape {runs[0]['shape']}")


if __name__ == "__main__":
    main()
