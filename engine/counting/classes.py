"""The classes a count reports, and a plain-words warning when a dataset names other classes than the model.

A model counts the classes its checkpoint names (engine.models.checkpoint.checkpoint_classes), in channel
order. Counting a dataset folder whose ``crowdgui.json`` lists other classes is allowed (the totals are
still the model's counts), but the per-class columns then name the model's classes, not the folder's: the
person is told so. One class on both sides is never worth a warning: a one-class model counts every object,
whatever either side calls it.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.dataset.store import SETTINGS_FILE, SETTINGS_FORMAT, DatasetSettings


def dataset_class_names(folder: Path | str) -> list[str] | None:
    """The class names of the dataset in ``folder``; None when it has no (readable) ``crowdgui.json``."""
    path = Path(folder) / SETTINGS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != SETTINGS_FORMAT:
        return None
    return DatasetSettings.from_json(data).class_names()


def class_mismatch(model_classes: list[str], folder: Path | str) -> str | None:
    """A warning when the dataset in ``folder`` names other classes than the model counts (None otherwise)."""
    if not Path(folder).is_dir():
        return None
    dataset_classes = dataset_class_names(folder)
    if dataset_classes is None or set(dataset_classes) == set(model_classes):
        return None
    if len(dataset_classes) == 1 and len(model_classes) == 1:
        return None
    return (f"the model counts {', '.join(model_classes)}; this folder's dataset has classes "
            f"{', '.join(dataset_classes)} (per-class counts name the model's classes)")
