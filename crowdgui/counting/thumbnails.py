"""Small pictures of counted images, made in worker threads so big photos never stall the window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from engine.dataset import read_thumbnail


def thumbnail_image(path: Path | str, size: int) -> QImage:
    """A QImage of at most size x size pixels (QImage, not QPixmap: it may be made off the GUI thread)."""
    pixels = read_thumbnail(path, size)  # the engine's rules: 16-bit scaled to its range, EXIF turned
    height, width = pixels.shape[:2]
    qimage = QImage(pixels.data, width, height, width * 3, QImage.Format.Format_RGB888)
    return qimage.copy()  # own the pixels: ``pixels`` goes away with this function


class _Signals(QObject):
    ready = Signal(str, QImage)


class _ThumbnailTask(QRunnable):
    def __init__(self, path: str, size: int, signals: _Signals):
        super().__init__()
        self.path, self.size, self.signals = path, size, signals

    def run(self) -> None:
        try:
            image = thumbnail_image(self.path, self.size)
        except Exception:  # an unreadable file simply gets no thumbnail; the count itself is unaffected
            return
        self.signals.ready.emit(self.path, image)


class ThumbnailLoader(QObject):
    """Makes thumbnails in a thread pool; ``ready(path, QPixmap)`` arrives on the GUI thread."""

    ready = Signal(str, QPixmap)

    def __init__(self, size: int = 40, parent: QObject | None = None):
        super().__init__(parent)
        self.size = size
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # one core is plenty for thumbnails; the count job needs the rest
        self._signals = _Signals(self)
        self._signals.ready.connect(self._deliver)

    def request(self, path: Path | str) -> None:
        self._pool.start(_ThumbnailTask(str(path), self.size, self._signals))

    def clear(self) -> None:
        """Drop thumbnails not yet started (a new count began)."""
        self._pool.clear()

    def wait(self, msecs: int = 5000) -> bool:
        return self._pool.waitForDone(msecs)

    def _deliver(self, path: str, image: QImage) -> None:
        self.ready.emit(path, QPixmap.fromImage(image))
