"""The run history of a dataset: every training run, read back from its folder.

Runs started from the window live in ``<dataset>/crowdgui_runs/<YYYYmmdd-HHMMSS>-<model>/`` (subfolders of a
dataset are never scanned as images). ``python -m engine train --out`` accepts any folder; this module only
reads what ``engine/training/fit.py`` writes there:

    config.json     the resolved configuration (model, budget, ...), written when a session starts
    metrics.jsonl   every event of every session, appended: start, progress, epoch, warning, error, done
    best.pt         the checkpoint with the lowest validation MAE
    last.pt         the latest checkpoint, with the training state ``--resume`` needs

A run's status comes from the last session in metrics.jsonl: its ``done`` event ("stop requested" -> stopped,
otherwise finished) or its ``error`` event (failed). A session with neither is still running — unless nothing
was written for ``STALE_AFTER_S``, which means the process died without a word (killed, or crashed hard).

Everything here is plain JSON; torch is imported only for a folder that has checkpoints but no metrics.jsonl
(a model copied in by hand), whose summary must come from the checkpoint itself.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

RUNS_FOLDER = "crowdgui_runs"
STAMP_FORMAT = "%Y%m%d-%H%M%S"
STATUSES = ("finished", "stopped", "failed", "running")
# The same names engine/training/fit.py writes (not imported from it: that would import torch).
CONFIG_FILE, METRICS_FILE, LAST_FILE, BEST_FILE = "config.json", "metrics.jsonl", "last.pt", "best.pt"
# A session that wrote nothing for this long and never reported its end has died. Progress is written at
# least once per training step and validation is per image, so a live run writes far more often.
STALE_AFTER_S = 15 * 60
# metrics.jsonl path -> ((inode, first bytes), bytes parsed, records): see read_metrics.
_READ_CACHE: dict[Path, tuple[tuple[int, bytes], int, list[dict]]] = {}
_HEAD_BYTES = 64
_PROGRESS_PREFIX = b'{"type": "progress"'  # how engine.events.JsonlSink starts a progress line


@dataclass
class RunInfo:
    """What the history table shows about one run."""

    folder: Path
    model: str
    started: _dt.datetime | None
    status: str  # one of STATUSES
    train_images: int | None = None
    val_images: int | None = None
    epochs_done: int = 0
    epochs_planned: int | None = None
    minutes_planned: float | None = None
    best_mae: float | None = None
    best_rmse: float | None = None
    best_checkpoint: Path | None = None
    last_checkpoint: Path | None = None
    device: str = ""
    message: str = ""  # why a run failed or stopped, in the engine's words

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def can_resume(self) -> bool:
        """A stopped or failed run that left a resumable checkpoint behind."""
        return self.status in ("stopped", "failed") and self.last_checkpoint is not None

    @property
    def label(self) -> str:
        """One line naming the run: 'fcrn_a · 2024-05-01 14:03 · stopped at epoch 3'."""
        when = self.started.strftime("%Y-%m-%d %H:%M") if self.started else self.name
        state = self.status if not self.epochs_done else f"{self.status} at epoch {self.epochs_done}"
        return f"{self.model} · {when} · {state}"


def runs_folder(dataset_folder: Path | str) -> Path:
    return Path(dataset_folder) / RUNS_FOLDER


def new_run_dir(dataset_folder: Path | str, model: str, now: _dt.datetime | None = None) -> Path:
    """Create and return a fresh, empty run folder ``crowdgui_runs/<stamp>-<model>`` (suffixed if taken)."""
    stamp = (now or _dt.datetime.now()).strftime(STAMP_FORMAT)
    parent = runs_folder(dataset_folder)
    parent.mkdir(parents=True, exist_ok=True)
    safe_model = "".join(c if c.isalnum() or c in "-_" else "_" for c in model) or "model"
    for attempt in range(1, 1000):
        folder = parent / (f"{stamp}-{safe_model}" if attempt == 1 else f"{stamp}-{safe_model}-{attempt}")
        try:
            folder.mkdir()  # atomic claim: two windows starting in the same second get different folders
            return folder
        except FileExistsError:
            continue
    raise OSError(f"could not create a new run folder in {parent}")


def list_runs(dataset_folder: Path | str) -> list[RunInfo]:
    """Every run of the dataset, newest first. Folders that are not runs are skipped."""
    parent = runs_folder(dataset_folder)
    if not parent.is_dir():
        return []
    runs = [read_run(folder) for folder in parent.iterdir() if folder.is_dir()]
    runs = [run for run in runs if run is not None]
    epoch = _dt.datetime.min
    return sorted(runs, key=lambda run: (run.started or epoch, run.name), reverse=True)


def read_metrics(folder: Path | str) -> list[dict]:
    """The records of a run's metrics.jsonl except ``progress`` ones, oldest first.

    Progress records are most of a long run's log (about one a second) and nothing reading the history needs
    them, so they are skipped before parsing. The log is append-only, so what was read is kept per file and
    only the bytes added since are parsed: the GUI can re-read a running run after every epoch for free. Only
    complete lines count; a torn last line (a crash mid-write) is never taken for a record.
    """
    path = Path(folder) / METRICS_FILE
    try:
        stat = path.stat()
    except OSError:
        _READ_CACHE.pop(path, None)
        return []
    key, offset, records = _READ_CACHE.get(path, (None, 0, []))
    try:
        with open(path, "rb") as file:
            # The first line carries a time stamp: with the inode it tells an appended log from a new one.
            file_key = (stat.st_ino, file.read(_HEAD_BYTES))
            if key != file_key or offset > stat.st_size:
                offset, records = 0, []
            file.seek(offset)
            data = file.read(max(stat.st_size - offset, 0))
    except OSError:
        return list(records)
    complete = data.rfind(b"\n") + 1
    records = records + _parse_lines(data[:complete])
    _READ_CACHE[path] = (file_key, offset + complete, records)
    return list(records)


def _parse_lines(data: bytes) -> list[dict]:
    records = []
    for line in data.splitlines():
        if line.startswith(_PROGRESS_PREFIX):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("type") != "progress":
            records.append(record)
    return records


def read_config(folder: Path | str) -> dict:
    """A run's config.json, or {} when it is missing or unreadable."""
    try:
        data = json.loads((Path(folder) / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_run(folder: Path | str, now: float | None = None) -> RunInfo | None:
    """Summarise one run folder; None for a folder that holds nothing of a run."""
    folder = Path(folder)
    config = read_config(folder)
    records = read_metrics(folder)
    best, last = folder / BEST_FILE, folder / LAST_FILE
    if not records:
        if best.exists() or last.exists():
            return _from_checkpoint(folder, config)
        if not config:
            return None
    starts = [record for record in records if record.get("type") == "start"]
    first_start = starts[0] if starts else {}
    last_start = starts[-1] if starts else {}
    epochs = [r for r in records if r.get("type") == "epoch" and r.get("epoch") is not None]
    scored = [r for r in epochs if _finite(r.get("val_mae"))]
    best_record = min(scored, key=lambda r: r["val_mae"]) if scored else None
    status, message = _status(records, folder, now)
    return RunInfo(
        folder=folder,
        model=str(config.get("model") or last_start.get("model") or _model_from_name(folder.name)),
        started=_started(first_start, folder),
        status=status,
        train_images=_int(last_start.get("train_images")),
        val_images=_int(last_start.get("val_images")),
        epochs_done=max((int(r["epoch"]) for r in epochs if not r.get("partial")), default=0),
        epochs_planned=_int(config.get("epochs", last_start.get("epochs"))),
        minutes_planned=_float(config.get("minutes", last_start.get("minutes"))),
        best_mae=float(best_record["val_mae"]) if best_record else None,
        best_rmse=_float(best_record.get("val_rmse")) if best_record else None,
        best_checkpoint=best if best.exists() else None,
        last_checkpoint=last if last.exists() else None,
        device=str(last_start.get("device") or config.get("device") or ""),
        message=message,
    )


def _status(records: list[dict], folder: Path, now: float | None) -> tuple[str, str]:
    """(status, message) from the last session's final event, or from how recently the run wrote anything."""
    session_begins = max((i for i, r in enumerate(records) if r.get("type") == "start"), default=0)
    for record in reversed(records[session_begins:]):
        kind = record.get("type")
        if kind == "done":
            if record.get("stopped") == "stop requested":
                return "stopped", "stopped on request; resume continues from the last checkpoint"
            return "finished", ("time budget used up" if record.get("stopped") == "time budget" else "")
        if kind == "error":
            return "failed", str(record.get("message", ""))
    written = [p.stat().st_mtime for p in (folder / METRICS_FILE, folder / LAST_FILE) if p.exists()]
    idle = (time.time() if now is None else now) - max(written, default=0.0)
    if idle < STALE_AFTER_S:
        return "running", ""
    return "failed", "the training process ended without a final report (it was killed or crashed)"


def _from_checkpoint(folder: Path, config: dict) -> RunInfo | None:
    """A run folder with checkpoints but no log: the best checkpoint's own summary (imports torch)."""
    from engine.models.checkpoint import CheckpointError, load_checkpoint

    best, last = folder / BEST_FILE, folder / LAST_FILE
    try:
        record = load_checkpoint(best if best.exists() else last)
    except CheckpointError:
        return None
    summary, metrics = record.get("train_summary") or {}, record.get("metrics") or {}
    mae = _float(metrics.get("val_mae"))
    return RunInfo(
        folder=folder, model=str(record.get("arch") or config.get("model") or _model_from_name(folder.name)),
        started=_started({}, folder) or _parse_time(record.get("saved_at")), status="finished",
        train_images=_int(summary.get("train_images")), val_images=_int(summary.get("val_images")),
        epochs_done=_int(summary.get("epochs")) or 0, epochs_planned=_int(config.get("epochs")),
        minutes_planned=_float(config.get("minutes")), best_mae=mae, best_rmse=_float(metrics.get("val_rmse")),
        best_checkpoint=best if best.exists() else None, last_checkpoint=last if last.exists() else None,
        device=str(summary.get("device") or ""),
        message="summary read from the checkpoint (the run folder has no metrics.jsonl)",
    )


def _started(start_event: dict, folder: Path) -> _dt.datetime | None:
    if _finite(start_event.get("time")):
        return _dt.datetime.fromtimestamp(float(start_event["time"]))
    try:
        return _dt.datetime.strptime(folder.name[:15], STAMP_FORMAT)
    except ValueError:
        return None


def _parse_time(value) -> _dt.datetime | None:
    try:
        return _dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _model_from_name(name: str) -> str:
    """``20240501-140312-fcrn_a`` (or ``...-fcrn_a-2``) -> ``fcrn_a``."""
    parts = name.split("-")
    if len(parts) >= 3 and parts[0].isdigit() and parts[1].isdigit():
        return parts[2]
    return "?"


def _int(value) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _float(value) -> float | None:
    return float(value) if _finite(value) else None


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
