"""Wires the density dock into the window: points and settings in, heatmap and figures out.

``install(main_window)`` is the one call the main window needs. The controller listens to the annotation
session (dataset opened, image changed, points changed), keeps the dataset's density settings in step with the
panel (saved to the dataset's crowdgui.json, which training uses by default), and puts the preview's maps on the
canvas overlay.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget

from crowdgui.density.colormaps import DEFAULT_COLORMAP, DEFAULT_SCALE
from crowdgui.density.panel import DEFAULT_OPACITY, DensityPanel
from crowdgui.density.preview import DensityPreview, PreviewResult
from crowdgui.density.suggestion import SuggestionWorker
from engine.dataset.classes import class_indices
from engine.density import DensitySettings

DOCK_OBJECT_NAME = "densityDock"


class DensityController(QObject):
    """The density preview feature: owns the dock's panel and the preview worker.

    ``session``: the AnnotationSession (dataset, current image, points model); ``canvas``: the ImageCanvas
    (``set_overlay``, ``set_overlay_opacity`` and its ``overlay`` image item for the colour table);
    ``settings``: QSettings for the overlay look (colormap, opacity, on/off), which belongs to the user, not
    to a dataset.
    """

    def __init__(self, session, canvas, settings: QSettings | None = None, parent: QObject | None = None,
                 debounce_ms: int | None = None):
        super().__init__(parent)
        self.session = session
        self.canvas = canvas
        self.qsettings = settings
        self.panel = DensityPanel()
        self.preview = DensityPreview(self) if debounce_ms is None else DensityPreview(self, debounce_ms)
        self.preview.warm_up()
        self.last_result: PreviewResult | None = None
        self.dock: QDockWidget | None = None
        self.overlay_action: QAction | None = None

        self.panel.set_overlay_look(*self._stored_look())
        self._apply_look()

        session.dataset_opened.connect(self._on_dataset_opened)
        session.dataset_closed.connect(self._on_dataset_closed)
        session.current_image_changed.connect(self._on_image_changed)
        session.points.points_changed.connect(self.schedule)
        session.points.points_changed.connect(self._note_points_edit)
        session.regions.regions_changed.connect(self.schedule)
        self.panel.settings_changed.connect(self._on_settings_changed)
        self.panel.class_changed.connect(self.schedule)
        self.panel.overlay_toggled.connect(self._on_overlay_toggled)
        for look_changed in (self.panel.colormap_changed, self.panel.scale_changed, self.panel.opacity_changed):
            look_changed.connect(self._on_look_changed)
        self.preview.map_ready.connect(self._on_map_ready)
        self.preview.failed.connect(self.panel.set_message)
        self.suggester = SuggestionWorker(self)
        self.points_edited = False  # since the last suggestion was asked for
        self.suggester.ready.connect(self.panel.suggestion_box.set_suggestion)
        self.suggester.failed.connect(self.panel.suggestion_box.set_failure)
        self.panel.suggestion_box.apply_requested.connect(self._on_suggestion_applied)

        if session.dataset is not None:
            self._on_dataset_opened(session.dataset)
        self.schedule()

    # ------------------------------------------------------------------ inputs
    def schedule(self, *_args) -> None:
        """Ask for a new map of the current points (debounced); clear everything when there is no image."""
        image = self.session.image
        if image is not None and not self._wanted():
            # Nobody looks at the map (overlay off, dock hidden): skip the work until someone does.
            self.preview.clear()
            self.last_result = None
            return
        if image is None:
            self.preview.clear()
            self.last_result = None
            self.canvas.set_overlay(None)
            self.panel.set_summary(None, None)
            self.panel.set_scale(None)
            return
        points = self._points_of_chosen_class()
        self.panel.set_summary(len(points), None)
        self.preview.request(points, image.shape[:2], self.panel.settings(), self.session.regions.regions)

    def _points_of_chosen_class(self):
        """The current points, or only the chosen class's (the classes chooser follows the dataset's list)."""
        dataset, points = self.session.dataset, self.session.points
        names = dataset.settings.class_names() if dataset is not None else []
        self.panel.set_classes(names)
        chosen = self.panel.chosen_class()
        if not chosen:
            return points.points
        return points.points[class_indices(points.labels, points.count, names) == names.index(chosen)]

    def _wanted(self) -> bool:
        return self.panel.overlay_visible() or self.dock is None or self.dock.isVisible()

    def _on_dataset_opened(self, dataset) -> None:
        self.panel.set_settings(dataset.settings.density)
        self._apply_look()
        self.panel.set_message(None)
        self.panel.suggestion_box.set_working()
        self.suggester.request(dataset.folder)
        self.points_edited = False

    def _note_points_edit(self, change) -> None:
        if change.kind != "reset":  # a reset is another image shown, not an edit
            self.points_edited = True

    def _on_dataset_closed(self) -> None:
        self.suggester.cancel()
        self.panel.suggestion_box.set_suggestion(None)
        self.panel.set_settings(DensitySettings())
        self._apply_look()
        self.schedule()

    def _on_image_changed(self, _name: str) -> None:
        # The canvas has dropped the previous image's overlay; the old map must not come back on this one.
        self.preview.clear()
        self.last_result = None
        self.schedule()
        # The image left behind has new points: suggest again (reading every sidecar of a 400-image dataset
        # takes ~0.5 s of CPU, so only then).
        if self.session.dataset is not None and self.points_edited:
            self.points_edited = False
            self.suggester.request(self.session.dataset.folder)

    def _on_suggestion_applied(self, settings: DensitySettings) -> None:
        """Apply (or Undo) in the suggestion box: the dataset's settings become ``settings``, saved."""
        self.panel.set_settings(settings)
        self._on_settings_changed(settings)

    def show_dataset_settings(self, settings: DensitySettings) -> None:
        """The dataset's density settings were changed and saved elsewhere (the training dialog's Apply)."""
        if self.session.dataset is not None:
            self.session.dataset.settings.density = settings
        self.panel.set_settings(settings)
        self._apply_look()
        self.schedule()

    def _on_settings_changed(self, settings: DensitySettings) -> None:
        self._apply_look()  # the "Auto" scale follows the mode
        self.schedule()
        dataset = self.session.dataset
        if dataset is None:
            return
        dataset.settings.density = settings
        try:
            dataset.save_settings()
        except OSError as exc:
            why = "the folder is read-only" if isinstance(exc, PermissionError) else (exc.strerror or str(exc))
            self.panel.set_message(f"The density settings are used but could not be saved to the dataset's "
                                   f"crowdgui.json ({why}); training will not see them.")
        else:
            self.panel.set_message(None)

    # ----------------------------------------------------------------- outputs
    def _on_map_ready(self, result: PreviewResult) -> None:
        self.last_result = result
        self.panel.set_message(None)
        self.panel.set_summary(result.count, result.integral, result.ignored)
        # A map at stride s holds sums over s x s blocks: per image pixel the top is levels / s^2.
        self.panel.set_scale(result.levels[1] / (result.stride * result.stride))
        self._show_overlay()

    def _show_overlay(self) -> None:
        result = self.last_result
        if result is None or not self.panel.overlay_visible():
            self.canvas.set_overlay(None)
        else:
            self.canvas.set_overlay(result.density, stride=result.stride, levels=result.levels)

    def _on_overlay_toggled(self, visible: bool) -> None:
        self._store_look()
        if visible and self.last_result is None:
            self.schedule()
        self._show_overlay()

    def _on_look_changed(self, *_args) -> None:
        self._store_look()
        self._apply_look()

    def _apply_look(self) -> None:
        self.canvas.set_overlay_lut(self.panel.lut())
        self.canvas.set_overlay_opacity(self.panel.opacity())

    # ------------------------------------------------------------ preferences
    def _stored_look(self) -> tuple[bool, str, float, str]:
        if self.qsettings is None:
            return True, DEFAULT_COLORMAP, DEFAULT_OPACITY, DEFAULT_SCALE
        visible = str(self.qsettings.value("density/overlay_visible", "true")).lower() in ("true", "1")
        colormap = str(self.qsettings.value("density/colormap", DEFAULT_COLORMAP))
        try:
            opacity = float(self.qsettings.value("density/opacity", DEFAULT_OPACITY))
        except (TypeError, ValueError):
            opacity = DEFAULT_OPACITY
        scale = str(self.qsettings.value("density/scale", DEFAULT_SCALE))
        return visible, colormap, opacity, scale

    def _store_look(self) -> None:
        if self.qsettings is None:
            return
        self.qsettings.setValue("density/overlay_visible", self.panel.overlay_visible())
        self.qsettings.setValue("density/colormap", self.panel.colormap())
        self.qsettings.setValue("density/opacity", self.panel.opacity())
        self.qsettings.setValue("density/scale", self.panel.scale())


def install(main_window) -> DensityController:
    """Add the density dock and its View-menu entries to CrowdGUI's MainWindow; returns the controller.

    Uses ``main_window.session`` (AnnotationSession), ``main_window.canvas`` (ImageCanvas),
    ``main_window.preferences.settings`` (QSettings, for the overlay look), ``main_window.add_dock`` (the dock
    is listed in View > Panels) and ``main_window.menu("View")``, where a checkable "Density Overlay" (H)
    turns the heatmap on and off. The controller is the window's child, so it lives as long as the window.
    """
    preferences = getattr(main_window, "preferences", None)
    controller = DensityController(main_window.session, main_window.canvas,
                                   settings=getattr(preferences, "settings", None), parent=main_window)
    dock = main_window.add_dock(controller.panel, "Density", Qt.DockWidgetArea.RightDockWidgetArea,
                                object_name=DOCK_OBJECT_NAME)
    controller.dock = dock
    classes = getattr(main_window, "classes", None)  # the class chooser follows classes added or removed
    if classes is not None:
        classes.classes_changed.connect(controller.schedule)
    dock.visibilityChanged.connect(lambda visible: visible and controller.schedule())

    toggle = QAction("Density &Overlay", main_window, checkable=True)
    toggle.setShortcut(QKeySequence("H"))
    toggle.setStatusTip("Show the density map of the points as a heatmap over the image")
    toggle.setChecked(controller.panel.overlay_visible())
    toggle.toggled.connect(controller.panel.overlay_check.setChecked)
    controller.panel.overlay_toggled.connect(toggle.setChecked)
    main_window.addAction(toggle)  # the shortcut works even while the menu is closed
    view_menu = main_window.menu("View")
    view_menu.addSeparator()
    view_menu.addAction(toggle)
    controller.overlay_action = toggle
    return controller
