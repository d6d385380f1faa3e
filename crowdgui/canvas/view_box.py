"""Mouse gestures on the image: turn clicks and drags into requests, zoom and pan the view.

Left click: add a point (or select the point under the cursor). Left drag on a point: move it (one request when
the drag ends). Right click on a point: delete it. Shift + left drag, or any left drag in select mode: box
selection (Ctrl adds to it). Middle or right drag, or left drag with Space held: pan. Wheel: zoom around the
cursor (pyqtgraph's own). The view box never changes points; it asks through its signals.

Model-proposed points (a second layer, ``proposals``) take the same gestures: click selects, right click
deletes, drag moves, the box selects them too; a double click accepts one. Where a point and a proposal
overlap, the point (drawn on top) is the one grabbed.

While a region tool is chosen (``regions``, crowdgui/canvas/region_gestures.py), left clicks and drags go to it
instead; panning and zooming stay as they are.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from crowdgui.canvas.points_layer import PointsLayer
from crowdgui.canvas.region_gestures import RegionGestures

CLICK_SLOP_PX = 4.0  # a left drag on empty space shorter than this still counts as a click


class AnnotationViewBox(pg.ViewBox):
    """A ViewBox with y pointing down, locked aspect and the annotation gestures."""

    add_requested = Signal(float, float)
    delete_requested = Signal(object)  # np.ndarray of indices
    move_requested = Signal(int, float, float)
    proposals_delete_requested = Signal(object)  # np.ndarray of proposal indices
    proposal_move_requested = Signal(int, float, float)
    proposals_accept_requested = Signal(object)  # np.ndarray of proposal indices
    pan_state_changed = Signal(bool)  # a pan drag started (True) or ended (False)

    def __init__(self):
        super().__init__(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.02)
        self.layer: PointsLayer | None = None
        self.proposals: PointsLayer | None = None  # model-proposed points, when the window shows them
        self.regions: RegionGestures | None = None  # the region tools, when the canvas has them
        self.image_size: tuple[int, int] | None = None  # (width, height) of the shown image
        self.space_held = False  # set by the canvas widget, which receives the key events
        self.select_mode = False
        self._gesture: str | None = None
        self._drag_index = -1
        self._drag_layer: PointsLayer | None = None
        self._grab_offset = QPointF()
        self._box = QGraphicsRectItem()
        self._box.setPen(QPen(QColor(255, 221, 0), 0, Qt.PenStyle.DashLine))
        self._box.setBrush(QBrush(QColor(255, 221, 0, 40)))
        self._box.setZValue(1e9)
        self._box.hide()
        self.addItem(self._box, ignoreBounds=True)

    # The window's shortcuts (Delete, Esc, +, -) must reach their actions: pyqtgraph's ViewBox would accept
    # every key (including the ShortcutOverride that decides whether a shortcut fires).
    def keyPressEvent(self, ev):
        ev.ignore()

    def _inside_image(self, pos: QPointF) -> bool:
        if self.image_size is None:
            return False
        width, height = self.image_size
        return 0 <= pos.x() < width and 0 <= pos.y() < height

    def _clamp(self, pos: QPointF) -> tuple[float, float]:
        width, height = self.image_size
        # Stay inside [0, size): a point exactly on the far edge would belong to no pixel.
        x = float(np.clip(pos.x(), 0.0, np.nextafter(width, 0)))
        y = float(np.clip(pos.y(), 0.0, np.nextafter(height, 0)))
        return x, y

    # ------------------------------------------------------------------ clicks
    def _region_tool(self) -> bool:
        return self.regions is not None and self.regions.active

    def mouseClickEvent(self, ev):
        if self.layer is None or self.image_size is None:
            ev.ignore()
            return
        ev.accept()
        pos = self.mapSceneToView(ev.scenePos())
        if self._region_tool():
            self.regions.click(ev.button(), pos, ev.double())
            return
        self._click(ev.button(), ev.modifiers(), pos, double=ev.double())

    def _layers(self) -> list[PointsLayer]:
        return [layer for layer in (self.layer, self.proposals) if layer is not None]

    def _hit(self, x: float, y: float) -> tuple[PointsLayer | None, int | None]:
        """The layer and index of the point or proposal under (x, y); points first (they are drawn on top)."""
        for layer in self._layers():
            index = layer.point_at(x, y)
            if index is not None:
                return layer, index
        return None, None

    def _clear_selections(self, keep: PointsLayer | None = None) -> None:
        for layer in self._layers():
            if layer is not keep:
                layer.clear_selection()

    def _click(self, button, modifiers, pos: QPointF, double: bool = False) -> None:
        layer, index = self._hit(pos.x(), pos.y())
        is_proposal = layer is not None and layer is self.proposals
        extend = bool(modifiers & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier))
        if button == Qt.MouseButton.RightButton:
            if index is not None:
                signal = self.proposals_delete_requested if is_proposal else self.delete_requested
                signal.emit(np.array([index], dtype=np.intp))
        elif button == Qt.MouseButton.LeftButton:
            if index is not None and is_proposal and double:
                self.proposals_accept_requested.emit(np.array([index], dtype=np.intp))
            elif index is not None:
                if not extend:
                    self._clear_selections(keep=layer)
                layer.select([index], toggle=extend)
            elif extend or self.select_mode:
                if not extend:
                    self._clear_selections()
            elif self._inside_image(pos):
                self._clear_selections()
                self.add_requested.emit(pos.x(), pos.y())

    # ------------------------------------------------------------------- drags
    def mouseDragEvent(self, ev, axis=None):
        if self.image_size is None:
            ev.ignore()
            return
        ev.accept()
        if ev.isStart():
            self._start_gesture(ev)
        if self._gesture == "pan":
            self._pan(ev)
        elif self._gesture == "box":
            self._box.setRect(self._view_rect(ev))
        elif self._gesture == "move":
            x, y = self._clamp(self.mapSceneToView(ev.scenePos()) + self._grab_offset)
            self._drag_layer.preview_move(self._drag_index, x, y)
        elif self._gesture == "region":
            self.regions.drag_move(self.mapSceneToView(ev.scenePos()))
        if ev.isFinish():
            self._finish_gesture(ev)

    def _start_gesture(self, ev) -> None:
        button = ev.button()
        down = self.mapSceneToView(ev.buttonDownScenePos())
        shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if button in (Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton) or self.space_held:
            self._gesture = "pan"
            self.pan_state_changed.emit(True)
        elif button != Qt.MouseButton.LeftButton:
            self._gesture = None
        elif self._region_tool():
            # A polygon corner is a click, even one that slipped a little; what else a tool does not take pans.
            if self.regions.tool == "polygon":
                self._gesture = "click"
            else:
                self._gesture = "region" if self.regions.drag_start(down) else "pan"
                if self._gesture == "pan":
                    self.pan_state_changed.emit(True)
        elif shift or self.select_mode:
            self._gesture = "box"
            self._box.setRect(self._view_rect(ev))
            self._box.show()
        else:
            layer, index = self._hit(down.x(), down.y())
            if index is not None:
                self._gesture = "move"
                self._drag_index, self._drag_layer = index, layer
                px, py = layer.points[index]
                self._grab_offset = QPointF(px, py) - down
            else:
                self._gesture = "click"  # decided when the button is released

    def _finish_gesture(self, ev) -> None:
        gesture, self._gesture = self._gesture, None
        if gesture == "pan":
            self.pan_state_changed.emit(False)
        elif gesture == "box":
            self._box.hide()
            add = bool(ev.modifiers() & Qt.KeyboardModifier.ControlModifier)
            for layer in self._layers():
                layer.select(layer.points_in_rect(self._view_rect(ev)), add=add)
        elif gesture == "move":
            layer = self._drag_layer
            x, y = self._clamp(self.mapSceneToView(ev.scenePos()) + self._grab_offset)
            old_x, old_y = layer.points[self._drag_index]
            if (x, y) != (old_x, old_y):
                signal = self.proposal_move_requested if layer is self.proposals else self.move_requested
                signal.emit(self._drag_index, x, y)
            # Show what the model holds now (the move, or the old place if the request was not taken).
            layer.sync_point(self._drag_index)
        elif gesture == "region":
            self.regions.drag_finish(self.mapSceneToView(ev.scenePos()))
        elif gesture == "click":
            travelled = (ev.screenPos() - ev.buttonDownScreenPos())
            if (travelled.x() ** 2 + travelled.y() ** 2) ** 0.5 <= CLICK_SLOP_PX:
                down = self.mapSceneToView(ev.buttonDownScenePos())
                if self._region_tool():
                    self.regions.click(Qt.MouseButton.LeftButton, down, False)
                else:
                    self._click(Qt.MouseButton.LeftButton, ev.modifiers(), down)

    def _view_rect(self, ev) -> QRectF:
        return QRectF(self.mapSceneToView(ev.buttonDownScenePos()),
                      self.mapSceneToView(ev.scenePos())).normalized()

    def _pan(self, ev) -> None:
        delta = self.mapSceneToView(ev.lastScenePos()) - self.mapSceneToView(ev.scenePos())
        self.translateBy(x=delta.x(), y=delta.y())
        self.sigRangeChangedManually.emit(self.state["mouseEnabled"])
