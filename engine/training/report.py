"""How a training run tells what it is doing: the run folder's metrics.jsonl and throttled progress events.

Every event goes both to the caller's sink (the GUI's JSON lines, or a progress bar) and to ``metrics.jsonl``
in the run folder, so a window opened later can draw the run's history. Progress events are sent at most once
per ``interval_s`` (a fast GPU makes dozens of steps a second), each carrying the mean loss since the last
one.
"""

from __future__ import annotations

import time
from pathlib import Path

from engine.events import EventSink, JsonlSink

METRICS_FILE = "metrics.jsonl"


class RunLog(EventSink):
    """Forwards events to the caller's sink and appends each to the run folder's metrics.jsonl."""

    def __init__(self, folder: Path, sink: EventSink):
        self.sink = sink
        self._file = open(Path(folder) / METRICS_FILE, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._lines = JsonlSink(self._file)

    def emit(self, type: str, **fields) -> None:
        self._record(type, fields)
        self.sink.emit(type, **fields)

    def record_only(self, type: str, **fields) -> None:
        """Write to metrics.jsonl without telling the caller's sink (which will hear of it otherwise)."""
        self._record(type, fields)

    def _record(self, type: str, fields: dict) -> None:
        # The history is a convenience: a full disk must not hide the run's own events and messages.
        if self._file is None:
            return
        try:
            self._lines.emit(type, **fields)
        except OSError as exc:
            self._drop_file()
            self.sink.warning(f"cannot write the run's history ({METRICS_FILE}): {exc.strerror or exc}; "
                              "its events from here on are not in it")

    def _drop_file(self) -> None:
        handle, self._file = self._file, None
        try:
            handle.close()
        except OSError:
            pass

    def close(self) -> None:
        if self._file is not None:
            self._drop_file()


class ProgressMeter:
    """Collects per-step losses and sends one ``progress`` event per interval with their mean and images/s."""

    def __init__(self, sink: EventSink, interval_s: float = 1.0):
        self.sink, self.interval_s = sink, float(interval_s)
        self._reset(time.monotonic())

    def _reset(self, now: float) -> None:
        self._loss, self._steps, self._images, self._since = 0.0, 0, 0, now
        self._rank_loss, self._rank_steps = 0.0, 0

    def add(self, loss: float, images: int, force: bool = False, rank_loss: float | None = None,
            **fields) -> bool:
        """Count one step; emit when the interval has passed or ``force``. Returns whether it emitted.

        ``rank_loss`` (learning from unlabeled images) is averaged the same way and sent as ``rank_loss``.
        """
        self._loss, self._steps, self._images = self._loss + loss, self._steps + 1, self._images + images
        if rank_loss is not None:
            self._rank_loss, self._rank_steps = self._rank_loss + rank_loss, self._rank_steps + 1
        now = time.monotonic()
        if not force and now - self._since < self.interval_s:
            return False
        if self._rank_steps:
            fields["rank_loss"] = self._rank_loss / self._rank_steps
        self.sink.emit("progress", loss=self._loss / self._steps,
                       images_per_s=round(self._images / max(now - self._since, 1e-6), 2), **fields)
        self._reset(now)
        return True


def eta_seconds(*, steps_left: int | None, seconds_per_step: float, validations_left: int,
                seconds_per_validation: float, budget_left: float | None) -> float | None:
    """Seconds until the run ends: the remaining steps and validations, capped by the time budget left."""
    eta = None
    if steps_left is not None:
        eta = max(steps_left, 0) * seconds_per_step + max(validations_left, 0) * seconds_per_validation
    if budget_left is not None:
        eta = budget_left if eta is None else min(eta, budget_left)
    return None if eta is None else round(max(eta, 0.0), 1)
