"""Work off the GUI thread with its outcome back on it: a private worker pool and the relay its results travel by.

QThreadPool runs a function on a worker thread, but a signal emitted there must belong to an object that lives in
the GUI thread (so the connection is queued) and that outlives the job. :class:`BackgroundWorker` owns both, the
pool created first: Qt deletes children in creation order, so deleting the worker waits for a running job (in the
pool's destructor) before the relay that job reports through is gone. PySide6-Essentials has no QtConcurrent.

Used by the density preview, the result viewer, thumbnails and exports. The density suggestion keeps its own
scheme (crowdgui/density/suggestion.py): it must not make a closing window wait for a job of over a second.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QThreadPool, Signal


class _Relay(QObject):
    finished = Signal(object, object)  # tag, outcome
    progressed = Signal(object)


class BackgroundWorker(QObject):
    """Runs functions on its own worker thread(s), one after another with the default single thread.

    Signals (on the GUI thread):
        finished(tag, outcome)   a job ended: ``outcome`` is what it returned, or the Exception it raised
                                 (never raised on the GUI thread; the receiver says what went wrong)
        progressed(value)        a running job called :meth:`report` with ``value``
    """

    finished = Signal(object, object)
    progressed = Signal(object)

    def __init__(self, parent: QObject | None = None, threads: int = 1):
        super().__init__(parent)
        self._pool = QThreadPool(self)  # before the relay: see the module's docstring
        self._pool.setMaxThreadCount(threads)
        self._relay = _Relay(self)
        self._relay.finished.connect(self.finished)
        self._relay.progressed.connect(self.progressed)

    def submit(self, work: Callable[[], object], tag=None) -> None:
        """Queue ``work()``; ``finished(tag, outcome)`` follows once it has run."""
        relay = self._relay

        def run() -> None:
            try:
                outcome = work()
            except Exception as exc:  # noqa: BLE001 - a worker thread must never die silently
                outcome = exc
            relay.finished.emit(tag, outcome)

        self._pool.start(run)

    def report(self, value) -> None:
        """Send ``value`` to the GUI thread as ``progressed`` (call it from a job)."""
        self._relay.progressed.emit(value)

    def clear(self) -> None:
        """Drop the jobs not yet started (they never finish)."""
        self._pool.clear()

    def wait(self, msecs: int = -1) -> bool:
        """Block until no job runs or is queued (tests and shutdown); True when so."""
        return self._pool.waitForDone(msecs)
