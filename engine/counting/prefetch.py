"""Decoding the next images in a background thread while the model counts the current ones.

One thread is enough: Pillow's decoders release the GIL, so decoding really runs beside the forward pass
(normalising is left to the device, see engine.counting.infer.network_input). The queue is bounded, so memory holds at most ``depth`` decoded images.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.dataset.images import ImageReadError, read_image

_END = object()


@dataclass
class DecodedImage:
    """One image read from disk; ``error`` (plain words) is set when it could not be read."""

    index: int
    path: Path
    image: np.ndarray | None = None  # (H, W, 3) uint8
    width: int = 0
    height: int = 0
    seconds: float = 0.0
    error: str | None = None


class Prefetcher:
    """Iterate over :class:`DecodedImage` in path order; decoding happens ahead in a daemon thread."""

    def __init__(self, paths: Iterable[Path | str], depth: int):
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(paths,), daemon=True,
                                        name="image-prefetch")
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, paths) -> None:
        try:
            for index, path in enumerate(paths):
                if not self._put(decode(index, Path(path))):
                    return
        finally:
            self._put(_END)

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is _END:
                return
            yield item

    def close(self) -> None:
        """Stop decoding ahead (safe to call at any time, also twice)."""
        self._stop.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=5)


def decode(index: int, path: Path) -> DecodedImage:
    """Read one image; never raises for a bad file, the error is in the result."""
    started = time.perf_counter()
    item = DecodedImage(index=index, path=path)
    try:
        image = read_image(path)
        item.height, item.width = image.shape[:2]
        item.image = image
    except ImageReadError as exc:
        item.error = exc.reason
    except MemoryError:
        item.error = "not enough memory to decode this image"
    except Exception as exc:  # noqa: BLE001 - a decoder bug on a strange file must not end the whole run
        item.error = f"cannot read: {type(exc).__name__}: {exc}"
    item.seconds = time.perf_counter() - started
    return item


def prefetch_images(paths: Iterable[Path | str], depth: int = 4) -> Prefetcher:
    """Start decoding ``paths`` ahead; iterate the returned object, call ``close()`` when done."""
    return Prefetcher(paths, depth)
