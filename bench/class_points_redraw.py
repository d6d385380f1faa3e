"""Time the canvas's work per edit with 50,000 points, one class vs two (the classes draw one scatter each).

    QT_QPA_PLATFORM=offscreen python bench/class_points_redraw.py [POINTS]

Prints milliseconds per add, move and relabel (median of 30), the model change and the layer redraw together.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _median_ms(action, repeats: int = 30) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main(count: int) -> None:
    import pyqtgraph as pg
    from PySide6.QtGui import QColor, QUndoStack
    from PySide6.QtWidgets import QApplication

    import crowdgui.canvas  # noqa: F401
    from crowdgui.annotation.points_model import PointsModel
    from crowdgui.annotation.undo import AddPoint, MovePoint, RelabelPoints
    from crowdgui.canvas.points_layer import PointsLayer

    QApplication.instance() or QApplication([])
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 4000, size=(count, 2))
    for classes in (["object"], ["live", "dead"]):
        view_box = pg.ViewBox()
        layer = PointsLayer(view_box)
        model = PointsModel()
        labels = None if len(classes) == 1 else [classes[i % 2] for i in range(count)]
        model.reset("a.png", points, labels)
        layer.bind(model)
        if len(classes) > 1:
            layer.set_classes(classes, [QColor("#34c759"), QColor("#ff3b30")])
        stack = QUndoStack()
        label = None if len(classes) == 1 else "dead"
        add = _median_ms(lambda: stack.push(AddPoint(model, 10, 10, label, classes[0])))
        move = _median_ms(lambda: stack.push(MovePoint(model, 5, rng.uniform(0, 4000), 7)))
        relabel = (_median_ms(lambda: stack.push(RelabelPoints(model, [1, 2, 3], "live", "live")))
                   if len(classes) > 1 else float("nan"))
        print(f"{count:,} points, {len(classes)} class(es): add {add:.2f} ms, move {move:.2f} ms, "
              f"relabel 3 {relabel:.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
