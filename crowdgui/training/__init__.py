"""Training from the window: ``install(main_window)`` adds the Training menu, the monitor and the run history.

    from crowdgui.training import install
    training = install(window)            # a TrainingController
    training.selected_checkpoint()        # the model chosen for counting in the open dataset (or None)
    training.model_selected.connect(...)  # emitted when the user picks another one
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtWidgets import QMessageBox

from crowdgui.training.controller import TrainingController


class _CloseGuard(QObject):
    """Asks before the window closes during training; stops the run cleanly (resumable) if the user agrees."""

    def __init__(self, window, controller: TrainingController):
        super().__init__(window)
        self.window, self.controller = window, controller

    def eventFilter(self, watched, event) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Close and self.controller.is_running():
            answer = QMessageBox.question(
                self.window, "Training in progress",
                "A model is still training. Stop it and quit?\n\nThe run is saved and can be resumed later "
                "(Training ▸ Resume).")
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return True
            self.controller.shutdown()
        return False


def install(window) -> TrainingController:
    """Add training to CrowdGUI's MainWindow: Training menu, "Training" and "Models" docks; returns the controller.

    Uses the window's ``add_dock``, ``menu``, ``session`` (dataset_opened / dataset_closed, save_dirty),
    ``preferences.settings`` and ``show_notice``.
    """
    session = window.session
    controller = TrainingController(window, settings=window.preferences.settings, save_all=session.save_dirty)
    controller.monitor_dock = window.add_dock(controller.monitor, "Training", Qt.DockWidgetArea.BottomDockWidgetArea,
                                              "dock_training")
    controller.history_dock = window.add_dock(controller.history, "Models", Qt.DockWidgetArea.RightDockWidgetArea,
                                              "dock_models")
    controller.monitor_dock.hide()  # shown when a run starts; View ▸ Panels brings it back any time
    controller.training_started.connect(lambda _run: (controller.monitor_dock.show(),
                                                      controller.monitor_dock.raise_()))
    controller.notice.connect(window.show_notice)

    menu = window.menu("&Training")
    menu.addAction(controller.train_action)
    menu.addAction(controller.cancel_action)
    menu.addAction(controller.resume_action)
    menu.addSeparator()
    menu.addAction(controller.monitor_dock.toggleViewAction())
    menu.addAction(controller.history_dock.toggleViewAction())

    session.dataset_opened.connect(lambda dataset: controller.set_dataset(dataset.folder))
    # Per-class validation curves in the dataset's class colours.
    session.dataset_opened.connect(lambda dataset: controller.monitor.curves.set_class_colours(
        {object_class.name: object_class.colour for object_class in dataset.settings.classes}))
    session.dataset_closed.connect(lambda: controller.set_dataset(None))
    if session.dataset is not None:
        controller.set_dataset(session.dataset.folder)
    window.installEventFilter(_CloseGuard(window, controller))
    QCoreApplication.instance().aboutToQuit.connect(controller.shutdown)
    return controller
