"""The density preview in the window: a dock with the density settings and a live heatmap over the image.

``install(main_window)`` (controller.py) adds the dock and its View-menu toggle.
"""
