"""Shared data and helpers of the proposed-points tests (imported after putting this folder on sys.path)."""

from __future__ import annotations

import json

import numpy as np

from engine.dataset import sidecar_path

CONFIRMED = np.array([[20.5, 30.5], [60.25, 40.75], [100.0, 90.0]])
PROPOSED = np.array([[150.5, 20.5], [40.5, 120.5]])


def raw_sidecar(folder, name: str) -> dict:
    """The sidecar as JSON (to check which keys are written, not only what read_sidecar makes of them)."""
    return json.loads(sidecar_path(folder / name).read_text(encoding="utf-8"))
