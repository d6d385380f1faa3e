"""The image canvas on pyqtgraph: photo, density overlay and points."""

import pyqtgraph as pg

# Must be set before any ImageItem exists: arrays are (rows, cols[, channels]) as numpy and Pillow give them,
# which puts pixel (r, c) at x in [c, c+1), y in [r, r+1), i.e. view coordinates == image coordinates.
pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)

from crowdgui.canvas.image_canvas import ImageCanvas

__all__ = ["ImageCanvas"]
