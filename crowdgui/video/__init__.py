"""Video in the window: Count ▸ Count video… (count over time, frame + heatmap on click, exports) and
File ▸ Extract frames from video….

    from crowdgui.video import install
    video = install(main_window)
"""

from PySide6.QtCore import QCoreApplication

from crowdgui.counting.controller import _open_dataset_folder, _run_history_choice
from crowdgui.video.controller import VideoController


def install(window) -> VideoController:
    """Add the two actions and the "Video counts" dock to the MainWindow; returns the controller."""
    controller = VideoController(window, chosen_checkpoint=lambda: _run_history_choice(window),
                                 dataset_folder=lambda: _open_dataset_folder(window))
    window.menu("&Count").addAction(controller.count_action)
    window.menu("&File").insertAction(window.actions.quit, controller.extract_action)
    QCoreApplication.instance().aboutToQuit.connect(controller.shutdown)
    return controller


__all__ = ["VideoController", "install"]
