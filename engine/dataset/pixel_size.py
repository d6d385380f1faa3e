"""The size of one image pixel, for counts per unit area: objects per mm² (microscopy) or per hectare (aerial).

Written ``0.65um`` (micrometres; ``µm`` too) or ``0.05m`` (metres): a pixel is that long on each side. A
micrometre pixel size reports objects per mm², a metre one objects per hectare, the units each field uses.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# unit -> (metres per unit, the density column's name, square metres of that column's area unit)
_UNITS = {"um": (1e-6, "per_mm2", 1e-6), "m": (1.0, "per_hectare", 1e4)}
_PATTERN = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(um|µm|μm|m)\s*$")


@dataclass(frozen=True)
class PixelSize:
    """One pixel's side: ``value`` in ``unit`` ("um" or "m")."""

    value: float
    unit: str

    @property
    def column(self) -> str:
        """The counts table's density column: ``per_mm2`` or ``per_hectare``."""
        return _UNITS[self.unit][1]

    def per_area(self, count: float, area_px: int) -> float | None:
        """``count`` objects on ``area_px`` pixels as objects per mm² or per hectare (None for no area)."""
        if area_px <= 0:
            return None
        metres, _, unit_area = _UNITS[self.unit]
        area_m2 = area_px * (self.value * metres) ** 2
        return count / (area_m2 / unit_area)

    def __str__(self) -> str:
        return f"{self.value:g}{self.unit}"

    def to_json(self) -> dict:
        return {"value": self.value, "unit": self.unit}

    @classmethod
    def from_json(cls, data) -> "PixelSize | None":
        """The stored form back; None for anything else (a broken setting is not fatal)."""
        try:
            return make_pixel_size(float(data["value"]), str(data["unit"]))
        except (KeyError, TypeError, ValueError):
            return None


def make_pixel_size(value: float, unit: str) -> PixelSize:
    unit = "um" if unit in ("µm", "μm") else unit
    if unit not in _UNITS:
        raise ValueError(f"a pixel size's unit is um or m, not {unit!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"a pixel size must be a number above 0, not {value:g}")
    return PixelSize(float(value), unit)


def parse_pixel_size(text: str) -> PixelSize:
    """``"0.65um"`` -> PixelSize(0.65, "um"). Raises ValueError with an example for anything else."""
    match = _PATTERN.match(str(text))
    if not match:
        raise ValueError(f"cannot read the pixel size {text!r}: write a number and its unit, such as 0.65um "
                         "(micrometres: counts per mm²) or 0.05m (metres: counts per hectare)")
    return make_pixel_size(float(match.group(1)), match.group(2))
