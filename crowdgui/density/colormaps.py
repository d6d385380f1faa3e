"""Colour tables for the density overlay: a few of pyqtgraph's maps, transparent where there is no density."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

# Name shown in the panel -> pyqtgraph colormap name. Perceptually uniform maps first; turbo reads like the
# "jet" heatmaps of crowd-counting papers without jet's false edges.
COLORMAPS = {
    "Turbo": "turbo",
    "Inferno": "inferno",
    "Viridis": "viridis",
    "Magma": "magma",
    "Plasma": "plasma",
    "Fire": "CET-L3",
}
DEFAULT_COLORMAP = "Turbo"

# The bottom FADE fraction of the colour scale fades from fully transparent (no density) to opaque, so the
# overlay never hides the image where there is nothing and the tails of each kernel blend in softly.
FADE = 0.2
LUT_SIZE = 256


def overlay_lut(name: str, fade: float = FADE) -> np.ndarray:
    """A (256, 4) uint8 RGBA lookup table for the colormap called ``name`` (a key of COLORMAPS).

    Entry 0 (zero density) is fully transparent; alpha rises over the first ``fade`` of the scale.
    """
    colormap = pg.colormap.get(COLORMAPS.get(name, COLORMAPS[DEFAULT_COLORMAP]))
    lut = np.array(colormap.getLookupTable(nPts=LUT_SIZE, alpha=True), dtype=np.uint8)
    position = np.linspace(0.0, 1.0, LUT_SIZE)
    # sqrt: faint density is already visible just above zero, while zero itself stays clear.
    alpha = np.sqrt(np.clip(position / fade, 0.0, 1.0)) if fade > 0 else np.ones(LUT_SIZE)
    lut[:, 3] = np.round(alpha * 255).astype(np.uint8)
    return lut
