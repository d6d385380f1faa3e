"""Sidecar version 2: regions (kinds, validation, masks, what is known) and labels, read and written."""

import json

import numpy as np
import pytest

from engine.dataset import Dataset
from engine.dataset.regions import (
    Region,
    known_area,
    points_in_mask,
    polygon_mask,
    rectangle,
    region_problem,
    whole_image,
)
from engine.dataset.sidecar import Annotation, SidecarError, annotation_to_json, read_sidecar, write_sidecar


def test_version_2_round_trips_labels_regions_and_unreadable_regions_exactly(tmp_path):
    annotation = Annotation("a.png", 100, 80, [[1.5, 2.25], [60, 70]], labels=["adult", "juvenile"],
                            proposed=[[5, 5]],
                            regions=[rectangle("annotated", 0, 0, 50, 80), rectangle("count", 50, 0, 100, 40, 3),
                                     Region.from_json({"kind": "roi", "polygon": "nonsense"})])
    path = tmp_path / "a.png.points.json"
    write_sidecar(path, annotation)
    data = json.loads(path.read_text())
    assert data["version"] == 2 and data["labels"] == ["adult", "juvenile"]
    assert data["regions"][1] == {"kind": "count", "polygon": [[50, 0], [100, 0], [100, 40], [50, 40]], "count": 3}
    assert data["regions"][2] == {"kind": "roi", "polygon": "nonsense"}  # kept exactly as the person's file had it
    again = read_sidecar(path)
    assert again.labels == ["adult", "juvenile"] and len(again.regions) == 3
    assert annotation_to_json(again) == path.read_text()


def test_version_1_files_read_as_whole_image_annotations(tmp_path):
    path = tmp_path / "a.png.points.json"
    path.write_text(json.dumps({"format": "crowdgui-points", "version": 1, "image": "a.png", "width": 10,
                                "height": 8, "split": None, "points": [[1, 1]]}))
    annotation = read_sidecar(path)
    assert annotation.regions == [] and annotation.labels is None
    assert known_area(annotation.count, annotation.regions, 10, 8).whole


@pytest.mark.parametrize("labels", [["a"], "ab", [1, 2]])
def test_labels_that_do_not_match_the_points_are_refused(tmp_path, labels):
    path = tmp_path / "a.png.points.json"
    path.write_text(json.dumps({"format": "crowdgui-points", "version": 2, "image": "a.png", "width": 10,
                                "height": 8, "split": None, "points": [[1, 1], [2, 2]], "labels": labels}))
    with pytest.raises(SidecarError, match="labels"):
        read_sidecar(path)


@pytest.mark.parametrize("region, reason", [
    (Region("roi", [[0, 0], [10, 10], [10, 0], [0, 10]]), "cross"),
    (Region("ignore", [[0, 0], [5, 5], [10, 10]]), "no area"),
    (Region("annotated", [[0, 0], [5, 0]]), "at least 3"),
    (Region("roi", [[200, 200], [300, 200], [300, 300]]), "outside"),
    (rectangle("count", 0, 0, 5, 5, count=-1), "whole number"),
    (rectangle("count", 0, 0, 5, 5, count=2.5), "whole number"),
    (rectangle("count", 0, 0, 5, 5), "no count"),
    (Region.from_json({"kind": "lake", "polygon": [[0, 0], [1, 0], [1, 1]]}), "not a region"),
])
def test_bad_regions_are_named_in_plain_words(region, reason):
    assert reason in region_problem(region, 100, 100)


def test_good_regions_have_no_problem():
    assert region_problem(rectangle("count", 0, 0, 5, 5, count=3), 100, 100) is None
    assert region_problem(Region("roi", [[0, 0], [50, 0], [25, 40]]), 100, 100) is None


def test_masks_follow_pixel_centres_at_any_stride():
    mask = polygon_mask([rectangle("roi", 0, 0, 10, 4).polygon], 20, 8)
    assert mask.shape == (8, 20) and mask.sum() == 40 and mask[:4, :10].all()
    coarse = polygon_mask([rectangle("roi", 0, 0, 8, 8).polygon], 16, 16, stride=4)
    assert coarse.shape == (4, 4) and coarse[:2, :2].all() and coarse.sum() == 4


def test_known_area_rules():
    # No annotated region: the whole image, minus ignore.
    ignore = rectangle("ignore", 0, 0, 5, 10)
    area = known_area(3, [ignore], 10, 10)
    assert area.complete.sum() == 50 and not area.complete[:, :5].any()
    # Annotated regions: only inside them.
    area = known_area(3, [rectangle("annotated", 0, 0, 10, 5)], 10, 10)
    assert area.complete.sum() == 50 and area.complete[:5].all()
    # No points and only a count region: nothing known beyond it, and its count travels with its mask.
    area = known_area(0, [rectangle("count", 0, 0, 4, 4, count=7)], 10, 10)
    assert not area.complete.any() and area.counts[0][1] == 7 and area.counts[0][0].sum() == 16
    # A bad region is left out as if absent.
    area = known_area(3, [Region("annotated", [[0, 0], [5, 5], [10, 10]])], 10, 10)
    assert area.whole


def test_points_in_mask():
    mask = polygon_mask([rectangle("annotated", 0, 0, 8, 16).polygon], 16, 16, stride=4)
    inside = points_in_mask(np.array([[1, 1], [7.9, 3], [8.1, 3], [-1, 2], [100, 100]]), mask, stride=4)
    assert inside.tolist() == [True, True, False, False, False]


def test_dataset_status_and_problems(tmp_path):
    from PIL import Image

    for name in ("whole.png", "half.png", "counts.png", "roi_only.png", "bad.png", "none.png"):
        Image.new("RGB", (20, 10)).save(tmp_path / name)
    write = lambda name, points, regions: write_sidecar(
        tmp_path / f"{name}.points.json", Annotation(name, 20, 10, points, regions=regions))
    write("whole.png", [[1, 1]], [])
    write("half.png", [[1, 1]], [rectangle("annotated", 0, 0, 10, 10)])
    write("counts.png", [], [rectangle("count", 0, 0, 10, 10, count=4)])
    write("roi_only.png", [], [rectangle("roi", 0, 0, 10, 10)])
    write("bad.png", [[1, 1]], [rectangle("count", 0, 0, 10, 10, count=-2), whole_image("annotated", 20, 10)])
    dataset = Dataset(tmp_path)
    status = {entry.name: entry.status for entry in dataset}
    assert status == {"whole.png": "complete", "half.png": "partial", "counts.png": "partial",
                      "roi_only.png": "unlabeled", "bad.png": "partial", "none.png": "unlabeled"}
    assert dataset.entry("half.png").annotated and not dataset.entry("roi_only.png").annotated
    assert any("bad.png.points.json: region 1" in problem and "whole number" in problem
               for problem in dataset.problems)
    # Saving points keeps the regions and labels the file holds.
    dataset.save_points("half.png", [[2, 2], [3, 3]])
    assert len(read_sidecar(tmp_path / "half.png.points.json").regions) == 1
    assert dataset.known_area("half.png", stride=2).complete.shape == (5, 10)


def test_dataset_classes_are_read_from_the_settings_and_kept_on_save(tmp_path):
    from engine.dataset.store import SETTINGS_FILE

    (tmp_path / SETTINGS_FILE).write_text(json.dumps({
        "format": "crowdgui-dataset", "version": 1,
        "classes": [{"name": "live", "colour": "#00ff00", "key": 1}, {"name": "dead", "key": 12},
                    {"name": ""}, {"name": "live"}, "junk"]}))
    dataset = Dataset(tmp_path)
    assert dataset.settings.class_names() == ["live", "dead"]  # nameless, repeated and junk entries left out
    assert dataset.settings.classes[1].key is None  # 12 is no key
    dataset.save_settings()
    assert Dataset(tmp_path).settings.class_names() == ["live", "dead"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert Dataset(empty).settings.class_names() == ["object"]
