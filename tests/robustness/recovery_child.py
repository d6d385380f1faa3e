"""A real annotation window, in its own process, that edits points and then waits to be killed.

    python recovery_child.py FOLDER SCENARIO

Opens FOLDER in the real MainWindow (offscreen, autosave pushed out of reach), makes the scenario's edits
through the canvas's signals (what clicks emit), waits until the recovery journal holds them, prints one
line ``journaled <json>`` with the points and proposals each edited image has on screen, then keeps the
event loop running until the parent kills it with SIGKILL. Used by test_autosave_crash_recovery.py and
bench/fault_annotation.py.

Scenarios:
    add        add 5 points to the first image
    edit       add 3 points, move point 0, delete point 1 of the first image (a mix of commands)
    two        add 2 points to the first image, go to the second while saving fails (disk full), add 4
               there, so both are unsaved when the process dies
    stream     add points for as long as the process lives, one every 40 ms (the parent kills mid-stream);
               prints ``added N`` after each
"""

from __future__ import annotations

import errno
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main(folder: Path, scenario: str) -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from crowdgui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    settings_dir = tempfile.mkdtemp(prefix="recovery-child-")
    window = MainWindow(QSettings(str(Path(settings_dir) / "s.ini"), QSettings.Format.IniFormat),
                        autosave_ms=10**8)
    window.show()
    assert window.open_folder(folder)
    session, canvas = window.session, window.canvas

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.005)

    def state() -> dict:
        shown = {session.current_name: (session.points.points.tolist(), session.proposed.points.tolist())}
        for name in session.dirty_names():
            edits = session.edits_of(name)
            if edits is not None:
                shown[name] = (edits.points.tolist(), edits.proposed.tolist())
        return {name: {"points": p, "proposed": q} for name, (p, q) in shown.items()}

    def wait_journaled(names) -> None:
        journal = window.recovery.journal
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pump(0.05)
            if all(journal.path_for(n).exists() for n in names) and not window.recovery._pending:
                return
        raise SystemExit("the journal was never written")

    first = session.current_name
    if scenario == "add":
        for i in range(5):
            canvas.point_add_requested.emit(10.0 + i, 20.0 + 0.5 * i)
        wait_journaled([first])
    elif scenario == "edit":
        for i in range(3):
            canvas.point_add_requested.emit(30.0 + i, 15.0)
        canvas.point_move_requested.emit(0, 7.25, 8.5)
        canvas.points_delete_requested.emit([1])
        wait_journaled([first])
    elif scenario == "two":
        for i in range(2):
            canvas.point_add_requested.emit(5.0 + i, 5.0)
        # Leaving the image cannot save it (the disk is full): its points stay unsaved in memory. (A read-only
        # folder would not do: tests may run as root.)
        dataset = session.dataset
        real_save = dataset.save_points

        def disk_full(*_args, **_kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        dataset.save_points = disk_full
        try:
            assert session.step(1)
        finally:
            dataset.save_points = real_save
        for i in range(4):
            canvas.point_add_requested.emit(9.0 + i, 9.0)
        wait_journaled(session.dirty_names())
    elif scenario == "stream":
        print("ready", flush=True)
        added = 0
        while True:
            canvas.point_add_requested.emit(1.0 + added % 50, 2.0 + added // 50)
            added += 1
            pump(0.04)
            print(f"added {added}", flush=True)
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    print("journaled " + json.dumps(state()), flush=True)
    while True:
        pump(1.0)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
