"""The training monitor: progress and ETA, live curves, the log's tail, Cancel and Resume.

A view only: the controller feeds it the engine's events (:meth:`TrainingMonitor.handle_event`) and log lines,
and listens to its ``*_requested`` signals. It never starts or stops anything itself.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from crowdgui.training.curves import TrainingCurves

LOG_LINES = 500  # the widget forgets older lines, so a week-long run cannot grow memory

_STATE_STYLE = {
    "idle": ("#6e7681", "Idle"),
    "starting": ("#4c9be8", "Starting"),
    "running": ("#4c9be8", "Training"),
    "stopping": ("#d29922", "Stopping…"),
    "succeeded": ("#3fb950", "Finished"),
    "cancelled": ("#d29922", "Stopped"),
    "failed": ("#f85149", "Failed"),
    "crashed": ("#f85149", "Crashed"),
}


def format_duration(seconds: float | None) -> str:
    """Plain words for a duration: '45 s', '3 min', '1 h 20 min'."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        rest = seconds % 60
        return f"{minutes} min {rest:02d} s" if minutes < 10 else f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{value:.{digits}g}" if math.isfinite(value) else "–"


class _Stat(QWidget):
    """A small caption over a large number."""

    def __init__(self, caption: str, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.caption = QLabel(caption)
        self.caption.setStyleSheet("color: palette(mid); font-size: 8pt;")
        self.value = QLabel("–")
        font = self.value.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.value.setFont(font)
        layout.addWidget(self.caption)
        layout.addWidget(self.value)

    def set(self, text: str) -> None:
        self.value.setText(text)


class TrainingMonitor(QWidget):
    """Everything about the run being watched, in one dock-sized widget."""

    cancel_requested = Signal()
    resume_requested = Signal()
    train_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("TrainingMonitor")
        self.title = QLabel("No training yet")
        title_font = self.title.font()
        title_font.setBold(True)
        self.title.setFont(title_font)
        self.title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.state_badge = QLabel()
        self.state_badge.setAlignment(Qt.AlignCenter)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("")

        self.stat_epoch = _Stat("Epoch")
        self.stat_loss = _Stat("Loss")
        self.stat_mae = _Stat("Val. MAE (best)")
        self.stat_rmse = _Stat("Val. RMSE")
        self.stat_eta = _Stat("Time left")
        # Only for runs that also learn from unlabeled images; a log axis could not plot its frequent zeros.
        self.stat_rank = _Stat("Ranking loss")
        self.stat_rank.setToolTip("The hinge loss on nested crops of the unlabeled images (mean over the last "
                                  "steps). 0: every crop already counts no more than the crop around it, so "
                                  "the unlabeled images have nothing to correct just now.")
        self.stat_rank.hide()
        stats = QHBoxLayout()
        stats.setSpacing(28)
        for stat in (self.stat_epoch, self.stat_loss, self.stat_rank, self.stat_mae, self.stat_rmse,
                     self.stat_eta):
            stats.addWidget(stat)
        stats.addStretch(1)

        self.failure = QLabel()
        self.failure.setWordWrap(True)
        self.failure.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.failure.setStyleSheet("QLabel { background: rgba(248, 81, 73, 0.14); border: 1px solid #f85149;"
                                   " border-radius: 4px; padding: 6px; }")
        self.failure.hide()

        self.curves = TrainingCurves()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setLineWrapMode(QPlainTextEdit.WidgetWidth)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.FixedFont))
        self.log.setPlaceholderText("The engine's messages appear here.")
        splitter = QSplitter(Qt.Vertical)
        splitter.addWidget(self.curves)
        splitter.addWidget(self.log)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)

        self.train_button = QPushButton("Train model…")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop training; the engine saves a checkpoint you can resume from")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the stopped run from its last checkpoint")
        self.train_button.clicked.connect(self.train_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.resume_button.clicked.connect(self.resume_requested)

        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.state_badge)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.train_button)

        rule = QFrame()
        rule.setFrameShape(QFrame.HLine)
        rule.setFrameShadow(QFrame.Sunken)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(header)
        layout.addLayout(buttons)
        layout.addLayout(stats)
        layout.addWidget(self.failure)
        layout.addWidget(rule)
        layout.addWidget(splitter, 1)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Expanding)
        self._best_mae: float | None = None
        self._epochs_total: int | None = None
        self._class_order: list[str] = []  # the run's classes (its start event), for per-class figures
        self._steps_seen = 0
        self.set_state("idle")
        self.set_actions(can_train=False, can_cancel=False, can_resume=False)

    # ------------------------------------------------------------------ state
    def set_state(self, state: str) -> None:
        color, text = _STATE_STYLE.get(state, _STATE_STYLE["idle"])
        self.state = state
        self.state_badge.setText(text)
        self.state_badge.setStyleSheet(f"QLabel {{ color: white; background: {color}; border-radius: 9px;"
                                       f" padding: 2px 10px; font-weight: bold; }}")

    def set_actions(self, can_train: bool, can_cancel: bool, can_resume: bool) -> None:
        self.train_button.setEnabled(can_train)
        self.cancel_button.setEnabled(can_cancel)
        self.resume_button.setEnabled(can_resume)

    def begin(self, title: str, command_line: str, epochs_total: int | None = None,
              history: list[dict] | None = None) -> None:
        """A run starts (or resumes): reset the view, then replay ``history`` (earlier epochs of a resumed run)."""
        self.title.setText(title)
        self.failure.hide()
        self.curves.clear()
        self._best_mae = None
        self._steps_seen = 0
        self._epochs_total = epochs_total
        self._class_order = []
        for stat in (self.stat_epoch, self.stat_loss, self.stat_rank, self.stat_mae, self.stat_rmse,
                     self.stat_eta):
            stat.set("–")
        self.stat_rank.hide()
        self.progress.setRange(0, 0)  # busy until the engine says how many steps there are
        self.progress.setFormat("Starting…")
        self.log.clear()
        self.append_log(f"$ {command_line}")
        for record in history or []:
            self._show_epoch(record)
        self.set_state("starting")

    def finish(self, outcome: str, summary: str = "") -> None:
        """The run ended: ``outcome`` as EngineJob reports it; ``summary`` explains a failure in plain words."""
        self.set_state(outcome)
        self.curves.flush()
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
            self.progress.setValue(1 if outcome == "succeeded" else 0)
        if outcome == "succeeded":
            self.progress.setValue(self.progress.maximum())
            self.progress.setFormat("Finished")
            self.stat_eta.set("done")
        elif outcome == "cancelled":
            self.progress.setFormat("Stopped — %p%")
            self.stat_eta.set("–")
        else:
            self.progress.setFormat("Failed")
            self.stat_eta.set("–")
            self.failure.setText(f"<b>Training failed.</b> {_escape(summary)}<br>"
                                 f"<span style='color:palette(mid)'>The dataset was not changed. "
                                 f"The log below has the details.</span>")
            self.failure.show()

    def stopping(self) -> None:
        self.set_state("stopping")
        self.progress.setFormat("Stopping — saving a checkpoint…")

    # ----------------------------------------------------------------- events
    def handle_event(self, event: dict) -> None:
        """Show one engine event."""
        kind = event.get("type")
        if kind == "start":
            self.set_state("running")
            total = event.get("total")
            if total:
                self.progress.setRange(0, int(total))
                self.progress.setValue(0)
            self.progress.setFormat("%p%")
            if event.get("epochs"):
                self._epochs_total = int(event["epochs"])
            # The model's channels, in order: per-class figures arrive through Qt as maps with sorted keys.
            self._class_order = list(event.get("classes") or [])
            self.stat_rank.setVisible(bool(event.get("unlabeled_images")) and event.get("rank_weight") != 0)
            described = ", ".join(f"{key} {event[key]}" for key in ("model", "device", "train_images",
                                                                      "val_images") if key in event)
            self.append_log(f"started{': ' + described if described else ''}")
            if event.get("pretrained"):  # which starting weights the engine used: ImageNet, a file, or none
                self.append_log(f"starting weights: {event['pretrained']}")
        elif kind == "progress":
            self._show_progress(event)
        elif kind == "epoch":
            event = {**event, "val_mae_per_class": in_order(event.get("val_mae_per_class"), self._class_order)}
            self._show_epoch(event)
            self.append_log(_epoch_line(event))
        elif kind in ("warning", "error"):
            self.append_log(f"{kind}: {event.get('message', '')}")
        elif kind == "done":
            self.append_log(_done_line(event))

    def _show_progress(self, event: dict) -> None:
        if self.state == "starting":
            self.set_state("running")
        done, total = event.get("done"), event.get("total")
        if total:
            if self.progress.maximum() != int(total):
                self.progress.setRange(0, int(total))
            self.progress.setFormat("%p%")
            self.progress.setValue(min(int(done or 0), int(total)))
        epoch = event.get("epoch")
        if epoch is not None:
            self.stat_epoch.set(f"{epoch} / {self._epochs_total}" if self._epochs_total else str(epoch))
        if event.get("loss") is not None:
            self.stat_loss.set(_fmt(event["loss"]))
            self._steps_seen += 1
            step = event.get("step")
            self.curves.add_loss(step if step is not None else self._steps_seen, event["loss"])
        if event.get("rank_loss") is not None:
            self.stat_rank.set(_fmt(event["rank_loss"]))
        if "eta_s" in event:
            self.stat_eta.set(format_duration(event.get("eta_s")))

    def _show_epoch(self, record: dict) -> None:
        mae, rmse = record.get("val_mae"), record.get("val_rmse")
        if record.get("epoch") is not None:
            self.curves.add_epoch(record["epoch"], mae, rmse, record.get("val_mae_per_class"))
            self.stat_epoch.set(f"{record['epoch']} / {self._epochs_total}" if self._epochs_total
                                else str(record["epoch"]))
        if mae is not None:
            self._best_mae = mae if self._best_mae is None else min(self._best_mae, mae)
            self.stat_mae.set(f"{_fmt(mae)} ({_fmt(self._best_mae)})")
            per_class = record.get("val_mae_per_class") or {}
            self.stat_mae.setToolTip("\n".join(f"{name}: {_fmt(value)}" for name, value in per_class.items()))
        if rmse is not None:
            self.stat_rmse.set(_fmt(rmse))

    def append_log(self, line: str) -> None:
        self.log.appendPlainText(line)
        bar = self.log.verticalScrollBar()
        bar.setValue(bar.maximum())


def in_order(per_class: dict | None, order: list[str]) -> dict:
    """``per_class`` with its keys in ``order`` (the run's classes), any others after them as they came."""
    per_class = per_class or {}
    known = [name for name in order if name in per_class]
    return {name: per_class[name] for name in [*known, *(name for name in per_class if name not in known)]}


def _epoch_line(event: dict) -> str:
    parts = [f"epoch {event.get('epoch')}"]
    for key, label in (("loss", "loss"), ("rank_loss", "ranking loss"), ("val_mae", "val MAE"),
                       ("val_rmse", "val RMSE")):
        if event.get(key) is not None:
            parts.append(f"{label} {_fmt(event[key], 4)}")
    for name, mae in (event.get("val_mae_per_class") or {}).items():
        parts.append(f"val MAE {name} {_fmt(mae, 4)}")
    if event.get("checkpoint"):
        parts.append(f"saved {event['checkpoint']}")
    return "  ".join(parts)


def _done_line(event: dict) -> str:
    """'done (finished): 12 epochs, 48 steps in 29 s; best val MAE 76.9 -> .../best.pt'."""
    parts = [f"done ({event['stopped']})" if event.get("stopped") else "done"]
    counts = ", ".join(f"{event[key]} {key}" for key in ("epochs", "steps") if event.get(key) is not None)
    if counts:
        parts.append(f": {counts}" + (f" in {format_duration(event['seconds'])}" if event.get("seconds") else ""))
    if event.get("best_val_mae") is not None:
        parts.append(f"; best val MAE {_fmt(event['best_val_mae'], 4)}")
    if event.get("best_checkpoint"):
        parts.append(f" → {event['best_checkpoint']}")
    return "".join(parts)


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\n", "<br>"))
