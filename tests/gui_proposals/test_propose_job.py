"""Propose Points with a real child process (``python -m engine propose``) and a tiny trained model."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from crowdgui.panels.image_list import STATE_ROLE
from crowdgui.annotation.undo import AddPoint
from engine.dataset import Annotation, read_sidecar, sidecar_path, write_sidecar
from engine.dataset.synthetic import write_synthetic_dataset

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib does not add it
from proposal_fixtures import raw_sidecar

pytestmark = pytest.mark.slow

JOB_MS = 120000


@pytest.fixture
def folder(tmp_path):
    """Four 96x128 synthetic cell images: the first annotated by hand, the others without points file."""
    return write_synthetic_dataset(tmp_path / "cells", images=4, size=(96, 128), counts=(10, 20), seed=5,
                                   annotate=1)


@pytest.fixture
def window(make_window, folder, tiny_checkpoint):
    from crowdgui.proposals import install

    win = make_window()
    win.proposals = install(win, chosen_checkpoint=lambda: tiny_checkpoint)
    assert win.open_folder(folder)
    yield win
    win.proposals.shutdown()


def test_proposals_arrive_for_the_shown_image_as_one_undoable_step(qtbot, window, folder):
    win = window
    assert win.session.select("cells_002.png")
    assert win.proposals.propose_action.isEnabled()
    with qtbot.waitSignal(win.proposals.job_finished, timeout=JOB_MS) as finished:
        win.proposals.propose_action.trigger()
        assert win.proposals.busy.isVisible() and win.proposals.cancel_action.isEnabled()
        assert not win.proposals.propose_action.isEnabled()
    assert finished.args == ["succeeded"]
    assert not win.proposals.busy.isVisible()
    proposed = win.session.proposed.count
    assert proposed > 0, "the tiny model proposes no point: the test cannot check where they go"
    assert win.session.points.count == 0
    assert f"{proposed} proposed" in win.canvas.count_label.text()
    assert win.undo_action.text().startswith("&Undo Propose")
    qtbot.waitUntil(lambda: not win.session.is_dirty("cells_002.png"), timeout=3000)
    assert len(raw_sidecar(folder, "cells_002.png")["proposed"]) == proposed  # autosaved as pending
    assert raw_sidecar(folder, "cells_002.png")["points"] == []
    win.undo_action.trigger()
    assert win.session.proposed.count == 0


def test_the_result_goes_to_the_image_it_was_computed_for_after_moving_on(qtbot, window, folder):
    win = window
    assert win.session.select("cells_002.png")
    with qtbot.waitSignal(win.proposals.proposals_arrived, timeout=JOB_MS) as arrived:
        win.proposals.propose()
        win.actions.next_image.trigger()  # the user goes on while the model runs
        assert win.session.current_name == "cells_003.png"
    name, number = arrived.args
    assert name == "cells_002.png" and number > 0
    assert win.session.proposed.count == 0  # the shown image got nothing
    assert not sidecar_path(folder / "cells_003.png").exists()
    stored = read_sidecar(sidecar_path(folder / "cells_002.png"))
    assert len(stored.proposed) == number and len(stored.points) == 0
    model = win.image_list.model
    assert model.index(model.row_of("cells_002.png"), 0).data(STATE_ROLE) == "proposed"
    win.actions.previous_image.trigger()
    assert win.session.proposed.count == number


def test_cancel_stops_the_job_and_changes_nothing(qtbot, window, folder):
    win = window
    assert win.session.select("cells_002.png")
    with qtbot.waitSignal(win.proposals.job_finished, timeout=JOB_MS) as finished:
        win.proposals.propose()
        win.proposals.cancel_action.trigger()
    assert finished.args == ["cancelled"]
    assert win.session.proposed.count == 0 and not win.session.is_dirty("cells_002.png")
    assert not sidecar_path(folder / "cells_002.png").exists()
    assert win.proposals.propose_action.isEnabled()


def test_propose_for_all_unannotated_images_writes_them_and_updates_the_list(qtbot, window, folder):
    win = window
    hand = read_sidecar(sidecar_path(folder / "cells_001.png")).points.copy()
    # An image with pending proposals of its own: the batch leaves them alone.
    write_sidecar(sidecar_path(folder / "cells_004.png"),
                  Annotation("cells_004.png", 128, 96, [], proposed=[[5.5, 5.5]]))
    win.session.rescan(["cells_004.png"])
    assert win.session.select("cells_003.png")
    win.session.push(AddPoint(win.session.points, 7.5, 8.5))
    with qtbot.waitSignal(win.proposals.batch_finished, timeout=JOB_MS) as finished:
        batch = win.proposals.propose_all()
        assert batch is not None and batch.dialog.isVisible()
    outcome, summary = finished.args
    assert outcome == "succeeded"
    # The unsaved point was written before the engine ran: cells_003 counts as annotated and is skipped.
    assert summary["written"] == ["cells_002.png"]
    np.testing.assert_allclose(read_sidecar(sidecar_path(folder / "cells_003.png")).points, [[7.5, 8.5]])
    np.testing.assert_allclose(read_sidecar(sidecar_path(folder / "cells_001.png")).points, hand)
    np.testing.assert_allclose(read_sidecar(sidecar_path(folder / "cells_004.png")).proposed, [[5.5, 5.5]])
    written = read_sidecar(sidecar_path(folder / "cells_002.png"))
    assert len(written.proposed) == summary["points"] > 0 and len(written.points) == 0
    QApplication.processEvents()
    assert win.image_list.summary.text().startswith("2 of 4 annotated")
    assert "2 with proposals" in win.image_list.summary.text()
    # The shown image (cells_003) keeps its point; opening cells_002 shows the written proposals.
    assert win.session.points.count == 1
    assert win.session.select("cells_002.png")
    assert win.session.proposed.count == summary["points"]
