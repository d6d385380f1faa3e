"""Fixtures and mouse helpers for the annotation window tests.

Every window gets a QSettings file in tmp_path (never the user's settings) and a short autosave delay. Mouse
gestures are sent to the canvas viewport as real Qt events, so they go through pyqtgraph's scene, the view
box's click/drag handling, the undo stack and the points model exactly as a user's would.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from engine.dataset.synthetic import write_synthetic_dataset

AUTOSAVE_MS = 50
MOVE_INTERVAL_MS = 15


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, settings):
    """make_window(folder=None, build=MainWindow) -> a shown window (folder opened when given)."""
    from crowdgui.main_window import MainWindow

    def make(folder=None, build=MainWindow):
        window = build(settings, autosave_ms=AUTOSAVE_MS)
        qtbot.addWidget(window)
        window.resize(1000, 700)
        window.show()
        qtbot.waitExposed(window)
        if folder is not None:
            assert window.open_folder(folder)
        QApplication.processEvents()
        return window

    return make


@pytest.fixture
def blank_folder(tmp_path):
    """Three 200x150 images without any points file."""
    return write_synthetic_dataset(tmp_path / "blank", images=3, size=(150, 200), counts=(5, 10), seed=3,
                                   annotate=False)


def widget_pos(canvas, x: float, y: float) -> QPoint:
    """The viewport pixel showing image point (x, y): image -> scene (view box) -> viewport (view)."""
    QApplication.processEvents()  # let pyqtgraph apply a pending range change to its transforms
    scene = canvas.view_box.mapViewToScene(QPointF(x, y))
    return canvas.mapFromScene(scene)


def image_pos(canvas, pos: QPoint) -> tuple[float, float]:
    """The image point under viewport pixel ``pos`` (the inverse of widget_pos)."""
    view = canvas.view_box.mapSceneToView(canvas.mapToScene(pos))
    return view.x(), view.y()


def _send(widget, kind, pos: QPoint, button, buttons, modifiers) -> None:
    if kind == QEvent.Type.MouseMove:
        # pyqtgraph's scene drops move events closer than its rate limit (10 ms) to the previous one.
        QTest.qWait(MOVE_INTERVAL_MS)
    local = QPointF(pos)
    event = QMouseEvent(kind, local, QPointF(widget.mapToGlobal(pos)), button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


def click(canvas, pos: QPoint, button=Qt.MouseButton.LeftButton,
          modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    viewport = canvas.viewport()
    _send(viewport, QEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, modifiers)
    _send(viewport, QEvent.Type.MouseButtonPress, pos, button, button, modifiers)
    _send(viewport, QEvent.Type.MouseButtonRelease, pos, button, Qt.MouseButton.NoButton, modifiers)
    QApplication.processEvents()


def drag(canvas, start: QPoint, end: QPoint, button=Qt.MouseButton.LeftButton,
         modifiers=Qt.KeyboardModifier.NoModifier, steps: int = 8) -> None:
    """Press at ``start``, move in ``steps`` (each further than the drag threshold), release at ``end``."""
    viewport = canvas.viewport()
    _send(viewport, QEvent.Type.MouseMove, start, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, modifiers)
    _send(viewport, QEvent.Type.MouseButtonPress, start, button, button, modifiers)
    for t in np.linspace(0, 1, steps + 1)[1:]:
        pos = QPoint(round(start.x() + (end.x() - start.x()) * t), round(start.y() + (end.y() - start.y()) * t))
        _send(viewport, QEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton, button, modifiers)
    _send(viewport, QEvent.Type.MouseButtonRelease, end, button, Qt.MouseButton.NoButton, modifiers)
    QApplication.processEvents()
