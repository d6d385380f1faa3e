"""Changing a dataset's list of classes (crowdgui.json, written atomically by the engine's store).

Adding or recolouring a class only changes the settings. Renaming one also renames the labels in every points
file that uses it (after saving what is unsaved, so no edit is lost or left with the old name). Removing one is
refused while any point, saved or not, is of it: the message says how many.
"""

from __future__ import annotations

from engine.dataset import Dataset
from engine.dataset.classes import CLASS_COLOURS, DEFAULT_CLASS, ObjectClass, class_counts, with_classes


def listed_classes(dataset: Dataset) -> list[ObjectClass]:
    """The dataset's classes; one that names none has the one default class."""
    return list(dataset.settings.classes) or [ObjectClass(DEFAULT_CLASS, CLASS_COLOURS[0], 1)]


def points_per_class(session) -> dict[str, int]:
    """How many points of each class the whole dataset holds, unsaved edits included."""
    dataset = session.dataset
    names = dataset.settings.class_names()
    totals = dict.fromkeys(names, 0)
    for entry in dataset.entries:
        edits = session.edits_of(entry.name)
        labels, count = (edits.labels, len(edits.points)) if edits is not None else (entry.labels, entry.count or 0)
        for name, number in class_counts(labels, count, names).items():
            totals[name] = totals.get(name, 0) + number
    return totals


def add_class(dataset: Dataset, name: str) -> ObjectClass:
    """Add a class named ``name`` with the next free colour and key; raises ValueError for a bad name."""
    name = name.strip()
    classes = listed_classes(dataset)
    if not name:
        raise ValueError("A class needs a name.")
    if name in [c.name for c in classes]:
        raise ValueError(f"There is already a class called {name}.")
    dataset.settings.classes = with_classes(classes, [name])
    dataset.save_settings()
    return dataset.settings.classes[-1]


def recolour_class(dataset: Dataset, name: str, colour: str) -> None:
    dataset.settings.classes = listed_classes(dataset)
    for object_class in dataset.settings.classes:
        if object_class.name == name:
            object_class.colour = colour
    dataset.save_settings()


def removal_refusal(session, name: str) -> str | None:
    """Why ``name`` cannot be removed now (None: it can)."""
    classes = listed_classes(session.dataset)
    if len(classes) < 2:
        return "A dataset keeps at least one class."
    used = points_per_class(session).get(name, 0)
    if used:
        hint = " (points without a label are of the first class)" if name == classes[0].name else ""
        return (f"{used:,} point{'s are' if used != 1 else ' is'} of class {name}{hint}. Relabel or delete "
                "them first (select them, choose another class, Shift+R).")
    return None


def remove_class(dataset: Dataset, name: str) -> None:
    remaining = [c for c in listed_classes(dataset) if c.name != name]
    # Back to one class: the dataset names none again, exactly as before any class was added.
    dataset.settings.classes = remaining if len(remaining) >= 2 or remaining[0].name != DEFAULT_CLASS else []
    dataset.save_settings()


def rename_class(session, old: str, new: str, progress=None) -> list[str]:
    """Rename a class and the labels of its points in every file; returns the images rewritten.

    ``progress(done, total)`` is called after each points file rewritten (about 4 ms each: a folder of
    thousands takes seconds, so the window shows a progress dialog). Raises ValueError for a bad name, OSError
    when a file cannot be written (the settings then keep the old name; files rewritten before it hold the new
    one, which renaming again to the same name completes)."""
    dataset = session.dataset
    new = new.strip()
    classes = listed_classes(dataset)
    if not new:
        raise ValueError("A class needs a name.")
    if new != old and new in [c.name for c in classes]:
        raise ValueError(f"There is already a class called {new}.")
    if session.save_dirty():
        raise OSError(f"Some points could not be saved, so {old} is not renamed yet.")
    # Points without labels are of the first class, whatever it is called: only labelled files change.
    using = [entry.name for entry in dataset.entries if old in (entry.labels or [])]
    for done, name in enumerate(using, start=1):
        annotation = dataset.load_annotation(name)
        labels = [new if label == old else label for label in annotation.labels]
        dataset.save_points(name, annotation.points, labels=labels)
        if progress is not None:
            progress(done, len(using))
    for object_class in classes:
        if object_class.name == old:
            object_class.name = new
    dataset.settings.classes = classes
    dataset.save_settings()
    session.rescan(using)
    return using
