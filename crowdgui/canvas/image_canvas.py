"""The image canvas: the photo, a density overlay and the points, with zoom, pan and annotation gestures.

View coordinates are image coordinates: with row-major image order pyqtgraph puts pixel (r, c) on the square
x in [c, c+1), y in [r, r+1), and the y axis points down. The canvas turns input into requests
(``point_add_requested`` ...) and never edits points itself.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QWidget

from crowdgui.annotation.points_model import PointsModel
from crowdgui.annotation.regions_model import RegionsModel
from crowdgui.canvas.keyboard import CanvasKeyboard
from crowdgui.canvas.overlay import DensityOverlay
from crowdgui.canvas.points_layer import PointsLayer
from crowdgui.canvas.proposals_layer import PROPOSAL_COLOR_HEX, ProposalsLayer
from crowdgui.canvas.region_gestures import RegionGestures
from crowdgui.canvas.regions_layer import RegionsLayer
from crowdgui.canvas.view_box import AnnotationViewBox

ZOOM_STEP = 1.25
MIN_VISIBLE_PIXELS = 6  # the deepest zoom shows this many image pixels across


def count_text(count: int, breakdown: str, proposed: int) -> str:
    """The count label: the points (``breakdown``: per class, or ""), and the proposals waiting, if any."""
    text = f"{count:,} point{'s' if count != 1 else ''}{breakdown}"
    if proposed:  # the orange ring doubles as the legend of the proposals drawn on the image
        text += f' <span style="color:{PROPOSAL_COLOR_HEX}">+ ○ {proposed:,} proposed</span>'
    return text


class ImageCanvas(pg.GraphicsView):
    """Shows one image with its points and overlay; emits what the user asks for.

    Signals:
        point_add_requested(float x, float y)
        points_delete_requested(np.ndarray indices)
        point_move_requested(int index, float x, float y)
        proposals_delete_requested(np.ndarray indices)     model-proposed points (see bind_proposals)
        proposal_move_requested(int index, float x, float y)
        proposals_accept_requested(np.ndarray indices)     a double click on a proposal
        region_add_requested(str kind, np.ndarray polygon), region_change_requested(int index, np.ndarray
        polygon), region_delete_requested(int index), region_count_requested(int index): see region_gestures.py
        cursor_moved(float x, float y), cursor_left()   image coordinates under the mouse; it left the image
        selection_changed(int count)      selected points and proposals together
        zoom_changed(float factor)       screen pixels per image pixel
    """

    point_add_requested = Signal(float, float)
    points_delete_requested = Signal(object)
    point_move_requested = Signal(int, float, float)
    proposals_delete_requested = Signal(object)
    proposal_move_requested = Signal(int, float, float)
    proposals_accept_requested = Signal(object)
    region_add_requested = Signal(str, object)
    region_change_requested = Signal(int, object)
    region_delete_requested = Signal(int)
    region_count_requested = Signal(int)
    cursor_moved = Signal(float, float)
    cursor_left = Signal()
    selection_changed = Signal(int)
    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, background=QColor(38, 40, 44))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.view_box = AnnotationViewBox()
        self.setCentralItem(self.view_box)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.image_item.setZValue(0)
        self.view_box.addItem(self.image_item)
        self.overlay = DensityOverlay()
        self.view_box.addItem(self.overlay, ignoreBounds=True)
        self.points_layer = PointsLayer(self.view_box, self)
        self.view_box.layer = self.points_layer
        self.proposals_layer = ProposalsLayer(self.view_box, self)
        self.regions_layer = RegionsLayer(self.view_box, self)
        self.region_gestures = RegionGestures(self.regions_layer, self)
        self.view_box.regions = self.region_gestures
        self._image: np.ndarray | None = None
        self._model: PointsModel | None = None
        self._proposals: PointsModel | None = None
        self.count_label = QLabel(self)
        self.count_label.setObjectName("countLabel")
        self.count_label.move(12, 10)
        self.count_label.hide()
        # Per-class counts after the total (" = 120 live + 118 dead"), set by the classes feature.
        self.count_breakdown = lambda: ""

        self.view_box.add_requested.connect(self.point_add_requested)
        self.view_box.delete_requested.connect(self.points_delete_requested)
        self.view_box.move_requested.connect(self.point_move_requested)
        self.view_box.proposals_delete_requested.connect(self.proposals_delete_requested)
        self.view_box.proposal_move_requested.connect(self.proposal_move_requested)
        self.view_box.proposals_accept_requested.connect(self.proposals_accept_requested)
        self.keyboard = CanvasKeyboard(self)
        self.installEventFilter(self.keyboard)
        self.view_box.pan_state_changed.connect(self.keyboard.on_pan_state)
        self.region_gestures.add_requested.connect(self.region_add_requested)
        self.region_gestures.change_requested.connect(self.region_change_requested)
        self.region_gestures.delete_requested.connect(self.region_delete_requested)
        self.region_gestures.count_requested.connect(self.region_count_requested)
        self.view_box.sigRangeChanged.connect(lambda *_: self.zoom_changed.emit(self.zoom_factor()))
        self.points_layer.selection_changed.connect(self._on_selection_changed)
        self.proposals_layer.selection_changed.connect(self._on_selection_changed)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)

    # ------------------------------------------------------------------ image
    def set_image(self, image: np.ndarray | None, fit: bool = True) -> None:
        """Show an (H, W, 3) uint8 image (None: nothing). Clears the overlay and the selection."""
        self._image = image
        self.set_overlay(None)
        self.clear_selection()
        if image is None:
            self.image_item.clear()
            self.view_box.image_size = None
            self._update_count()
            return
        height, width = image.shape[:2]
        self.image_item.setImage(image, levels=(0, 255), autoLevels=False)
        self.view_box.image_size = (width, height)
        self.region_gestures.cancel()  # redraws the regions: whether one is usable depends on the image size
        self.view_box.setLimits(minXRange=MIN_VISIBLE_PIXELS, minYRange=MIN_VISIBLE_PIXELS,
                                maxXRange=max(width, height) * 20, maxYRange=max(width, height) * 20)
        self._update_count()
        if fit:
            self.fit_to_window()

    @property
    def image(self) -> np.ndarray | None:
        return self._image

    def pixel_value(self, x: float, y: float) -> tuple[int, ...] | None:
        """The RGB value of the pixel containing image point (x, y), None outside the image."""
        if self._image is None or x < 0 or y < 0:
            return None
        row, col = int(y), int(x)
        if row >= self._image.shape[0] or col >= self._image.shape[1]:
            return None
        return tuple(int(v) for v in np.atleast_1d(self._image[row, col]))

    # ----------------------------------------------------------------- points
    def bind_points(self, model: PointsModel) -> None:
        """Draw this model's points (the canvas only reads it)."""
        if self._model is not None:
            self._model.points_changed.disconnect(self._update_count)
        self._model = model
        self.points_layer.bind(model)
        model.points_changed.connect(self._update_count)
        self._update_count()

    def bind_proposals(self, model: PointsModel) -> None:
        """Draw this model's points as proposals, apart from the points; they take the same gestures."""
        if self._proposals is not None:
            self._proposals.points_changed.disconnect(self._update_count)
        self._proposals = model
        self.proposals_layer.bind(model)
        self.view_box.proposals = self.proposals_layer
        model.points_changed.connect(self._update_count)
        self._update_count()

    def bind_regions(self, model: RegionsModel) -> None:
        """Draw this model's regions (the canvas only reads it)."""
        self.regions_layer.bind(model)

    def set_region_tool(self, tool: str | None, kind: str | None = None) -> None:
        """Give the left mouse button to a region tool ("rectangle", "polygon", "edit"; None: the points)
        drawing regions of ``kind``."""
        self.region_gestures.set_tool(tool, kind)
        if tool is not None:
            self.clear_selection()

    def set_point_style(self, size: float, color: QColor) -> None:
        self.points_layer.set_style(size, QColor(color))
        self.proposals_layer.set_style(size)

    def set_count_text(self, text: str | None) -> None:
        """Show ``text`` in the count label at the top left (a feature's own count, e.g. an estimate);
        None shows the number of points again. Any points change or new image also restores the points count.
        """
        if text is None:
            self._update_count()
            return
        self.count_label.setText(text)
        self.count_label.adjustSize()
        self.count_label.setVisible(self._image is not None)

    def _update_count(self, *_args) -> None:
        count = self._model.count if self._model is not None else 0
        proposed = self._proposals.count if self._proposals is not None else 0
        self.count_label.setText(count_text(count, self.count_breakdown(), proposed))
        self.count_label.adjustSize()
        self.count_label.setVisible(self._image is not None)

    # ---------------------------------------------------------------- overlay
    def set_overlay(self, array: np.ndarray | None, stride: int = 1, levels=None) -> None:
        """Draw a float map over the image (a density map at ``stride``); None removes it.

        ``levels`` (low, high) map to the ends of the colormap; default 0 and the map's maximum.
        """
        self.overlay.show_map(array, stride=stride, levels=levels)

    def set_overlay_lut(self, lut: np.ndarray) -> None:
        """Colour the overlay through ``lut``: an (N, 3) or (N, 4) uint8 table (RGBA alpha makes low values
        see-through, as the default :func:`~crowdgui.canvas.overlay.transparent_low_lut` does)."""
        self.overlay.set_lut(lut)

    def set_overlay_opacity(self, opacity: float) -> None:
        self.overlay.setOpacity(float(np.clip(opacity, 0.0, 1.0)))

    # ------------------------------------------------------------- selection
    def selected_indices(self) -> np.ndarray:
        return self.points_layer.selected

    def selected_proposals(self) -> np.ndarray:
        return self.proposals_layer.selected

    def select_all(self) -> None:
        self.points_layer.select(self.points_layer.visible_indices())

    def clear_selection(self) -> None:
        self.points_layer.clear_selection()
        self.proposals_layer.clear_selection()
        if self.region_gestures.tool == "polygon":
            self.region_gestures.cancel()  # Esc abandons the polygon being drawn
        self.regions_layer.select(None)

    def delete_selection(self) -> None:
        """Ask to delete the selected points and proposals, or the selected region in the edit tool."""
        if self.region_gestures.delete_selected():
            return
        selected = self.points_layer.selected
        proposals = self.proposals_layer.selected
        if len(selected):
            self.points_delete_requested.emit(selected)
        if len(proposals):
            self.proposals_delete_requested.emit(proposals)

    def _on_selection_changed(self, _count: int) -> None:
        self.selection_changed.emit(len(self.points_layer.selected) + len(self.proposals_layer.selected))

    def set_select_mode(self, on: bool) -> None:
        """In select mode a left drag draws a selection box and a click does not add points."""
        self.view_box.select_mode = bool(on)

    # ------------------------------------------------------------------- view
    def fit_to_window(self) -> None:
        if self._image is not None:
            height, width = self._image.shape[:2]
            self.view_box.setRange(QRectF(0, 0, width, height), padding=0.02)

    def zoom_actual_pixels(self) -> None:
        """One image pixel per screen pixel, keeping the centre of the view."""
        center = self.view_box.viewRect().center()
        rect = self.view_box.boundingRect()
        half_w, half_h = rect.width() / 2, rect.height() / 2
        self.view_box.setRange(xRange=(center.x() - half_w, center.x() + half_w),
                               yRange=(center.y() - half_h, center.y() + half_h), padding=0)

    def zoom_in(self) -> None:
        self.view_box.scaleBy(s=(1 / ZOOM_STEP, 1 / ZOOM_STEP))

    def zoom_out(self) -> None:
        self.view_box.scaleBy(s=(ZOOM_STEP, ZOOM_STEP))

    def zoom_factor(self) -> float:
        """Screen pixels per image pixel."""
        size_x, _ = self.view_box.viewPixelSize()
        return 1.0 / size_x if size_x > 0 else 1.0

    # ------------------------------------------------------------ input state
    def _on_mouse_moved(self, scene_pos) -> None:
        if self._image is None:
            return
        pos = self.view_box.mapSceneToView(scene_pos)
        if self.pixel_value(pos.x(), pos.y()) is None:
            self.cursor_left.emit()
        else:
            self.cursor_moved.emit(pos.x(), pos.y())
