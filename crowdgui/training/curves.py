"""The two live training plots: loss per step, and validation MAE/RMSE per epoch (and MAE per class, thin
lines in the class colours, when the dataset has 2+ classes).

New points arrive with every progress event (several per second on a GPU); redrawing on each one would cost the
annotating user frame time, so points are collected in plain lists and pushed to pyqtgraph at most every
``REDRAW_MS`` by a timer.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QWidget

REDRAW_MS = 250

LOSS_COLOR = "#4c9be8"
MAE_COLOR = "#f0883e"
RMSE_COLOR = "#a371f7"
# Class curves without a colour in the dataset settings (a run watched after its dataset changed).
CLASS_PALETTE = ("#34c759", "#ff3b30", "#0a84ff", "#ffcc00", "#af52de", "#ff9500", "#5ac8fa", "#ff2d55")


class LossAxis(pg.AxisItem):
    """A log axis labelled 1, 2, 5 x 10^n in plain numbers (500, 1k, 2k): pyqtgraph labels every minor tick
    (9·10², 8·10², 7·10² ...), which overlap when the loss spans less than a decade."""

    def logTickStrings(self, values, scale, spacing):
        labels = []
        for value in 10 ** np.asarray(values, dtype=float) * scale:
            mantissa = value / 10 ** np.floor(np.log10(value)) if value > 0 else 0
            labels.append(_plain(value) if round(mantissa, 6) in (1, 2, 5) else "")
        return labels


def _plain(value: float) -> str:
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:g}{suffix}"
    return f"{value:g}"


def _plot(title: str, x_label: str, y_label: str, left: pg.AxisItem | None = None) -> pg.PlotWidget:
    plot = pg.PlotWidget(background=None, axisItems={"left": left} if left is not None else None)
    plot.setTitle(title, size="9pt")
    plot.setLabel("bottom", x_label)
    plot.setLabel("left", y_label)
    plot.showGrid(x=True, y=True, alpha=0.2)
    plot.setMenuEnabled(False)
    plot.setMinimumHeight(140)
    # Thousands of steps stay cheap: draw only what is visible, at most one point per pixel column.
    plot.setClipToView(True)
    plot.setDownsampling(auto=True, mode="peak")
    return plot


class TrainingCurves(QWidget):
    """Loss (left) and validation error (right) of the run being watched."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.loss_plot = _plot("Training loss", "step", "loss (log scale)", left=LossAxis("left"))
        # A loss falls by orders of magnitude (and spikes early): only a log axis keeps the whole run readable.
        self.loss_plot.setLogMode(y=True)
        self.val_plot = _plot("Validation error (counts per image)", "epoch", "error")
        self.val_plot.addLegend(offset=(-10, 10))
        self._loss_curve = self.loss_plot.plot(pen=pg.mkPen(LOSS_COLOR, width=1.5))
        self._mae_curve = self.val_plot.plot(pen=pg.mkPen(MAE_COLOR, width=2), symbol="o", symbolSize=6,
                                             symbolBrush=MAE_COLOR, symbolPen=None, name="MAE")
        self._rmse_curve = self.val_plot.plot(pen=pg.mkPen(RMSE_COLOR, width=2, style=pg.QtCore.Qt.DashLine),
                                              symbol="s", symbolSize=5, symbolBrush=RMSE_COLOR, symbolPen=None,
                                              name="RMSE")
        self.class_colours: dict[str, str] = {}
        self._class_curves: dict[str, pg.PlotDataItem] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.loss_plot)
        layout.addWidget(self.val_plot)
        self.clear()
        self._dirty = False
        self._timer = QTimer(self, interval=REDRAW_MS)
        self._timer.timeout.connect(self._redraw)
        self._timer.start()

    def clear(self) -> None:
        self.steps: list[float] = []
        self.losses: list[float] = []
        self.epochs: list[float] = []
        self.maes: list[float] = []
        self.rmses: list[float] = []
        self.class_maes: dict[str, list[float]] = {}  # class -> MAE per epoch (NaN where it had none)
        for curve in getattr(self, "_class_curves", {}).values():
            self.val_plot.removeItem(curve)
            self.val_plot.plotItem.legend.removeItem(curve)
        self._class_curves = {}
        self._dirty = True

    def set_class_colours(self, colours: dict[str, str]) -> None:
        """The colour of each class's MAE curve (from the dataset's settings)."""
        self.class_colours = dict(colours)

    def add_loss(self, step: float, loss: float) -> None:
        if not loss > 0:  # a log axis cannot show it (the engine stops on a non-finite loss anyway)
            return
        self.steps.append(float(step))
        self.losses.append(float(loss))
        self._dirty = True

    def add_epoch(self, epoch: float, mae: float | None, rmse: float | None,
                  per_class: dict[str, float] | None = None) -> None:
        """One validation result (``per_class``: MAE of each class); an epoch seen again (a resumed run replays
        nothing, but be safe) replaces it."""
        if mae is None and rmse is None:
            return
        if self.epochs and epoch <= self.epochs[-1]:
            keep = sum(1 for e in self.epochs if e < epoch)
            del self.epochs[keep:], self.maes[keep:], self.rmses[keep:]
            for values in self.class_maes.values():
                del values[keep:]
        self.epochs.append(float(epoch))
        self.maes.append(float("nan") if mae is None else float(mae))
        self.rmses.append(float("nan") if rmse is None else float(rmse))
        per_class = per_class or {}
        for name in per_class:
            self.class_maes.setdefault(name, [])
        for name, values in self.class_maes.items():
            values.extend([float("nan")] * (len(self.epochs) - 1 - len(values)))  # epochs before it appeared
            value = per_class.get(name)
            values.append(float("nan") if value is None else float(value))
        self._dirty = True

    def _class_curve(self, name: str) -> pg.PlotDataItem:
        if name not in self._class_curves:
            colour = self.class_colours.get(name) or CLASS_PALETTE[len(self._class_curves) % len(CLASS_PALETTE)]
            self._class_curves[name] = self.val_plot.plot(pen=pg.mkPen(colour, width=1.5), symbol="t",
                                                          symbolSize=5, symbolBrush=colour, symbolPen=None,
                                                          name=f"MAE {name}")
        return self._class_curves[name]

    def _redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self._loss_curve.setData(self.steps, self.losses)
        self._mae_curve.setData(self.epochs, self.maes, connect="finite")
        self._rmse_curve.setData(self.epochs, self.rmses, connect="finite")
        for name, values in self.class_maes.items():
            self._class_curve(name).setData(self.epochs, values, connect="finite")
        # Epochs are whole numbers: no 1.2, 1.4 ... ticks while there are few of them.
        axis = self.val_plot.getAxis("bottom")
        if self.epochs and self.epochs[-1] <= 12:
            axis.setTickSpacing(1, 1)
        else:
            axis.setTickSpacing()

    def flush(self) -> None:
        """Draw pending points now (tests and the end of a run)."""
        self._redraw()
