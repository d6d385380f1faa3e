"""Progress reporting shared by every command: JSON lines for the GUI, a progress bar for a person.

Every long command reports through an :class:`EventSink`. With ``--events jsonl`` each event is one JSON
object on its own line of stdout (the GUI's ``crowdgui/jobs.py`` reads exactly this); on a terminal the same
events drive a tqdm progress bar and short messages on stderr.

Event types used across the engine (every event has ``type``; other fields depend on it):

- ``start``     {command, total, ...}            a command began; ``total`` is the number of steps/images
- ``progress``  {done, total, eta_s, ...}        a step finished (training adds epoch, step, loss)
- ``epoch``     {epoch, loss, val_mae, val_rmse, checkpoint}; with 2+ classes val_mae_per_class {name: mae}
- ``result``    {image, count, ...}              one image counted / imported
- ``warning``   {message, path?}                 something was skipped and the run goes on
- ``error``     {message, path?}                 the command failed (it exits non-zero after this)
- ``done``      {...summary}                     the command finished
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any, TextIO

import numpy as np


def _plain(value: Any) -> Any:
    """Make numpy scalars, paths and non-finite floats JSON-safe."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


class EventSink:
    """Base sink: subclasses decide how an event is shown."""

    def emit(self, type: str, **fields: Any) -> None:  # noqa: A002 - "type" is the event's wire name
        raise NotImplementedError

    def close(self) -> None:
        pass

    # Conveniences so call sites read naturally.
    def warning(self, message: str, **fields: Any) -> None:
        self.emit("warning", message=message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        self.emit("error", message=message, **fields)


class JsonlSink(EventSink):
    """One JSON object per line, flushed immediately so a reader sees it at once."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def emit(self, type: str, **fields: Any) -> None:  # noqa: A002
        record = {"type": type, "time": round(time.time(), 3), **_plain(fields)}
        self.stream.write(json.dumps(record) + "\n")
        self.stream.flush()


class TerminalSink(EventSink):
    """A tqdm bar for ``start``/``progress`` events and one line on stderr for everything else."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self._bar = None

    def emit(self, type: str, **fields: Any) -> None:  # noqa: A002
        from tqdm import tqdm

        if type == "start":
            self._close_bar()
            if not self.quiet and fields.get("total"):
                self._bar = tqdm(total=int(fields["total"]), desc=str(fields.get("command", "")),
                                 file=self.stream, dynamic_ncols=True)
            return
        if type == "progress":
            if self._bar is not None:
                done = int(fields.get("done", self._bar.n + 1))
                self._bar.update(max(0, done - self._bar.n))
                shown = {k: fields[k] for k in ("epoch", "loss", "val_mae") if fields.get(k) is not None}
                if shown:
                    self._bar.set_postfix({k: _short(v) for k, v in shown.items()}, refresh=False)
            return
        text = _describe(type, fields)
        if text and (not self.quiet or type in ("error", "warning")):
            if self._bar is not None:
                self._bar.write(text, file=self.stream)
            else:
                print(text, file=self.stream, flush=True)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def close(self) -> None:
        self._close_bar()


class ListSink(EventSink):
    """Collects events in memory (tests, and callers that drive the engine from Python)."""

    def __init__(self):
        self.events: list[dict] = []

    def emit(self, type: str, **fields: Any) -> None:  # noqa: A002
        self.events.append({"type": type, **_plain(fields)})

    def of_type(self, type: str) -> list[dict]:  # noqa: A002
        return [event for event in self.events if event["type"] == type]


def _short(value: Any) -> Any:
    return f"{value:.4g}" if isinstance(value, float) else value


def _describe(type: str, fields: dict) -> str:  # noqa: A002
    if type in ("error", "warning"):
        return f"{type}: {fields.get('message', '')}"
    if type == "epoch":
        parts = [f"epoch {fields.get('epoch')}"]
        for key in ("loss", "val_mae", "val_rmse"):
            if fields.get(key) is not None:
                parts.append(f"{key} {_short(fields[key])}")
        for name, mae in (fields.get("val_mae_per_class") or {}).items():  # 2+ classes
            parts.append(f"val_mae[{name}] {_short(mae)}")
        return "  ".join(parts)
    if type == "done":
        summary = ", ".join(f"{k} {_short(v)}" for k, v in fields.items() if not isinstance(v, (dict, list)))
        return f"done: {summary}" if summary else "done"
    if type == "result":
        return ""  # per-image results go to the output file; the bar shows progress
    return ""


def make_sink(mode: str | None) -> EventSink:
    """``"jsonl"`` -> JsonlSink on stdout; anything else -> TerminalSink on stderr."""
    return JsonlSink() if mode == "jsonl" else TerminalSink()
