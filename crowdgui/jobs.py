"""The one bridge to long work: engine commands run as child processes, their events arrive as signals.

Training and batch counting run ``python -m engine <command> ... --events jsonl`` in a ``QProcess``. The window
stays responsive, a crash in the child cannot take the user's annotations down, and the GUI runs exactly what a
user would run on a server. Cancel sends SIGTERM (the engine saves and exits between steps); if the child has not
exited after a grace period it is killed.
"""

from __future__ import annotations

import json
import os
import sys
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

# The folder that holds the ``engine`` package, so the child finds it even when CrowdGUI is not pip-installed.
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


class EngineJob(QObject):
    """One child process whose stdout carries JSON events, one per line.

    Signals:
        event_received(dict)   every JSON object the child printed
        log_line(str)          every other line (stderr, or stdout that is not JSON)
        finished(str, int)     outcome ("succeeded", "failed", "cancelled", "crashed") and exit code
    """

    event_received = Signal(dict)
    log_line = Signal(str)
    finished = Signal(str, int)

    LOG_TAIL_LINES = 400

    def __init__(self, python_args: list[str], parent: QObject | None = None, cancel_grace_ms: int = 30000):
        super().__init__(parent)
        self.python_args = list(python_args)
        self.cancel_grace_ms = cancel_grace_ms
        self.log_tail: deque[str] = deque(maxlen=self.LOG_TAIL_LINES)
        self.errors: list[str] = []
        self.outcome: str | None = None
        self._cancel_requested = False
        self._buffers = {"out": b"", "err": b""}
        self._process = QProcess(self)
        self._process.setProgram(sys.executable)
        self._process.setArguments(self.python_args)
        self._process.setProcessEnvironment(self._environment())
        self._process.readyReadStandardOutput.connect(lambda: self._read("out"))
        self._process.readyReadStandardError.connect(lambda: self._read("err"))
        self._process.finished.connect(self._on_finished)
        self._process.errorOccurred.connect(self._on_error)
        self._kill_timer = QTimer(self, singleShot=True, interval=cancel_grace_ms)
        self._kill_timer.timeout.connect(self._process.kill)

    @classmethod
    def engine(cls, command_args: list[str], parent: QObject | None = None, **kwargs) -> "EngineJob":
        """A job running ``python -m engine <command_args> --events jsonl``."""
        return cls(["-m", "engine", *command_args, "--events", "jsonl"], parent, **kwargs)

    @property
    def command_line(self) -> str:
        """The command as a user would type it (shown in the log, so it can be rerun on a server)."""
        return " ".join([Path(sys.executable).name, *self.python_args])

    def _environment(self) -> QProcessEnvironment:
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        path = env.value("PYTHONPATH", "")
        env.insert("PYTHONPATH", os.pathsep.join(p for p in (str(_PROJECT_ROOT), path) if p))
        return env

    # ----------------------------------------------------------------- control
    def start(self) -> None:
        self.log_tail.append(f"$ {self.command_line}")
        self._process.start()

    def is_running(self) -> bool:
        return self._process.state() != QProcess.ProcessState.NotRunning

    def cancel(self) -> None:
        """Ask the child to stop (it saves what it must and exits); kill it if it does not within the grace."""
        if not self.is_running():
            return
        self._cancel_requested = True
        self._process.terminate()
        self._kill_timer.start()

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the child exits (tests and shutdown only; the GUI listens to ``finished``)."""
        return self._process.waitForFinished(msecs)

    # ----------------------------------------------------------------- reading
    def _read(self, channel: str) -> None:
        raw = (self._process.readAllStandardOutput() if channel == "out"
               else self._process.readAllStandardError()).data()
        data = self._buffers[channel] + raw
        *lines, self._buffers[channel] = data.split(b"\n")
        for line in lines:
            self._handle_line(channel, line.decode("utf-8", errors="replace").rstrip("\r"))

    def _handle_line(self, channel: str, text: str) -> None:
        if not text.strip():
            return
        if channel == "out" and text.startswith("{"):
            try:
                event = json.loads(text)
            except json.JSONDecodeError:
                event = None
            if isinstance(event, dict) and "type" in event:
                if event["type"] in ("error", "warning"):
                    self.log_tail.append(f"{event['type']}: {event.get('message', '')}")
                if event["type"] == "error":
                    self.errors.append(str(event.get("message", "")))
                self.event_received.emit(event)
                return
        self.log_tail.append(text)
        self.log_line.emit(text)

    def _flush_buffers(self) -> None:
        for channel in ("out", "err"):
            rest, self._buffers[channel] = self._buffers[channel], b""
            if rest:
                self._handle_line(channel, rest.decode("utf-8", errors="replace"))

    # ------------------------------------------------------------------ ending
    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        self._kill_timer.stop()
        self._read("out")
        self._read("err")
        self._flush_buffers()
        if self._cancel_requested:
            self.outcome = "cancelled"
        elif exit_status == QProcess.ExitStatus.CrashExit:
            self.outcome = "crashed"
        else:
            self.outcome = "succeeded" if exit_code == 0 else "failed"
        self.finished.emit(self.outcome, int(exit_code))

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            message = f"could not start {sys.executable}: {self._process.errorString()}"
            self.errors.append(message)
            self.log_tail.append(message)
            self.outcome = "failed"
            self.finished.emit(self.outcome, -1)

    def failure_summary(self) -> str:
        """Plain words for a failed job: the engine's own error messages, else the log's last lines."""
        if self.errors:
            return "\n".join(self.errors[-3:])
        tail = [line for line in self.log_tail if not line.startswith("$ ")]
        return "\n".join(tail[-8:]) or "the job ended without saying why"
