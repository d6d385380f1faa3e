"""Model-proposed points to correct: propose, accept, discard, delete one — the Proposals menu and toolbar.

"Propose Points" runs ``python -m engine propose DATASET --checkpoint CKPT --images NAME --no-write`` as an
EngineJob (the window stays usable; Cancel stops it). The proposals arrive in the events and go to the image
they were computed for: the shown image gets them through an undo command, an image the user has left since
gets them written into its sidecar (``AnnotationSession.store_proposals``). Proposals are drawn as rings apart
from the points, counted apart, and keep the image out of training until they are accepted (they become
ordinary points) or discarded. Every change is an undo command on the image's stack, so the unsaved marker and
autosave work as for points.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from crowdgui.dialogs.messages import show_message
from crowdgui.icons import icon
from crowdgui.jobs import EngineJob
from crowdgui.proposals.batch import BatchProposer
from crowdgui.proposals.busy import BusyIndicator
from crowdgui.proposals.engine_args import propose_one_args
from crowdgui.annotation.undo import AcceptProposals, DeleteProposals, DiscardProposals, MoveProposal, SetProposals
from engine.counting.propose import unconfirmed

NO_MODEL = "Train a model first, or choose one in the Models panel (Use for counting)"


def _action(parent: QWidget, text: str, shortcuts=(), icon_name: str | None = None, tip: str = "") -> QAction:
    action = QAction(text, parent)
    if shortcuts:
        action.setShortcuts([QKeySequence(key) for key in shortcuts])
    if icon_name:
        action.setIcon(icon(icon_name))
    action.setStatusTip(tip)
    parent.addAction(action)  # the shortcut works while the menu is closed
    return action


def _tooltip(action: QAction, why_not: str | None = None) -> str:
    """The action's name and shortcut, or — when it is disabled — why."""
    name = action.text().replace("&", "").rstrip(".…")
    keys = action.shortcuts()
    text = f"{name}  ({keys[0].toString()})" if keys else name
    return f"{text}\n{why_not}" if why_not else text


class ProposalsController(QObject):
    """Owns the proposal actions, the running "propose" job and the status-bar busy indicator.

    ``chosen_checkpoint`` is asked each time: the model picked in the run history (None: no model yet).

    Signals:
        proposals_arrived(str, int)   image and number of proposals it now has (the job's result was applied)
        job_finished(str)             outcome of a "propose" job: succeeded, failed, cancelled, crashed
        batch_finished(str, dict)     outcome and summary of "Propose points for all unannotated images"
    """

    proposals_arrived = Signal(str, int)
    job_finished = Signal(str)
    batch_finished = Signal(str, dict)

    def __init__(self, window, chosen_checkpoint: Callable[[], Path | None]):
        super().__init__(window)
        self.window, self.session, self.canvas = window, window.session, window.canvas
        self.chosen_checkpoint = chosen_checkpoint
        self.job: EngineJob | None = None
        self.job_image: str | None = None
        self.job_dataset: Path | None = None
        self._points_at_start = np.zeros((0, 2))
        self._radius = 0.0
        self.batch: BatchProposer | None = None
        self.last_message = None  # the latest message box (tests read it)

        a = _action
        self.propose_action = a(window, "&Propose Points", ["Ctrl+Shift+P"], "propose",
                                "Let the chosen model propose the points this image is missing, to correct")
        self.cancel_action = a(window, "&Cancel Proposing", [], None, "Stop the model proposing points")
        self.accept_action = a(window, "&Accept All Proposals", ["Ctrl+Return", "Ctrl+Enter"], "accept",
                               "Every proposed point becomes an ordinary point (can be undone)")
        self.discard_action = a(window, "&Discard Proposals", ["Ctrl+Shift+Backspace"], "discard",
                                "Remove every proposed point of this image (can be undone)")
        self.propose_all_action = a(
            window, "Propose Points for All &Unannotated Images…", [], None,
            "Write the model's proposals into every image without points file, to correct one by one")
        self.busy = BusyIndicator(self.cancel_action)
        # A permanent widget: a normal one would be painted over by the status bar's passing messages.
        window.statusBar().insertPermanentWidget(0, self.busy)

        self.propose_action.triggered.connect(self.propose)
        self.cancel_action.triggered.connect(self.cancel)
        self.accept_action.triggered.connect(lambda: self.accept())
        self.discard_action.triggered.connect(self.discard)
        self.propose_all_action.triggered.connect(self.propose_all)

        self.canvas.bind_proposals(self.session.proposed)
        self.canvas.proposals_delete_requested.connect(self.delete)
        self.canvas.proposal_move_requested.connect(self._move)
        self.canvas.proposals_accept_requested.connect(self.accept)
        self.session.current_image_changed.connect(self.update_actions)
        self.session.dataset_opened.connect(self.update_actions)
        self.session.dataset_closed.connect(self._on_dataset_closed)
        self.session.proposed.points_changed.connect(self.update_actions)
        self.update_actions()

    # ------------------------------------------------------------------ state
    def is_running(self) -> bool:
        return self.job is not None and self.job.is_running()

    def batch_running(self) -> bool:
        return self.batch is not None and self.batch.is_running()

    def _why_not_propose(self) -> str | None:
        if self.session.current_name is None:
            return "Open an image first"
        if self.chosen_checkpoint() is None:
            return NO_MODEL
        if self.is_running() or self.batch_running():
            return "The model is already proposing points"
        return None

    def update_actions(self, *_args) -> None:
        """Enable what can be done now; a disabled action's tooltip says why."""
        why = self._why_not_propose()
        self.propose_action.setEnabled(why is None)
        self.propose_action.setToolTip(_tooltip(self.propose_action, why))
        has_proposals = self.session.proposed.count > 0
        for action in (self.accept_action, self.discard_action):
            action.setEnabled(has_proposals)
            action.setToolTip(_tooltip(action, None if has_proposals else "This image has no proposed points"))
        if self.session.dataset is None:
            why_all = "Open a folder first"
        elif self.chosen_checkpoint() is None:
            why_all = NO_MODEL
        elif self.is_running() or self.batch_running():
            why_all = "The model is already proposing points"
        else:
            why_all = None
        self.propose_all_action.setEnabled(why_all is None)
        self.propose_all_action.setToolTip(_tooltip(self.propose_all_action, why_all))
        self.cancel_action.setEnabled(self.is_running())

    # ------------------------------------------------------------ proposing
    def propose(self) -> EngineJob | None:
        """Run the model on the shown image in a child process; its proposals replace the pending ones."""
        if self._why_not_propose() is not None:
            return None
        session = self.session
        # The engine cancels proposals against the confirmed points in the sidecar: write the shown ones first.
        if session.save_dirty():
            self.window.show_notice("warning", "Some points could not be saved: the model compares its "
                                               "proposals with the last saved points.")
        self.job_image, self.job_dataset = session.current_name, session.dataset.folder
        self._points_at_start = session.points.points.copy()
        self._radius = 0.0
        job = EngineJob.engine(propose_one_args(self.job_dataset, self.chosen_checkpoint(), self.job_image),
                               parent=self, cancel_grace_ms=5000)
        job.event_received.connect(self._on_event)
        job.finished.connect(self._on_finished)
        self.job = job
        job.start()
        self.busy.begin(f"Proposing points for {self.job_image}…")
        self.update_actions()
        return job

    def cancel(self) -> None:
        if self.is_running():
            self.busy.label.setText("Stopping…")
            self.job.cancel()

    def shutdown(self, wait_ms: int = 5000) -> None:
        """The window closes: stop a running job (nothing of it is on disk: it writes nothing)."""
        for job in (self.job, self.batch.job if self.batch else None):
            if job is not None and job.is_running():
                job.cancel()
                job.wait(wait_ms)

    def _on_event(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "start":
            self._radius = float(event.get("radius") or 0.0)
        elif kind == "result" and event.get("image") == self.job_image:
            if event.get("skipped"):
                self.window.show_notice("warning", f"No points proposed for {self.job_image}: "
                                                   f"{event['skipped']}.")
            else:
                labels = event.get("labels")
                self._deliver(self.job_image, np.asarray(event.get("points") or [], dtype=np.float64),
                              labels if isinstance(labels, list) else None)

    def _deliver(self, name: str, proposals: np.ndarray, labels: list[str] | None = None) -> None:
        """Give ``name`` these proposals (with each one's class, from a model of 2+ classes), whether it is
        still shown or not."""
        session = self.session
        proposals = proposals.reshape(-1, 2)
        if labels is not None and len(labels) != len(proposals):
            labels = None  # not from this engine: the points are still good, their classes unknown
        if session.dataset is None or session.dataset.folder != self.job_dataset:
            return  # another folder is open now: the result belongs to none of its images
        if name == session.current_name:
            # Points the user added while the model ran were not in the sidecar it compared with.
            start = {tuple(p) for p in self._points_at_start.tolist()}
            added = np.asarray([p for p in session.points.points.tolist() if tuple(p) not in start])
            # (Only those: the engine already cancelled one-to-one against the saved ones.)
            keep = unconfirmed(proposals, added.reshape(-1, 2), self._radius)
            proposals = proposals[keep]
            labels = None if labels is None else [label for label, kept in zip(labels, keep) if kept]
            if len(proposals) or session.proposed.count:
                session.push(SetProposals(session.proposed, proposals, labels))
        elif ((len(proposals) or session.state_of(name).proposed)
              and not session.store_proposals(name, proposals, labels)):
            return  # the reason is reported by the session
        self.window.statusBar().showMessage(
            f"{len(proposals):,} point(s) proposed for {name}" if len(proposals)
            else f"The model proposes no points that {name} is missing", 5000)
        self.proposals_arrived.emit(name, len(proposals))

    def _on_finished(self, outcome: str, _code: int) -> None:
        job = self.job
        self.busy.end()
        if outcome in ("failed", "crashed"):
            self.window.show_notice("error", f"Proposing points failed: {job.failure_summary()}")
        elif outcome == "cancelled":
            self.window.statusBar().showMessage("Proposing points cancelled", 3000)
        self.update_actions()
        self.job_finished.emit(outcome)

    def _on_dataset_closed(self) -> None:
        self.cancel()  # its result would belong to a folder that is no longer open
        self.update_actions()

    # ---------------------------------------------------------------- editing
    def accept(self, indices=None) -> None:
        """Proposals become points (``indices``: some of them; default all). One undoable step."""
        session = self.session
        if session.current_name is None or not session.proposed.count:
            return
        if indices is not None and not len(indices):
            return
        session.push(AcceptProposals(session.points, session.proposed, indices))

    def discard(self) -> None:
        if self.session.current_name is not None and self.session.proposed.count:
            self.session.push(DiscardProposals(self.session.proposed))

    def delete(self, indices) -> None:
        if self.session.current_name is not None and len(indices):
            self.session.push(DeleteProposals(self.session.proposed, indices))

    def _move(self, index: int, x: float, y: float) -> None:
        self.session.push(MoveProposal(self.session.proposed, index, x, y))

    # ------------------------------------------------------------------ batch
    def propose_all(self) -> BatchProposer | None:
        """Write proposals into every image without points file (the folder is read again afterwards)."""
        session = self.session
        checkpoint = self.chosen_checkpoint()
        if session.dataset is None or checkpoint is None or self.is_running() or self.batch_running():
            return None
        failed = session.save_dirty()
        if failed:
            # Unsaved images could get proposals written under their edits; never risk that.
            self.last_message = show_message(
                self.window, "error", "Propose points",
                f"The points of {len(failed)} image(s) could not be saved, so no proposals are written. "
                "Make the folder writable (or close the folder), then try again.")
            return None
        self.batch = BatchProposer(session.dataset.folder, checkpoint, self.window)
        self.batch.finished.connect(self._on_batch_finished)
        self.batch.start()
        self.update_actions()
        return self.batch

    def _on_batch_finished(self, outcome: str, summary: dict) -> None:
        self.session.rescan(summary["written"])
        written, points = len(summary["written"]), summary["points"]
        skipped = ", ".join(f"{number} {word}" for word, number in summary["skipped"].items())
        text = f"{points:,} points proposed for {written} image(s)" + (f"; skipped: {skipped}" if skipped else "")
        if outcome in ("failed", "crashed"):
            self.window.show_notice("error", f"Proposing points failed: {summary['failure']}")
        elif outcome == "cancelled":
            self.window.show_notice("info", f"Stopped. {text}.")
        else:
            self.window.show_notice("info", f"{text}. Images with proposals are marked in the list; "
                                            "correct them, then accept (Ctrl+Enter).")
        self.update_actions()
        self.batch_finished.emit(outcome, summary)


def install(window, chosen_checkpoint: Callable[[], Path | None] | None = None) -> ProposalsController:
    """Add the Proposals menu, toolbar buttons and status-bar indicator to CrowdGUI's MainWindow.

    ``chosen_checkpoint`` defaults to the training feature's model choice (``window.training``), whose
    ``model_selected`` then refreshes the actions.
    """
    training = getattr(window, "training", None)
    if chosen_checkpoint is None:
        chosen_checkpoint = training.selected_checkpoint if training is not None else (lambda: None)
    controller = ProposalsController(window, chosen_checkpoint)
    if training is not None:
        training.model_selected.connect(controller.update_actions)
        training.training_finished.connect(controller.update_actions)
    menu = window.menu("&Proposals")
    menu.addActions([controller.propose_action, controller.cancel_action])
    menu.addSeparator()
    menu.addActions([controller.accept_action, controller.discard_action])
    menu.addSeparator()
    menu.addAction(controller.propose_all_action)
    window.toolbar.addSeparator()
    window.toolbar.addActions([controller.propose_action, controller.accept_action, controller.discard_action])
    QCoreApplication.instance().aboutToQuit.connect(controller.shutdown)
    return controller
