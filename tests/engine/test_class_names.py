"""Which class each point and each output channel is: the two lookups the engine's rooms share."""

import numpy as np

from engine.dataset.classes import DEFAULT_CLASS, class_indices
from engine.models.checkpoint import checkpoint_classes


def test_points_without_labels_are_all_of_the_first_class():
    assert class_indices(None, 3, ["live", "dead"]).tolist() == [0, 0, 0]


def test_labels_become_indices_and_unknown_labels_minus_one():
    found = class_indices(["dead", "live", "ghost"], 3, ["live", "dead"])
    assert found.dtype == np.int64
    assert found.tolist() == [1, 0, -1]


def test_a_checkpoint_names_its_channels():
    record = {"model_config": {"classes": 2}, "classes": ["live", "dead"]}
    assert checkpoint_classes(record) == ["live", "dead"]


def test_an_old_checkpoint_is_of_the_default_class():
    assert checkpoint_classes({"model_config": {"width": 8}}) == [DEFAULT_CLASS]


def test_names_that_do_not_match_the_channels_are_replaced_by_numbers():
    record = {"model_config": {"classes": 3}, "classes": ["live", "dead"]}
    assert checkpoint_classes(record) == ["class 1", "class 2", "class 3"]
