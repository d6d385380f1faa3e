"""The real window opens a folder full of hostile image files and steps through every image without a crash.

Bad files are named with their reason (the folder notice and its details, the image list's tooltip, a notice
when damage shows only on decoding); good files are shown at their displayed size; an EXIF-rotated JPEG is
shown turned, with its points on the objects.
"""

import sys
from pathlib import Path

import numpy as np
import pytest


from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from hostile_images import write_image_cases
from test_images_exif import STORED_H, STORED_W, red_mask, write_rotated_dataset


@pytest.fixture
def window(qtbot, tmp_path):
    from crowdgui.features import build_window

    win = build_window(QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat), autosave_ms=50)
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


@pytest.fixture
def hostile_folder(tmp_path):
    folder = tmp_path / "hostile"
    cases = write_image_cases(folder)
    _, points = write_rotated_dataset(folder)  # adds turned.jpg (EXIF 6) and its sidecar
    return folder, cases, points


def test_stepping_through_a_hostile_folder_shows_every_good_image_at_its_size(window, hostile_folder):
    folder, cases, _ = hostile_folder
    assert window.open_folder(folder)
    session, canvas = window.session, window.canvas
    good = {case.name: case.size for case in cases if case.good}
    good["turned.jpg"] = (STORED_H, STORED_W)
    bad = {case.name: case for case in cases if not case.good}

    # The first image in name order decodes badly (bad_corrupt.jpg): the first one that opens is shown.
    first_good = min(good)
    assert session.current_name == first_good
    notice = window.notice_bar.text
    assert f"{len(bad)} file(s) have problems" in notice, notice
    problems = "\n".join(session.dataset.problems)
    for name, case in bad.items():
        assert f"{name}: " in problems and case.error in problems, name

    # Every good image, one after the other with Next Image, at its displayed size.
    shown = {}
    while True:
        QApplication.processEvents()
        height, width = canvas.image.shape[:2]
        shown[session.current_name] = (width, height)
        assert canvas.view_box.image_size == (width, height)
        before = session.current_name
        window.actions.next_image.trigger()
        if session.current_name == before:
            break
    assert shown == good

    # Going back the whole way never lands on a bad file either.
    while session.current_name != first_good:
        before = session.current_name
        window.actions.previous_image.trigger()
        assert session.current_name != before and session.current_name in good


def test_every_bad_file_is_greyed_out_in_the_list_with_its_reason_and_asking_for_it_changes_nothing(
        window, hostile_folder):
    folder, cases, _ = hostile_folder
    assert window.open_folder(folder)  # bad_corrupt.jpg, first in name order, was tried and failed to decode
    session = window.session
    model = window.image_list.model
    current = session.current_name
    for case in cases:
        if case.good:
            continue
        index = model.index(model.row_of(case.name), 0)
        assert not model.flags(index) & Qt.ItemFlag.ItemIsEnabled, case.name
        assert case.error in model.data(index, Qt.ItemDataRole.ToolTipRole), case.name
        window._activate_image(case.name)  # what a click on the row would ask for
        QApplication.processEvents()
        assert session.current_name == current and window.canvas.image is not None


def test_damage_found_on_decoding_gives_a_notice_and_next_goes_on_to_the_next_good_image(window, tmp_path):
    folder = tmp_path / "three"
    cases = {case.name: case for case in write_image_cases(tmp_path / "all")}
    folder.mkdir()
    (folder / "a.png").write_bytes((tmp_path / "all" / "grey.png").read_bytes())
    (folder / "b.jpg").write_bytes((tmp_path / "all" / "bad_corrupt.jpg").read_bytes())
    (folder / "c.png").write_bytes((tmp_path / "all" / "rgba.png").read_bytes())
    assert window.open_folder(folder)
    assert window.session.current_name == "a.png" and not window.notice_bar.text
    window.actions.next_image.trigger()
    QApplication.processEvents()
    assert window.session.current_name == "c.png"
    assert window.canvas.image.shape == (30, 40, 3)
    assert "b.jpg cannot be opened" in window.notice_bar.text
    assert cases["bad_corrupt.jpg"].error in window.notice_bar.text
    model = window.image_list.model
    index = model.index(model.row_of("b.jpg"), 0)
    assert not model.flags(index) & Qt.ItemFlag.ItemIsEnabled


def test_an_exif_rotated_jpeg_is_shown_turned_with_its_points_on_the_objects(window, tmp_path):
    path, points = write_rotated_dataset(tmp_path / "turned")
    assert window.open_folder(path.parent)
    assert window.session.current_name == "turned.jpg"
    image = window.canvas.image
    assert image.shape == (STORED_W, STORED_H, 3)  # displayed: 32 wide, 48 high
    assert window.canvas.view_box.image_size == (STORED_H, STORED_W)
    shown_points = window.session.points.points
    np.testing.assert_allclose(shown_points, points)
    mask = red_mask(image)
    assert all(mask[int(y), int(x)] for x, y in shown_points)
