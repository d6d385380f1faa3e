"""The kinds of object a dataset counts: names, colours and keys (``crowdgui.json``), and points' classes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


# The one class of a dataset that names none: what a point without a label is.
DEFAULT_CLASS = "object"


@dataclass
class ObjectClass:
    """A kind of object a dataset counts: its name (the label in the sidecars), colour and key (1-9)."""

    name: str
    colour: str = "#ff3b30"
    key: int | None = None

    @classmethod
    def from_json(cls, data) -> "ObjectClass | None":
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"].strip():
            return None
        key = data.get("key")
        key = key if isinstance(key, int) and not isinstance(key, bool) and 1 <= key <= 9 else None
        colour = data.get("colour") if isinstance(data.get("colour"), str) else cls.colour
        return cls(name=data["name"].strip(), colour=colour, key=key)


def class_indices(labels: list[str] | None, count: int, class_names: list[str]) -> np.ndarray:
    """Each point's class as an index into ``class_names`` (int64, length ``count``); no labels: all 0.

    A label that is not one of the classes gets -1: callers leave such points out and say so.
    """
    if labels is None:
        return np.zeros(count, dtype=np.int64)
    index = {name: number for number, name in enumerate(class_names)}
    return np.array([index.get(label, -1) for label in labels], dtype=np.int64)


def class_counts(labels: list[str] | None, count: int, class_names: list[str]) -> dict[str, int]:
    """How many points each class has, in the order of ``class_names`` (no labels: all of the first class).

    A label the dataset does not list gets its own entry after the listed classes, so no point goes uncounted.
    """
    counts = dict.fromkeys(class_names, 0)
    if labels is None:
        counts[class_names[0]] = count
        return counts
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return counts
