"""How responsive the window stays while a model trains in the background.

The real main window (offscreen) opens a generated dataset and starts a real training job through the training
controller, exactly as the Train dialog does; the monitor dock plots every event. A QTimer asks to fire every
10 ms and records how late each tick is: the lateness is what a user feels as lag when clicking or panning.
Prints p50 / p95 / max lateness with the window idle and while training. Target: p95 < 50 ms.

    python bench/gui_responsiveness.py            # ~30 s of training
    python bench/gui_responsiveness.py --quick    # ~8 s, to check it works
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TICK_MS = 10
TARGET_P95_MS = 50.0


def percentiles(values: list[float]) -> tuple[float, float, float]:
    import numpy as np

    array = np.asarray(values, dtype=float)
    return float(np.percentile(array, 50)), float(np.percentile(array, 95)), float(array.max())


class LatenessProbe:
    """Records how late each tick of a 10 ms timer fires, while ``recording`` is set."""

    def __init__(self):
        from PySide6.QtCore import Qt, QTimer
        from PySide6.QtWidgets import QApplication

        self.samples: dict[str, list[float]] = {}
        self.phase: str | None = None
        self._last = time.perf_counter()
        self.timer = QTimer(QApplication.instance(), interval=TICK_MS)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.phase is not None:
            late_ms = max(0.0, (now - self._last) * 1000.0 - TICK_MS)
            self.samples.setdefault(self.phase, []).append(late_ms)
        self._last = now


def wait(app, seconds: float, until=None) -> None:
    """Run the event loop for ``seconds`` (or until ``until()`` is true)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end and not (until and until()):
        app.processEvents()
        time.sleep(0.001)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of training to measure")
    parser.add_argument("--quick", action="store_true", help="8 s of training on smaller images")
    parser.add_argument("--model", default="fcrn_a")
    parser.add_argument("--width", type=int, default=16, help="network width (small: the GUI is measured)")
    args = parser.parse_args(argv)
    seconds = 8.0 if args.quick else args.seconds
    size = (128, 128) if args.quick else (256, 256)

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    import crowdgui.canvas  # noqa: F401  (pyqtgraph options, as the app sets them)
    from crowdgui.main_window import MainWindow
    from crowdgui.training import install
    from crowdgui.training.options import TrainOptions
    from engine.training.runs import new_run_dir
    from engine.dataset.synthetic import write_synthetic_dataset

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        dataset = write_synthetic_dataset(Path(tmp) / "cells", images=12, size=size, counts=(20, 80), seed=4)
        window = MainWindow(settings=QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat))
        training = install(window)
        window.resize(1400, 900)
        window.show()
        window.open_folder(dataset)
        probe = LatenessProbe()
        wait(app, 0.5)

        probe.phase = "idle"
        wait(app, 2.0 if args.quick else 5.0)
        probe.phase = None

        events: list[dict] = []
        options = TrainOptions(model=args.model, budget="minutes", minutes=(seconds + 120) / 60, device="cpu",
                               width=args.width, crop=64 if args.quick else 128, batch=4)
        run_dir = new_run_dir(dataset, args.model)
        started = time.perf_counter()
        probe.phase = "starting (child imports torch)"
        job = training.start(options.engine_args(dataset, run_dir), run_dir, "benchmark")
        job.event_received.connect(events.append)
        wait(app, 120, until=lambda: any(e["type"] == "progress" for e in events) or not job.is_running())
        if not job.is_running():
            print("training ended before it started:", job.failure_summary(), file=sys.stderr)
            return 1
        first_step = time.perf_counter() - started
        probe.phase = "training"
        wait(app, seconds)
        probe.phase = None
        training.cancel()
        wait(app, 60, until=lambda: not job.is_running())
        probe.timer.stop()
        window.close()
        window.deleteLater()
        wait(app, 0.2)
        # Free Qt wrappers while the application still exists, not in the interpreter's final collection.
        del window, training, probe.timer
        gc.collect()

    progress = sum(e["type"] == "progress" for e in events)
    print(f"gui_responsiveness: {args.model} width {args.width}, CPU training, {os.cpu_count()} cores, "
          f"first training step after {first_step:.1f} s, {progress} progress events in {seconds:.0f} s")
    print(f"{'phase':32s} {'ticks':>6s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}")
    for phase, values in probe.samples.items():
        p50, p95, worst = percentiles(values)
        print(f"{phase:32s} {len(values):6d} {p50:8.1f} {p95:8.1f} {worst:8.1f}")
    p95 = percentiles(probe.samples["training"])[1]
    verdict = "met" if p95 < TARGET_P95_MS else "MISSED"
    print(f"target: p95 lateness while training < {TARGET_P95_MS:.0f} ms — {verdict} ({p95:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
