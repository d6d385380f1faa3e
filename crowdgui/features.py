"""The features that install themselves into the main window, in one place.

``build_window()`` is what ``python main.py`` shows and what the end-to-end tests drive: the annotation window
plus the density preview, training, batch counting, proposed points, video and the hints of where to
click next, each added by its own ``install(window)``.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

from crowdgui.counting import install as install_counting
from crowdgui.density.controller import install as install_density
from crowdgui.hints import install as install_hints
from crowdgui.main_window import MainWindow
from crowdgui.proposals import install as install_proposals
from crowdgui.training import install as install_training
from crowdgui.video import install as install_video


def install_features(window: MainWindow) -> MainWindow:
    """Add density preview, training, counting and proposals to ``window`` (their docks, menus, actions)."""
    window.density = install_density(window)
    window.training = install_training(window)
    # Suggested density settings applied in the training dialog are the dataset's: the density dock shows them.
    window.training.density_applied.connect(window.density.show_dataset_settings)
    window.counting = install_counting(window)
    window.proposals = install_proposals(window)  # after training: it proposes with the chosen model
    window.video = install_video(window)
    window.hints = install_hints(window)  # after training: next image (N) and missed objects (M) need its model
    # The window restored its layout before these docks existed; restore again so they return where the
    # user left them.
    window.preferences.restore_window(window)
    return window


def build_window(settings: QSettings | None = None, **kwargs) -> MainWindow:
    """The complete CrowdGUI window (``settings``: a QSettings to use instead of the user's)."""
    return install_features(MainWindow(settings, **kwargs))
