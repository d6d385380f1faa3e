"""crowdgui/background.py: work runs off the GUI thread, its outcome and progress come back on it."""

import threading
import time

from PySide6.QtCore import QObject, QThread

from crowdgui.background import BackgroundWorker


def test_outcomes_progress_and_errors_arrive_on_the_gui_thread_in_order(qtbot):
    worker = BackgroundWorker()
    gui_thread = QThread.currentThread()
    finished, progressed, threads = [], [], []
    worker.finished.connect(lambda tag, outcome: (finished.append((tag, outcome)),
                                                  threads.append(QThread.currentThread())))
    worker.progressed.connect(progressed.append)
    ran_on = []

    def counted():
        ran_on.append(threading.current_thread() is threading.main_thread())
        for step in (1, 2):
            worker.report((step, 2))
        return "done"

    def broken():
        raise OSError("disk full")

    worker.submit(counted, "first")
    worker.submit(broken, "second")
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=5000)
    assert ran_on == [False]  # the work itself ran on a worker thread
    assert finished[0] == ("first", "done") and progressed == [(1, 2), (2, 2)]
    tag, error = finished[1]
    assert tag == "second" and isinstance(error, OSError) and str(error) == "disk full"
    assert all(thread is gui_thread for thread in threads)


def test_a_worker_deleted_with_its_owner_waits_for_the_running_job(qtbot):
    owner = QObject()
    worker = BackgroundWorker(owner)
    started, ended = threading.Event(), threading.Event()

    def slow():
        started.set()
        time.sleep(0.3)
        ended.set()
        worker.report("still here")  # the relay must still exist: emitting on a deleted one crashed before
        return 1

    worker.submit(slow)
    assert started.wait(5)
    owner.deleteLater()
    qtbot.waitUntil(lambda: ended.is_set(), timeout=5000)
    qtbot.wait(50)  # the deferred delete runs; the process is still alive to get here
    assert ended.is_set()


def test_clear_drops_jobs_not_yet_started(qtbot):
    worker = BackgroundWorker()
    gate = threading.Event()
    finished = []
    worker.finished.connect(lambda tag, outcome: finished.append(tag))
    worker.submit(lambda: gate.wait(5), "running")
    time.sleep(0.05)
    worker.submit(lambda: None, "queued")
    worker.clear()
    gate.set()
    assert worker.wait(5000)
    qtbot.wait(50)
    assert finished == ["running"]
