"""The density settings suggested from a dataset's own points, with the reason and an Apply button.

Used by the density dock and the training dialog. Working it out reads every annotated sidecar and measures
the points' spacing: 0.8-1.7 s for the 400 ShanghaiTech B training images on the 2-core development machine
(``Dataset.suggest_density``), so it runs on a worker thread and the window stays responsive meanwhile.
"""

from __future__ import annotations

from pathlib import Path

# Imported here, on the GUI thread: a first import of scipy.stats on the worker thread while Qt is busy on
# the GUI thread crashed the interpreter in a test run (a segfault inside the import machinery).
import scipy.spatial  # noqa: F401
import scipy.stats  # noqa: F401
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from engine.density import DensitySettings, DensitySuggestion, describe_density_settings

WORKING_TEXT = "Working out a suggestion from the annotated points…"
NONE_TEXT = "No suggestion yet: it needs an annotated image with at least 10 points."


class _Results(QObject):
    """Carries finished suggestions from the pool's threads to the GUI thread.

    One object for the whole application, never deleted: a job must not emit a signal of its SuggestionWorker,
    which may have been deleted with its window while the job ran (emitting on a deleted QObject from
    another thread crashed the test run). Qt drops the connection of a deleted worker by itself.
    """

    done = Signal(object, int, object, str)  # worker id, generation, suggestion or None, error text


_results: _Results | None = None


def _shared_results() -> _Results:
    global _results
    if _results is None:
        _results = _Results()
    return _results


class SuggestionWorker(QObject):
    """Works out a dataset's suggestion off the GUI thread; ``ready(suggestion or None)`` brings the newest.

    Each request gets a number; a result overtaken by a newer request (another dataset was opened) is dropped.
    """

    ready = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None):
        super().__init__(parent)
        self.pool = pool or QThreadPool.globalInstance()
        self.generation = 0
        _shared_results().done.connect(self._deliver)

    def request(self, folder: Path | str) -> None:
        """Work out the suggestion for the dataset in ``folder`` (a fresh Dataset: the GUI's is not shared)."""
        self.generation += 1
        worker, generation, results = id(self), self.generation, _shared_results()

        class Job(QRunnable):
            def run(self):
                from engine.dataset import Dataset

                try:
                    suggestion, error = Dataset(folder).suggest_density(), ""
                except Exception as exc:  # an unreadable folder: say so in the box, never crash the thread
                    suggestion, error = None, str(exc) or type(exc).__name__
                results.done.emit(worker, generation, suggestion, error)

        self.pool.start(Job())

    def cancel(self) -> None:
        """Forget any request in flight (the dataset was closed)."""
        self.generation += 1

    def _deliver(self, worker: int, generation: int, suggestion, error: str) -> None:
        if worker != id(self) or generation != self.generation:
            return
        if error:
            self.failed.emit(error)
        else:
            self.ready.emit(suggestion)


class SuggestionBox(QWidget):
    """"Suggested: fixed sigma 4.5 px — because …" with Apply; after Apply, Undo brings back what was there.

    Signals: ``apply_requested(DensitySettings)`` (the suggestion, or on Undo the settings before it).
    """

    apply_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.suggestion: DensitySuggestion | None = None
        self.current: DensitySettings | None = None
        self.previous: DensitySettings | None = None  # what Apply replaced, for Undo
        self.label = QLabel(WORKING_TEXT)
        self.label.setObjectName("densitySuggestion")
        self.label.setWordWrap(True)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Use the suggested settings for this dataset (saved with it)")
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Go back to the settings the suggestion replaced")
        self.apply_button.clicked.connect(self._apply)
        self.undo_button.clicked.connect(self._undo)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addStretch(1)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addLayout(buttons)
        self._show()

    def set_working(self) -> None:
        """A new suggestion is being worked out."""
        self.suggestion, self.previous = None, None
        self.label.setText(WORKING_TEXT)
        self._show_buttons(apply=False, undo=False)

    def set_suggestion(self, suggestion: DensitySuggestion | None) -> None:
        self.suggestion = suggestion
        self._show()

    def set_failure(self, message: str) -> None:
        self.suggestion = None
        self.label.setText(f"No suggestion: {message}")
        self._show_buttons(apply=False, undo=False)

    def set_current(self, settings: DensitySettings) -> None:
        """The settings in use now (the box says when they already are the suggestion)."""
        self.current = settings
        if self.suggestion is None or settings != self.suggestion.settings:
            self.previous = None  # edited by hand since Apply: Undo would no longer undo just the Apply
        if self.label.text() != WORKING_TEXT:
            self._show()

    def _show(self) -> None:
        suggestion = self.suggestion
        if suggestion is None:
            self.label.setText(NONE_TEXT)
            self._show_buttons(apply=False, undo=self.previous is not None)
            return
        in_use = self.current == suggestion.settings
        text = f"Suggested: {suggestion.headline} — because {suggestion.reason}."
        if in_use and self.previous is not None:
            text += f" Applied (was {describe_density_settings(self.previous)})."
        elif in_use:
            text += " (In use.)"
        self.label.setText(text)
        self._show_buttons(apply=not in_use, undo=in_use and self.previous is not None)

    def _show_buttons(self, apply: bool, undo: bool) -> None:
        self.apply_button.setVisible(apply)
        self.undo_button.setVisible(undo)

    def _apply(self) -> None:
        if self.suggestion is None:
            return
        self.previous = self.current
        self.apply_requested.emit(self.suggestion.settings)

    def _undo(self) -> None:
        previous, self.previous = self.previous, None
        if previous is not None:
            self.apply_requested.emit(previous)
