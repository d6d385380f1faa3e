"""The training monitor draws one validation MAE curve per class (2+ classes) beside the total."""

from __future__ import annotations

import numpy as np

from crowdgui.training.monitor import TrainingMonitor


def _events():
    return [{"type": "epoch", "epoch": 1, "val_mae": 3.0, "val_rmse": 4.0,
             "val_mae_per_class": {"live": 2.0, "dead": 1.0}},
            {"type": "epoch", "epoch": 2, "val_mae": 2.0, "val_rmse": 3.0,
             "val_mae_per_class": {"live": 1.5, "dead": 0.5}}]


def test_one_curve_per_class_in_the_class_colours(qtbot):
    monitor = TrainingMonitor()
    qtbot.addWidget(monitor)
    monitor.curves.set_class_colours({"live": "#34c759"})
    monitor.begin("run", "python -m engine train", epochs_total=2)
    for event in _events():
        monitor.handle_event(event)
    monitor.curves.flush()
    curves = monitor.curves._class_curves
    assert set(curves) == {"live", "dead"}
    x, y = curves["live"].getData()
    assert x.tolist() == [1.0, 2.0] and y.tolist() == [2.0, 1.5]
    assert curves["dead"].getData()[1].tolist() == [1.0, 0.5]
    assert curves["live"].opts["pen"].color().name() == "#34c759"
    assert curves["dead"].opts["pen"].color().name() != "#34c759"  # a palette colour, not a copy
    assert "val MAE dead 0.5" in monitor.log.toPlainText()
    assert monitor.curves._mae_curve.getData()[1].tolist() == [3.0, 2.0]  # the total beside them


def test_a_one_class_run_draws_no_class_curves_and_a_new_run_drops_them(qtbot):
    monitor = TrainingMonitor()
    qtbot.addWidget(monitor)
    monitor.begin("run", "cmd", epochs_total=2)
    monitor.handle_event(_events()[0])
    monitor.curves.flush()
    assert len(monitor.curves._class_curves) == 2
    monitor.begin("one class", "cmd", epochs_total=2)
    monitor.handle_event({"type": "epoch", "epoch": 1, "val_mae": 3.0, "val_rmse": 4.0})
    monitor.curves.flush()
    assert monitor.curves._class_curves == {}
    items = monitor.curves.val_plot.plotItem.listDataItems()
    assert len(items) == 2 and np.allclose(items[0].getData()[1], [3.0])


def test_per_class_figures_follow_the_run_s_classes_not_the_alphabet(qtbot):
    """Qt hands an event's per-class map over with sorted keys; the run's start event names the channels' order."""
    monitor = TrainingMonitor()
    qtbot.addWidget(monitor)
    monitor.begin("run", "cmd", epochs_total=1)
    monitor.handle_event({"type": "start", "total": 10, "classes": ["live", "dead"]})
    monitor.handle_event({"type": "epoch", "epoch": 1, "val_mae": 3.0, "val_rmse": 4.0,
                          "val_mae_per_class": {"dead": 1.0, "live": 2.0}})
    monitor.curves.flush()
    assert "val MAE live 2  val MAE dead 1" in monitor.log.toPlainText()
    assert monitor.stat_mae.toolTip() == "live: 2\ndead: 1"
    assert list(monitor.curves._class_curves) == ["live", "dead"]  # the legend's order
