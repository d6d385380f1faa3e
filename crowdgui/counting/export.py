"""Exports of a batch count, run in a worker thread: counts CSV, density-map bundle (HDF5), overlay PNGs.

The file formats are made by ``engine.counting.overlays`` (no Qt); this module only moves that work off the GUI
thread and reports progress, so saving overlays of a thousand photos never freezes the window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from crowdgui.background import BackgroundWorker
from crowdgui.counting.results_model import CountRow
from crowdgui.density.preview import robust_max
from engine.counting.outputs import counts_csv_bytes as engine_counts_csv_bytes
from engine.counting.overlays import (
    CountedImage,
    load_density,
    overlay_file_name,
    render_overlay,
    save_png,
    write_density_bundle,
)
from engine.dataset.images import read_image
from engine.dataset.sidecar import atomic_write_bytes


@dataclass
class OverlayStyle:
    """How overlay pictures look: the viewer's colormap table, opacity and whether to draw points."""

    lut: np.ndarray | None = None
    opacity: float = 0.6
    points: bool = False


def counted(rows: list[CountRow]) -> list[CountedImage]:
    return [CountedImage(row.image, row.path, row.count, row.density_path, row.annotated_count)
            for row in rows]


def counts_csv_bytes(rows: list[CountRow]) -> bytes:
    """The rows as CSV, for a run that ended before the engine wrote its own ``counts.csv`` (cancelled)."""
    return engine_counts_csv_bytes([row.record() for row in rows])


def save_counts_csv(target: Path, rows: list[CountRow], engine_csv: Path | None) -> str:
    """Save As: a copy of the engine's CSV when it is complete, else the rows counted so far."""
    if engine_csv is not None and engine_csv.is_file():
        atomic_write_bytes(target, engine_csv.read_bytes())
        return f"Saved the counts of {len(rows)} images to {target.name}"
    atomic_write_bytes(target, counts_csv_bytes(rows))
    return f"Saved the counts of the {len(rows)} images counted so far to {target.name}"


def save_overlays(rows: list[CountRow], folder: Path, style: OverlayStyle,
                  progress: Callable[[int, int], None]) -> str:
    """One PNG per row: the image, its heatmap blended over it and the count in a corner."""
    from engine.counting.blob_split import locate_objects

    folder.mkdir(parents=True, exist_ok=True)
    done, skipped = 0, []
    for index, row in enumerate(rows):
        if row.density_path is None or not row.density_path.is_file():
            skipped.append(row.image)
            continue
        density = load_density(row.density_path)
        image = read_image(row.path)
        cell = row.map_stride()
        size = (image.shape[1], image.shape[0])
        points = locate_objects(density, cell, image_size=size) if style.points else None
        # The same colour scale as the viewer: 0 .. a robust maximum, in objects per image pixel.
        levels = (0.0, robust_max(density) / cell**2)
        picture = render_overlay(image, density, row.count, stride=cell, lut=style.lut, opacity=style.opacity,
                                 levels=levels, points=points, annotated_count=row.annotated_count)
        save_png(picture, folder / overlay_file_name(row.image))
        done += 1
        progress(index + 1, len(rows))
    message = f"Saved {done} overlay image{'s' if done != 1 else ''} in {folder}"
    if skipped:
        listed = ", ".join(skipped[:3]) + ("…" if len(skipped) > 3 else "")
        message += f" ({len(skipped)} without a density map skipped: {listed})"
    return message


def save_bundle(rows: list[CountRow], target: Path, stride: int, attributes: dict) -> str:
    written = write_density_bundle(target, counted(rows), stride=stride, attributes=attributes)
    return f"Saved {written} density map{'s' if written != 1 else ''} to {target.name}"


class ResultsExporter(QObject):
    """Runs one export at a time in a worker thread.

    Signals (on the GUI thread): ``progress(done, total)``, ``succeeded(message)``, ``failed(message)``.
    """

    progress = Signal(int, int)
    succeeded = Signal(str)
    failed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._worker = BackgroundWorker(self)
        self._worker.progressed.connect(lambda done_total: self.progress.emit(*done_total))
        self._worker.finished.connect(self._finish)
        self.busy = False

    def run(self, work: Callable[[Callable[[int, int], None]], str]) -> None:
        """Start ``work(progress) -> message`` in the worker thread."""
        self.busy = True
        report = self._worker.report
        self._worker.submit(lambda: work(lambda done, total: report((done, total))))

    def csv(self, target: Path, rows: list[CountRow], engine_csv: Path | None) -> None:
        self.run(lambda progress: save_counts_csv(target, list(rows), engine_csv))

    def bundle(self, target: Path, rows: list[CountRow], stride: int, attributes: dict) -> None:
        self.run(lambda progress: save_bundle(list(rows), target, stride, attributes))

    def overlays(self, folder: Path, rows: list[CountRow], style: OverlayStyle) -> None:
        self.run(lambda progress: save_overlays(list(rows), folder, style, progress))

    def wait(self, msecs: int = 30000) -> bool:
        return self._worker.wait(msecs)

    def _finish(self, _tag, outcome) -> None:
        self.busy = False
        if isinstance(outcome, Exception):  # shown to the user in plain words
            self.failed.emit(f"{type(outcome).__name__}: {outcome}")
        else:
            self.succeeded.emit(outcome)
