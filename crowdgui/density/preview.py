"""The live density preview: recompute the current image's density map as its points or the settings change.

Requests are debounced (a burst of clicks or spin-box ticks makes one map) and computed on a worker thread.
Measured on the 2-core development machine for a 1024x768 image (``engine.density.density_map``, best of 3):
1k points take 7 ms (sigma 4) to 24 ms (sigma 15), 10k points 40 ms (sigma 4) to 220 ms (sigma 15) - longer
than a 16 ms frame, so computing on the GUI thread would make dragging and zooming stutter. The thread hop
costs well under a millisecond, so every map is computed off the GUI thread, small ones too: one code path.

Every job gets the next number of a generation counter. A job still queued when a newer one is submitted is
skipped; a result is shown only if it is newer than the last one shown and newer than the last :meth:`clear`
(called when the image changes), so a map of a previous image, or one overtaken by a newer map, never reaches
the canvas. A result that is one edit behind (the user clicked again while it was computed) IS shown: with 10k
points a map takes ~100 ms, and a user clicking every 150 ms would otherwise see the overlay frozen until they
stopped; the map of the newest edit follows one computation later.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from crowdgui.background import BackgroundWorker
from engine.dataset.regions import known_area
from engine.density import DensitySettings, density_map

DEBOUNCE_MS = 100

# Maps larger than this are computed at an output stride (sum-pooled, so the integral is unchanged): a
# 6000x4000 photo at full resolution would cost 100 MB of float32 and gain nothing on screen.
MAX_PREVIEW_PIXELS = 2_000_000

# The colour scale tops out at this percentile of the non-empty pixels, so a few very dense peaks (common in
# adaptive mode, where the smallest kernels are the tallest) do not wash the rest of the map out.
ROBUST_PERCENTILE = 99.9

# At most this many non-empty pixels are looked at for the percentile (an evenly spaced sample): the exact
# value does not matter for a colour scale, and a full partition of millions of pixels would cost more than
# the map itself.
PERCENTILE_SAMPLE = 200_000


@dataclass(frozen=True)
class PreviewRequest:
    """Everything one preview map is made from; a copy, so later edits cannot change it mid-computation."""

    points: np.ndarray
    shape: tuple[int, int]  # (height, width) of the image
    settings: DensitySettings
    regions: tuple = ()  # the image's regions (engine.dataset.regions.Region): ignore regions hold no density


@dataclass(frozen=True)
class PreviewResult:
    """One computed preview map and what the panel shows about it."""

    generation: int
    density: np.ndarray  # float32 (ceil(H / stride), ceil(W / stride))
    stride: int
    levels: tuple[float, float]  # colour scale: 0 .. robust maximum
    integral: float  # sum of the map (the number of points inside the image, less what ignore regions hold)
    count: int  # number of points asked for (inside the image or not)
    seconds: float  # time spent computing
    ignored: float = 0.0  # density inside ignore regions, set to zero (never trained on, never counted)


def preview_stride(shape: tuple[int, int], max_pixels: int = MAX_PREVIEW_PIXELS) -> int:
    """The smallest output stride that keeps the map at or under ``max_pixels`` pixels."""
    height, width = shape
    stride = 1
    while -(-height // stride) * -(-width // stride) > max_pixels:
        stride += 1
    return stride


def robust_max(density: np.ndarray, percentile: float = ROBUST_PERCENTILE) -> float:
    """The top of the colour scale: a high percentile of the pixels that hold any density.

    Only non-empty pixels count; otherwise a few points on a large image (most pixels exactly zero) would put
    every percentile at zero. Falls back to the true maximum when the percentile is zero, and to 1.0 for an
    empty map so that the levels are always a valid range.
    """
    values = density[density > 0]
    if values.size == 0:
        return 1.0
    if values.size > PERCENTILE_SAMPLE:
        values = values[:: values.size // PERCENTILE_SAMPLE]
    top = float(np.percentile(values, percentile))
    return top if top > 0 else float(values.max())


def compute_preview(request: PreviewRequest, generation: int = 0) -> PreviewResult:
    """Make the preview map for ``request`` (pure numpy; runs on the worker thread)."""
    started = time.perf_counter()
    stride = preview_stride(request.shape)
    density = density_map(request.points, request.shape, request.settings, stride=stride)
    height, width = request.shape
    # The one place that turns regions into masks (engine.dataset.regions), at the preview's stride.
    ignore = known_area(len(request.points), request.regions, width, height, stride).ignore
    ignored = 0.0
    if ignore is not None:
        ignored = float(density[ignore].sum(dtype=np.float64))
        density[ignore] = 0.0
    integral = float(density.sum(dtype=np.float64))
    levels = (0.0, robust_max(density))
    return PreviewResult(generation=generation, density=density, stride=stride, levels=levels,
                         integral=integral, count=len(request.points), ignored=ignored,
                         seconds=time.perf_counter() - started)


class DensityPreview(QObject):
    """Debounced, threaded density-map computation with stale results dropped.

    Call :meth:`request` whenever the points or settings change (cheap: it copies the points and restarts the
    debounce timer) and :meth:`clear` when the image changes or there is nothing to show. Signals:

        map_ready(PreviewResult)   a map newer than any shown before and than the last clear()
        failed(str)                such a request could not be computed (plain-words reason)
    """

    map_ready = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None, debounce_ms: int = DEBOUNCE_MS, compute=compute_preview):
        super().__init__(parent)
        self.compute = compute  # replaceable in tests, to hold a computation back
        self._generation = 0  # number of the newest job submitted (or of the last clear)
        self._floor = 0  # results numbered at or below this are stale: shown already, or from before a clear
        self._pending: PreviewRequest | None = None
        self._lock = threading.Lock()
        # One worker thread: maps are computed one after another, and a queued stale job is skipped, so a burst
        # of requests never piles up work.
        self._worker = BackgroundWorker(self)
        self._worker.finished.connect(self._on_done)
        self._timer = QTimer(self, singleShot=True, interval=debounce_ms)
        self._timer.timeout.connect(self.flush)

    @property
    def generation(self) -> int:
        """The number of the newest job submitted (or of the last clear)."""
        with self._lock:
            return self._generation

    def request(self, points, shape: tuple[int, int], settings: DensitySettings, regions=()) -> None:
        """Ask for the map of ``points`` on an image of ``shape`` = (H, W), zero inside the ignore ``regions``;
        computed after the debounce."""
        points = np.array(points, dtype=np.float64, copy=True).reshape(-1, 2)
        self._pending = PreviewRequest(points, (int(shape[0]), int(shape[1])), replace(settings), tuple(regions))
        self._timer.start()

    def clear(self) -> None:
        """Drop pending work and make every job submitted so far stale (another image, or nothing to show)."""
        self._timer.stop()
        self._pending = None
        self._floor = self._next_generation()

    @Slot()
    def flush(self) -> None:
        """Start the pending request now instead of waiting for the debounce."""
        self._timer.stop()
        if self._pending is None:
            return
        request, self._pending = self._pending, None
        generation = self._next_generation()
        self._worker.submit(lambda: self._compute_unless_stale(request, generation), generation)

    def warm_up(self) -> None:
        """Make one tiny map on the worker so that the first real map does not also pay for importing
        scipy's sparse, spatial and special modules (about half a second, measured)."""
        request = PreviewRequest(np.array([[1.0, 1.0], [2.0, 2.0]]), (4, 4), DensitySettings(mode="adaptive"))
        self._worker.submit(lambda: compute_preview(request), None)  # no generation: never shown

    def wait(self, msecs: int = -1) -> bool:
        """Block until the worker is idle (for tests and shutdown); True when it is."""
        return self._worker.wait(msecs)

    def _compute_unless_stale(self, request: PreviewRequest, generation: int) -> PreviewResult | None:
        """On the worker thread. A job queued behind a slow one is worthless once a newer job (or a clear)
        exists: its work is skipped (None)."""
        if generation < self.generation:
            return None
        return self.compute(request, generation)

    def _next_generation(self) -> int:
        with self._lock:
            self._generation += 1
            return self._generation

    @Slot(object, object)
    def _on_done(self, generation: int | None, outcome) -> None:
        if generation is None or outcome is None or generation <= self._floor:
            return  # the warm-up, a skipped job, or stale: from before a clear, or older than a map shown
        self._floor = generation
        if isinstance(outcome, Exception):
            self.failed.emit(f"Density preview failed: {outcome}")
        else:
            self.map_ready.emit(outcome)
