"""Batch counting from the window: "Count folder…", the results dock with heatmaps, exports.

    from crowdgui.counting import install
    counting = install(main_window)   # adds the Count menu and the "Count results" dock
"""

from crowdgui.counting.controller import CountingController, install

__all__ = ["CountingController", "install"]
