"""Splitting an image too big for one forward pass into overlapping tiles (geometry only, no torch).

Each tile has a *core* (the part of the output it is trusted for) and a *window* (the input it sees): the core
grown by a margin at least as wide as the network's receptive radius, clipped to the image. Keeping only each
tile's core output makes the stitched map equal to the whole-image one, because every kept output cell saw
all the input it depends on. Every core and window edge is a multiple of ``align`` (the model's input multiple
and stride), so pooling grids line up with the whole-image ones and cores map onto whole output cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.models.contract import round_up

# Input pixels per forward pass (the memory bound of counting). 2 Mpx keeps FCRN-A (width 32) near 1 GB of
# activations and lets a 1024x768 photo run whole, two to a batch. Here, not in infer.py, so the command line
# can show the defaults without importing torch.
DEFAULT_MAX_PIXELS = 2**21
# At most this many same-sized images (or tiles) share one forward pass.
DEFAULT_BATCH = 4


@dataclass(frozen=True)
class Tile:
    """One tile, in pixels of the padded image: window = input read, core = output kept."""

    window: tuple[int, int, int, int]  # y0, y1, x0, x1
    core: tuple[int, int, int, int]  # y0, y1, x0, x1

    @property
    def window_shape(self) -> tuple[int, int]:
        y0, y1, x0, x1 = self.window
        return y1 - y0, x1 - x0


def _axis(size: int, pieces: int, margin: int, align: int) -> list[tuple[int, int, int, int]]:
    """(window start, window end, core start, core end) along one axis of ``size`` (a multiple of align)."""
    core = round_up(-(-size // pieces), align)
    spans = []
    for start in range(0, size, core):
        end = min(size, start + core)
        spans.append((max(0, start - margin), min(size, end + margin), start, end))
    return spans


def _widest(spans) -> int:
    return max(w1 - w0 for w0, w1, _, _ in spans)


def plan_tiles(height: int, width: int, max_pixels: int, margin: int, align: int) -> list[Tile]:
    """Tiles covering a (height, width) image whose windows each hold at most ``max_pixels`` pixels.

    ``height``/``width`` are rounded up to ``align`` (the padded image), ``margin`` is rounded up to ``align``.
    Among the ways to cut the image into rows and columns of tiles, the one reading the fewest input pixels in
    total is chosen (the overlap is the price of tiling). If the margin is so wide that no tile fits the
    budget, the smallest sensible tiles are used and the budget is exceeded rather than failing.
    """
    if align < 1 or max_pixels < 1:
        raise ValueError("align and max_pixels must be positive")
    height, width = round_up(height, align), round_up(width, align)
    margin = round_up(max(0, margin), align)
    best, best_cost = None, math.inf
    for rows in range(1, height // align + 1):
        row_spans = _axis(height, rows, margin, align)
        if len(row_spans) < rows:  # rounding made fewer pieces: the same plan as a smaller ``rows``
            continue
        window_h = _widest(row_spans)
        max_w = max_pixels // window_h
        if max_w >= width:
            columns = 1
        else:
            core_w = (max_w - 2 * margin) // align * align
            if core_w < align:
                continue
            columns = -(-width // core_w)
        col_spans = _axis(width, columns, margin, align)
        if window_h * _widest(col_spans) > max_pixels:
            continue
        cost = sum(w1 - w0 for w0, w1, _, _ in row_spans) * sum(w1 - w0 for w0, w1, _, _ in col_spans)
        if cost < best_cost:
            best, best_cost = (row_spans, col_spans), cost
    if best is None:
        side = max(align, math.isqrt(max_pixels) // align * align)
        best = (_axis(height, -(-height // side), margin, align), _axis(width, -(-width // side), margin, align))
    row_spans, col_spans = best
    return [Tile(window=(wy0, wy1, wx0, wx1), core=(cy0, cy1, cx0, cx1))
            for wy0, wy1, cy0, cy1 in row_spans for wx0, wx1, cx0, cx1 in col_spans]
