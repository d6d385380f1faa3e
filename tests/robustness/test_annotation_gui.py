"""The window with hostile annotation files: it opens, says what is wrong, keeps the files, loses nothing."""

import sys
from pathlib import Path

import numpy as np


sys.path.insert(0, str(Path(__file__).parent))
from PySide6.QtCore import QSettings
from sidecar_cases import HEAD, SIDECAR_CASES, make_image, write_case

from crowdgui.main_window import MainWindow
from crowdgui.annotation.undo import AddPoint
from engine.dataset import read_sidecar, sidecar_path


def test_the_window_opens_a_folder_of_hostile_sidecars_and_keeps_them(qtbot, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    chosen = [case for case in SIDECAR_CASES if case[0] in ("nested_deeply", "version_3", "points_nan",
                                                             "width_infinite", "truncated")]
    originals = {name: write_case(folder, name, content).read_bytes() for name, content, _ in chosen}
    make_image(folder / "outside.png")
    sidecar_path(folder / "outside.png").write_text(HEAD + '"points": [[1, 1], [50, 5], [-1, 2]]}')

    window = MainWindow(QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat), autosave_ms=50)
    qtbot.addWidget(window)
    window.show()
    assert window.open_folder(folder)  # a sidecar nested 100,000 deep made the scan raise before
    notice = window.notice_bar.text_label.text()
    assert f"{len(chosen) + 1} file(s) have problems" in notice and "points outside their image are kept" in notice
    session = window.session

    assert session.select("outside.png")
    assert "2 point(s) of outside.png lie outside the image: kept in the points file" in \
        window.notice_bar.text_label.text()
    assert session.points.count == 3  # all shown, none dropped

    for name, _, words in chosen:
        assert session.select(f"{name}.png")
        shown = window.notice_bar.text_label.text()
        assert words in shown and "kept as it is" in shown, (name, shown)
        assert session.points.count == 0
        session.push(AddPoint(session.points, 3.0, 4.0))
        qtbot.waitUntil(lambda: not session.dirty_names(), timeout=5000)
        assert "The unreadable points file" in window.notice_bar.text_label.text()
        [kept] = folder.glob(f"{name}.png.points.json.malformed-*")
        assert kept.read_bytes() == originals[name]
        assert np.array_equal(read_sidecar(sidecar_path(folder / f"{name}.png")).points, [[3.0, 4.0]])
