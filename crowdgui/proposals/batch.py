"""Propose points for every unannotated image of the folder: one engine run that writes the sidecars.

The window saves its edits first and a window-modal progress dialog keeps the user from editing while the
engine writes, so no sidecar the engine writes can be overwritten by a stale autosave; afterwards the session
reads the folder again (``AnnotationSession.rescan``) and the image list shows the proposals.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from crowdgui.jobs import EngineJob
from crowdgui.proposals.engine_args import propose_all_args


class BatchProposer(QObject):
    """One ``python -m engine propose DATASET --checkpoint CKPT`` run with a progress dialog.

    Signals:
        finished(str, dict)   outcome (EngineJob's) and the summary: written image names, points, skip reasons
    """

    finished = Signal(str, dict)

    def __init__(self, dataset: Path, checkpoint: Path, parent: QWidget):
        super().__init__(parent)
        self.written: list[str] = []
        self.points = 0
        self.skipped: dict[str, int] = {}
        self.job = EngineJob.engine(propose_all_args(dataset, checkpoint), parent=self, cancel_grace_ms=5000)
        self.job.event_received.connect(self._on_event)
        self.job.finished.connect(self._on_finished)
        self.dialog = QProgressDialog("Starting the model…", "Cancel", 0, 0, parent)
        self.dialog.setWindowTitle("Propose points")
        self.dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog.setMinimumDuration(0)
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.canceled.connect(self.cancel)

    def start(self) -> None:
        self.dialog.show()
        self.job.start()

    def cancel(self) -> None:
        self.dialog.setLabelText("Stopping… (the images done so far keep their proposals)")
        self.job.cancel()

    def is_running(self) -> bool:
        return self.job.is_running()

    def _on_event(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "start":
            self.dialog.setMaximum(max(int(event.get("total") or 0), 1))
            self.dialog.setValue(0)
            self.dialog.setLabelText("Proposing points for the images without points file…")
        elif kind == "progress":
            self.dialog.setValue(int(event.get("done") or 0))
        elif kind == "result":
            if event.get("written"):
                self.written.append(str(event["image"]))
                self.points += len(event.get("points") or [])
            elif event.get("skipped"):
                word = str(event["skipped"]).split(":")[0].split(" (")[0]
                self.skipped[word] = self.skipped.get(word, 0) + 1

    def _on_finished(self, outcome: str, _code: int) -> None:
        self.dialog.close()
        summary = {"written": list(self.written), "points": self.points, "skipped": dict(self.skipped),
                   "failure": self.job.failure_summary() if outcome in ("failed", "crashed") else ""}
        self.finished.emit(outcome, summary)
