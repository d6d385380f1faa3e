"""Proposals from a model of two classes: each class's peaks, each proposal with its class, in the sidecar."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib does not add it; the helpers live here
from count_fixtures import pixel_centres, red_counter_checkpoint, red_counter_registered, spread_pixels, \
    write_red_image

from engine.cli import main
from engine.counting.propose import proposals_from_class_densities, propose_points
from engine.dataset import Dataset
from engine.dataset.sidecar import Annotation, read_sidecar, sidecar_path, write_sidecar
from engine.models.checkpoint import load_model

LIVE, DEAD = spread_pixels(4, 96, 64, spacing=20), spread_pixels(3, 96, 64, spacing=20, offset=10)


@pytest.fixture
def two_class_checkpoint(tmp_path):
    with red_counter_registered():
        yield red_counter_checkpoint(tmp_path / "two.pt", stride=1, classes=["live", "dead"])


def _labels_by_place(points, labels) -> dict:
    return {(int(x), int(y)): label for (x, y), label in zip(points, labels)}


def test_each_proposal_carries_the_class_whose_map_it_came_from(two_class_checkpoint, tmp_path):
    from count_fixtures import red_pixel_image

    with red_counter_registered():
        model, record = load_model(two_class_checkpoint, "cpu")
        image = red_pixel_image(LIVE, 96, 64, green_pixels=DEAD)
        proposal = propose_points(model, record, image)
        # A confirmed point cancels the proposal on it, whatever its class.
        fewer = propose_points(model, record, image, confirmed=pixel_centres(DEAD[:1]))
    expected = {**{tuple(p): "live" for p in LIVE.tolist()}, **{tuple(p): "dead" for p in DEAD.tolist()}}
    assert _labels_by_place(proposal.points, proposal.labels) == expected
    assert proposal.count == pytest.approx(7.0, abs=1e-3)
    assert len(fewer.points) == 6 and fewer.labels.count("dead") == 2 and fewer.cancelled == 1


def test_the_peaks_of_each_channel_are_labelled_with_its_class():
    maps = np.zeros((2, 16, 16), np.float32)
    maps[0, 4, 4] = maps[1, 10, 10] = 1.0
    proposal = proposals_from_class_densities(maps, ["a", "b"], 1, (16, 16))
    assert proposal.labels == ["a", "b"] and proposal.points.tolist() == [[4.5, 4.5], [10.5, 10.5]]


def test_propose_writes_proposed_labels_beside_the_proposals(two_class_checkpoint, tmp_path, capsys):
    folder = tmp_path / "cells"
    write_red_image(folder, "a.png", LIVE, width=96, height=64, green_pixels=DEAD)
    with red_counter_registered():
        assert main(["propose", str(folder), "--checkpoint", str(two_class_checkpoint), "--events", "jsonl"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    result = next(e for e in events if e["type"] == "result")
    assert sorted(result["labels"]) == ["dead"] * 3 + ["live"] * 4
    annotation = read_sidecar(sidecar_path(folder / "a.png"))
    assert annotation.count == 0
    assert _labels_by_place(annotation.proposed, annotation.proposed_labels) == \
        _labels_by_place(result["points"], result["labels"])
    # Saving confirmed points keeps the proposals and their classes; new proposals without classes drop them.
    dataset = Dataset(folder)
    dataset.save_points("a.png", pixel_centres(LIVE[:1]))
    assert read_sidecar(sidecar_path(folder / "a.png")).proposed_labels == annotation.proposed_labels
    dataset.save_points("a.png", pixel_centres(LIVE[:1]), proposed=annotation.proposed[:2])
    assert read_sidecar(sidecar_path(folder / "a.png")).proposed_labels is None


def test_proposed_labels_must_match_the_proposals(tmp_path):
    from engine.dataset.sidecar import SidecarError

    path = tmp_path / "a.png.points.json"
    write_sidecar(path, Annotation("a.png", 10, 10, proposed=[[1, 1], [2, 2]], proposed_labels=["x", "y"]))
    data = json.loads(path.read_text())
    assert data["proposed_labels"] == ["x", "y"] and data["version"] == 2
    data["proposed_labels"] = ["x"]
    path.write_text(json.dumps(data))
    with pytest.raises(SidecarError, match="proposed_labels must be a list of 2 class names"):
        read_sidecar(path)
