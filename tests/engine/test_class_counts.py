"""Points per class (engine.dataset.classes.class_counts) and the labels an image entry carries."""

from engine.dataset import Annotation, Dataset, sidecar_path, write_sidecar
from engine.dataset.classes import class_counts
from engine.dataset.synthetic import write_synthetic_dataset


def test_points_without_labels_are_of_the_first_class():
    assert class_counts(None, 4, ["live", "dead"]) == {"live": 4, "dead": 0}


def test_labels_are_counted_and_an_unlisted_one_is_not_dropped():
    counts = class_counts(["dead", "live", "dead", "odd"], 4, ["live", "dead"])
    assert counts == {"live": 1, "dead": 2, "odd": 1} and list(counts)[:2] == ["live", "dead"]


def test_an_entry_carries_its_sidecars_labels(tmp_path):
    folder = write_synthetic_dataset(tmp_path / "d", images=2, size=(40, 50), counts=(1, 2), seed=1,
                                     annotate=False)
    write_sidecar(sidecar_path(folder / "cells_001.png"),
                  Annotation("cells_001.png", 50, 40, [[1, 1], [2, 2]], labels=["a", "b"]))
    write_sidecar(sidecar_path(folder / "cells_002.png"), Annotation("cells_002.png", 50, 40, [[1, 1]]))
    dataset = Dataset(folder)
    assert dataset.entry("cells_001.png").labels == ["a", "b"]
    assert dataset.entry("cells_002.png").labels is None
    dataset.save_points("cells_002.png", [[1, 1], [3, 3]], labels=["b", "b"])
    assert dataset.entry("cells_002.png").labels == ["b", "b"]
