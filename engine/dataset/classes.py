"""The kinds of object a dataset counts: names, colours and keys (``crowdgui.json``), and points' classes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


# The one class of a dataset that names none: what a point without a label is.
DEFAULT_CLASS = "object"
# Colours given to new classes in turn: the first is the one-class point colour; the rest are far apart in hue
# and stay distinct on grey-scale microscopy and on colour photos alike.
CLASS_COLOURS = ("#ff3b30", "#34c759", "#0a84ff", "#ffcc00", "#af52de", "#ff9500", "#5ac8fa", "#ff2d55",
                 "#a2845e")


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


def with_classes(classes: list[ObjectClass], names) -> list[ObjectClass]:
    """``classes`` followed by every name of ``names`` not among them yet (in the order first met), each with
    the first colour no class has yet and the next free key 1-9 (none once the nine keys are taken)."""
    result = list(classes)
    known = {object_class.name for object_class in result}
    for name in names:
        if name in known:
            continue
        used_keys = {object_class.key for object_class in result}
        key = next((number for number in range(1, 10) if number not in used_keys), None)
        used_colours = {object_class.colour.lower() for object_class in result}
        colour = next((c for c in CLASS_COLOURS if c not in used_colours), CLASS_COLOURS[len(result) % len(CLASS_COLOURS)])
        result.append(ObjectClass(name, colour, key))
        known.add(name)
    return result


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
