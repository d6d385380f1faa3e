"""Next image to annotate (N): the image without points the chosen model is least sure of.

The first N runs ``python -m engine suggest DATASET --checkpoint CKPT`` as a background job (every image
without points is counted four ways, flipped; the spread of the four counts is its uncertainty, in objects),
shows each image's uncertainty in the Images panel and opens the top one. Later presses go on down the same
ranking to the next image that still has no points, without running the model again; choosing another model
or opening another folder forgets the ranking. Without a model N goes to the next image without points in file
order and says how to get a model.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence

from crowdgui.jobs import EngineJob
from crowdgui.proposals.busy import BusyIndicator

NO_MODEL_FOR_RANKING = ("In file order: no model is chosen. With one, N opens the image it is least sure of — "
                        "train one (Training menu) or choose one in the Models panel (Use for counting)")


class NextImageController(QObject):
    """The "Next Image to Annotate" action, its ranking job and the ranking it keeps.

    Signals:
        ranking_ready(list)     [(image, score), ...] most uncertain first, when a suggest job succeeded
        job_finished(str)       a suggest job ended (EngineJob's outcome)
    """

    ranking_ready = Signal(list)
    job_finished = Signal(str)

    def __init__(self, window, chosen_checkpoint: Callable[[], Path | None], engine_module: str = "engine"):
        super().__init__(window)
        self.window, self.session = window, window.session
        self.chosen_checkpoint = chosen_checkpoint
        self.engine_module = engine_module
        self.ranking: list[tuple[str, float]] = []
        self.ranked_with: tuple[Path, Path] | None = None  # (dataset folder, checkpoint) of the ranking
        self.job: EngineJob | None = None
        self._scores: dict[str, float] = {}

        self.next_action = QAction("Next Image to &Annotate", window)
        self.next_action.setShortcuts([QKeySequence("N")])
        self.next_action.setStatusTip("Open the image without points the chosen model is least sure of")
        self.cancel_action = QAction("Cancel Ranking", window)
        for action in (self.next_action, self.cancel_action):
            window.addAction(action)  # the key works while the menu is closed
        self.busy = BusyIndicator(self.cancel_action)
        window.statusBar().insertPermanentWidget(0, self.busy)
        self.next_action.triggered.connect(self.next_image)
        self.cancel_action.triggered.connect(self.cancel)
        self.session.dataset_opened.connect(lambda _dataset: self.forget())
        self.session.dataset_closed.connect(self.forget)

    def is_running(self) -> bool:
        return self.job is not None and self.job.is_running()

    def forget(self) -> None:
        """The ranking no longer applies (another folder or another model)."""
        self.cancel()
        self.ranking, self.ranked_with = [], None
        self.window.image_list.model.set_uncertainty({})

    def next_image(self) -> None:
        dataset, checkpoint = self.session.dataset, self.chosen_checkpoint()
        if dataset is None or self.is_running():
            return
        if checkpoint is None:
            self.window.actions.next_todo.trigger()
            self.window.statusBar().showMessage(NO_MODEL_FOR_RANKING, 10000)
            return
        if self.ranked_with != (dataset.folder, checkpoint):
            self._rank(dataset.folder, checkpoint)
            return
        self._open_next()

    def _open_next(self) -> None:
        names = [name for name, _score in self.ranking]
        current = self.session.current_name
        start = names.index(current) + 1 if current in names else 0
        for name in names[start:] + names[:start]:
            if name != current and not self.session.state_of(name).annotated and self.session.select(name):
                rank = names.index(name) + 1
                why = ("the model is least sure of it" if rank == 1
                       else f"number {rank} of {len(names)} by the model's uncertainty")
                self.window.statusBar().showMessage(f"Next: {name}, {why} (±{self._scores[name]:.1f} objects)",
                                                    10000)
                return
        self.window.statusBar().showMessage("Every image the model ranked has points now", 5000)

    # --------------------------------------------------------------------- job
    def _rank(self, folder: Path, checkpoint: Path) -> None:
        self.session.save_dirty()  # the engine ranks the images without points on disk
        args = ["suggest", str(folder), "--checkpoint", str(checkpoint)]
        self.job = EngineJob(["-m", self.engine_module, *args, "--events", "jsonl"], parent=self,
                             cancel_grace_ms=3000)
        self._scores = {}
        self.job.event_received.connect(self._on_event)
        self.job.finished.connect(lambda outcome, _code, key=(folder, checkpoint): self._on_finished(outcome, key))
        self.job.start()
        self.busy.begin("Ranking the images without points by the model's uncertainty…")

    def cancel(self) -> None:
        if self.is_running():
            self.busy.label.setText("Stopping…")
            self.job.cancel()

    def _on_event(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "result" and event.get("image") is not None:
            self._scores[str(event["image"])] = float(event.get("score") or 0.0)
        elif kind == "progress" and event.get("total"):
            self.busy.label.setText(f"Ranking images by the model's uncertainty… {event.get('done', 0)} of "
                                    f"{event['total']}")

    def _on_finished(self, outcome: str, key: tuple[Path, Path]) -> None:
        self.busy.end()
        dataset = self.session.dataset
        if outcome == "succeeded" and dataset is not None and (dataset.folder, self.chosen_checkpoint()) == key:
            # The same order as the engine's: most uncertain first, ties in the folder's order.
            self.ranking = sorted(self._scores.items(), key=lambda item: -item[1])
            self.ranked_with = key
            self.window.image_list.model.set_uncertainty(self._scores)
            self.ranking_ready.emit(list(self.ranking))
            if self.ranking:
                self._open_next()
            else:
                self.window.statusBar().showMessage("Every image has points: nothing to rank", 5000)
        elif outcome in ("failed", "crashed"):
            self.window.show_notice("error", f"Ranking the images failed: {self.job.failure_summary()}")
        self.job_finished.emit(outcome)

    def shutdown(self, wait_ms: int = 3000) -> None:
        if self.is_running():
            self.job.cancel()
            self.job.wait(wait_ms)
