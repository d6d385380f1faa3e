"""Points -> density maps (no Qt, no torch).

TO BE COMPLETED by the density work (issue 3): fixed and geometry-adaptive Gaussian kernels, count-exact at
full resolution and at any output stride.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass
class DensitySettings:
    """How a density map is made from points.

    mode: "fixed" uses ``sigma`` (pixels) for every point; "adaptive" uses beta x the mean distance to the
    ``k`` nearest neighbours (the CSRNet recipe for dense crowds), ``sigma`` for a lone point.
    """

    mode: str = "fixed"
    sigma: float = 4.0
    beta: float = 0.3
    k: int = 3

    @classmethod
    def from_dict(cls, data: dict) -> "DensitySettings":
        known = {f.name for f in fields(cls)}
        settings = cls(**{key: value for key, value in data.items() if key in known})
        if settings.mode not in ("fixed", "adaptive"):
            settings.mode = "fixed"
        settings.sigma = float(settings.sigma) if float(settings.sigma) > 0 else 4.0
        settings.beta = float(settings.beta) if float(settings.beta) > 0 else 0.3
        settings.k = max(1, int(settings.k))
        return settings
