"""Small pictures of counted images, made in worker threads so big photos never stall the window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QPixmap

from crowdgui.background import BackgroundWorker
from engine.dataset import read_thumbnail


def thumbnail_image(path: Path | str, size: int) -> QImage:
    """A QImage of at most size x size pixels (QImage, not QPixmap: it may be made off the GUI thread)."""
    pixels = read_thumbnail(path, size)  # the engine's rules: 16-bit scaled to its range, EXIF turned
    height, width = pixels.shape[:2]
    qimage = QImage(pixels.data, width, height, width * 3, QImage.Format.Format_RGB888)
    return qimage.copy()  # own the pixels: ``pixels`` goes away with this function


class ThumbnailLoader(QObject):
    """Makes thumbnails in a thread pool; ``ready(path, QPixmap)`` arrives on the GUI thread."""

    ready = Signal(str, QPixmap)

    def __init__(self, size: int = 40, parent: QObject | None = None):
        super().__init__(parent)
        self.size = size
        self._worker = BackgroundWorker(self)  # one thread is plenty for thumbnails; the count job needs the rest
        self._worker.finished.connect(self._deliver)

    def request(self, path: Path | str) -> None:
        size = self.size
        self._worker.submit(lambda: thumbnail_image(path, size), str(path))

    def clear(self) -> None:
        """Drop thumbnails not yet started (a new count began)."""
        self._worker.clear()

    def wait(self, msecs: int = 5000) -> bool:
        return self._worker.wait(msecs)

    def _deliver(self, path: str, image) -> None:
        if isinstance(image, QImage):  # an unreadable file simply gets no thumbnail; its count is unaffected
            self.ready.emit(path, QPixmap.fromImage(image))
