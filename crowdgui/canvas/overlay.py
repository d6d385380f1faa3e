"""The density overlay: a float32 map drawn over the photo through a colormap whose low end is transparent.

A map computed at an output stride s (one value per s x s block of image pixels) is scaled by s, so its pixel
(r, c) covers image pixels x in [c*s, (c+1)*s), y in [r*s, (r+1)*s) — the same convention as the photo.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QTransform

OVERLAY_Z = 5
DEFAULT_COLORMAP = "inferno"


def transparent_low_lut(name: str = DEFAULT_COLORMAP, ramp: float = 0.35) -> np.ndarray:
    """A 256 x 4 RGBA lookup table: the colormap with alpha rising from 0 over the lowest ``ramp`` part.

    Empty regions of a density map then show the photo untouched and dense regions glow.
    """
    lut = pg.colormap.get(name).getLookupTable(nPts=256, alpha=True)
    alpha = np.clip(np.linspace(0.0, 1.0, 256) / ramp, 0.0, 1.0)
    lut[:, 3] = (alpha * 255).astype(np.uint8)
    return lut


class DensityOverlay(pg.ImageItem):
    """An ImageItem for a density map (or any float map) over the photo."""

    def __init__(self):
        super().__init__()
        self.setZValue(OVERLAY_Z)
        self.setLookupTable(transparent_low_lut())
        self.setOpacity(0.6)
        self.stride = 1
        self.hide()

    def show_map(self, array: np.ndarray | None, stride: int = 1, levels=None) -> None:
        """Show ``array`` (H', W') scaled by ``stride``; None hides the overlay.

        ``levels``: (low, high) mapped to the ends of the colormap; by default 0 and the map's maximum.
        """
        if array is None:
            self.hide()
            self.clear()
            return
        array = np.asarray(array, dtype=np.float32)
        if array.ndim != 2:
            raise ValueError(f"an overlay must be a 2-D map, got shape {array.shape}")
        if levels is None:
            high = float(np.nanmax(array)) if array.size else 0.0
            levels = (0.0, high if high > 0 else 1.0)
        self.stride = int(stride)
        self.setImage(array, levels=levels, autoLevels=False)
        self.setTransform(QTransform.fromScale(stride, stride))
        self.show()

    def set_lut(self, lut: np.ndarray) -> None:
        """Colour through ``lut``, an (N, 3) or (N, 4) uint8 table; ValueError for anything else."""
        lut = np.asarray(lut)
        if lut.ndim != 2 or lut.shape[1] not in (3, 4):
            raise ValueError(f"a lookup table must be (N, 3) or (N, 4), got shape {lut.shape}")
        self.setLookupTable(lut)
