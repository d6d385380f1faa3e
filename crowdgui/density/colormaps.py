"""Colour tables for the density overlay: a few of pyqtgraph's maps, transparent where there is no density.

The overlay always shows the density map itself (so it still sums to the count); contrast is a property of the
colour table. The table is indexed linearly in density from 0 to the top of the scale, and a "scale" bends how
colours are spread along it: "sqrt" and "log" give faint regions visible colour. That matters in adaptive mode,
where a person near the camera (sigma ~20 px) peaks a hundred times lower than one in the far crowd (sigma
~2 px), and a linear scale shows only the far crowd. Because the table itself is bent, the colour bar drawn
from it, labelled linearly from 0 to the top, stays a true legend.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

# Name shown in the panel -> pyqtgraph colormap name. Turbo reads like the "jet" heatmaps of crowd-counting
# papers without jet's false edges; the others are perceptually uniform.
COLORMAPS = {
    "Turbo": "turbo",
    "Inferno": "inferno",
    "Viridis": "viridis",
    "Magma": "magma",
    "Plasma": "plasma",
    "Fire": "CET-L3",
}
DEFAULT_COLORMAP = "Turbo"

# Name shown in the panel -> scale key. "auto" picks by density mode (see scale_for_mode).
SCALES = {"Auto": "auto", "Square root": "sqrt", "Logarithmic": "log", "Linear": "linear"}
DEFAULT_SCALE = "Auto"

# The bottom FADE fraction of the colour range fades from fully transparent (no density) to opaque, so the
# overlay never hides the image where there is nothing and the tails of each kernel blend in softly.
FADE = 0.3

# Entries in the table. More than 256 so that, under a bent scale, the faint end (where colours change fastest)
# still gets distinct entries; pyqtgraph maps float data onto a table of any length.
LUT_SIZE = 1024

# How far down the logarithmic scale reaches: 1/LOG_RANGE of the top is where colour starts to show.
LOG_RANGE = 300.0


def scale_for_mode(scale: str, mode: str) -> str:
    """Resolve "auto": logarithmic for adaptive maps (peaks spread over two orders of magnitude), square root
    for fixed-sigma maps (equal peaks; a logarithmic scale would swell every kernel into a wide blob)."""
    if scale != "auto":
        return scale
    return "log" if mode == "adaptive" else "sqrt"


def scale_positions(scale: str, size: int = LUT_SIZE) -> np.ndarray:
    """Where each table entry (linear in density, 0..1) falls on the colour range (0..1) for ``scale``."""
    density = np.linspace(0.0, 1.0, size)
    if scale == "sqrt":
        return np.sqrt(density)
    if scale == "log":
        return np.log1p(LOG_RANGE * density) / np.log1p(LOG_RANGE)
    return density


def overlay_lut(name: str, scale: str = "sqrt", fade: float = FADE, size: int = LUT_SIZE) -> np.ndarray:
    """A (size, 4) uint8 RGBA lookup table for the colormap called ``name`` (a key of COLORMAPS).

    ``scale``: "linear", "sqrt" or "log" (see the module docstring). Entry 0 (zero density) is fully
    transparent; alpha rises over the first ``fade`` of the colour range.
    """
    colormap = pg.colormap.get(COLORMAPS.get(name, COLORMAPS[DEFAULT_COLORMAP]))
    position = scale_positions(scale, size)
    lut = np.array(colormap.map(position, mode="byte"), dtype=np.uint8)
    if lut.shape[1] == 3:
        lut = np.column_stack([lut, np.full(size, 255, dtype=np.uint8)])
    # A linear ramp: a kernel's truncated rim (where its density drops to 0 at TRUNCATE sigmas) then sits where
    # alpha is still near 0, so no hard edge shows, even on the logarithmic scale.
    alpha = np.clip(position / fade, 0.0, 1.0) if fade > 0 else np.ones(size)
    lut[:, 3] = np.round(alpha * 255).astype(np.uint8)
    return lut
