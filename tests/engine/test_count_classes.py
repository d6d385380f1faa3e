"""``count`` with a model of two classes: per-class columns, events, maps, and a dataset naming other classes."""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib does not add it; the helpers live here
from count_fixtures import (
    csv_rows as _rows,
)
from count_fixtures import (
    jsonl_events as _events,
)
from count_fixtures import (
    pixel_centres,
    red_counter_checkpoint,
    red_counter_registered,
    spread_pixels,
    write_red_image,
)

from engine.cli import main
from engine.counting.outputs import CountRecord, counts_csv_bytes
from engine.counting.targets import CountedArea
from engine.dataset import Dataset
from engine.dataset.classes import ObjectClass


@pytest.fixture
def two_class_checkpoint(tmp_path):
    with red_counter_registered():
        yield red_counter_checkpoint(tmp_path / "two.pt", classes=["live", "dead"])


def _dataset_with_classes(folder: Path, names: list[str]) -> None:
    dataset = Dataset(folder)
    dataset.settings.classes = [ObjectClass(name) for name in names]
    dataset.save_settings()


@pytest.fixture
def two_class_folder(tmp_path):
    """a: 3 live (red) + 2 dead (green), annotated right; b: 1 live + 4 dead, annotated as 2 live + 2 dead;
    c: 2 live, no annotation."""
    folder = tmp_path / "cells"
    live_a, dead_a = spread_pixels(3, 64, 48), spread_pixels(2, 64, 48, offset=5)
    write_red_image(folder, "a.png", live_a, green_pixels=dead_a,
                    annotated_points=pixel_centres(np.vstack([live_a, dead_a])), labels=["live"] * 3 + ["dead"] * 2)
    live_b, dead_b = spread_pixels(1, 64, 48), spread_pixels(4, 64, 48, offset=5)
    write_red_image(folder, "b.png", live_b, green_pixels=dead_b,
                    annotated_points=pixel_centres(spread_pixels(4, 64, 48)), labels=["live", "live", "dead", "dead"])
    write_red_image(folder, "c.png", spread_pixels(2, 64, 48))
    _dataset_with_classes(folder, ["live", "dead"])
    return folder


def test_count_writes_a_column_per_class_and_per_class_events_and_maps(two_class_checkpoint, two_class_folder,
                                                                        tmp_path, capsys):
    out, maps = tmp_path / "counts.csv", tmp_path / "maps"
    code = main(["count", str(two_class_folder), "--checkpoint", str(two_class_checkpoint), "--out", str(out),
                 "--density-dir", str(maps), "--events", "jsonl"])
    events = _events(capsys.readouterr().out)
    assert code == 0
    assert _rows(out) == [
        ["image", "count", "annotated_count", "error", "area_px", "count:live", "count:dead",
         "annotated:live", "annotated:dead", "error:live", "error:dead"],
        ["a.png", "5.000", "5", "0.000", "3072", "3.000", "2.000", "3", "2", "0.000", "0.000"],
        ["b.png", "5.000", "4", "1.000", "3072", "1.000", "4.000", "2", "2", "-1.000", "2.000"],
        ["c.png", "2.000", "", "", "3072", "2.000", "0.000", "", "", "", ""]]
    assert next(e for e in events if e["type"] == "start")["classes"] == ["live", "dead"]
    assert not [e for e in events if e["type"] == "warning"]  # the dataset's classes are the model's
    results = {e["image"]: e for e in events if e["type"] == "result"}
    assert results["b.png"]["counts_per_class"] == {"live": pytest.approx(1.0, abs=1e-4),
                                                    "dead": pytest.approx(4.0, abs=1e-4)}
    assert results["b.png"]["annotated_per_class"] == {"live": 2, "dead": 2}
    assert "annotated_per_class" not in results["c.png"]
    done = events[-1]
    assert done["mae_per_class"] == {"live": pytest.approx(0.5, abs=1e-4), "dead": pytest.approx(1.0, abs=1e-4)}
    # The per-class maps: one (C, h, w) stack per image, channel order in the manifest.
    stack = np.load(results["b.png"]["class_density"])
    assert stack.shape == (2, 12, 16)
    assert stack.sum(axis=(1, 2)) == pytest.approx([1.0, 4.0], abs=1e-4)
    np.testing.assert_allclose(stack.sum(axis=0), np.load(results["b.png"]["density"]), atol=1e-6)
    assert json.loads((maps / "densities.json").read_text())["classes"] == ["live", "dead"]


def test_counting_a_dataset_of_other_classes_warns_and_still_counts(two_class_checkpoint, tmp_path, capsys):
    folder = tmp_path / "insects"
    write_red_image(folder, "a.png", spread_pixels(3, 64, 48))
    _dataset_with_classes(folder, ["adult", "juvenile"])
    code = main(["count", str(folder), "--checkpoint", str(two_class_checkpoint), "--out",
                 str(tmp_path / "c.csv"), "--events", "jsonl"])
    events = _events(capsys.readouterr().out)
    assert code == 0
    warnings = [e["message"] for e in events if e["type"] == "warning"]
    assert warnings == ["the model counts live, dead; this folder's dataset has classes adult, juvenile "
                        "(per-class counts name the model's classes)"]
    assert _rows(tmp_path / "c.csv")[1][:2] == ["a.png", "3.000"]


def test_labels_the_model_does_not_count_leave_the_per_class_comparison_out(two_class_checkpoint, tmp_path,
                                                                              capsys):
    folder = tmp_path / "mixed"
    live = spread_pixels(2, 64, 48)
    write_red_image(folder, "a.png", live, annotated_points=pixel_centres(live), labels=["live", "egg"])
    main(["count", str(folder), "--checkpoint", str(two_class_checkpoint), "--out", str(tmp_path / "c.csv")])
    capsys.readouterr()
    # The total is still compared; the classes are not (one point is of a class the model does not count).
    assert _rows(tmp_path / "c.csv")[1] == ["a.png", "2.000", "2", "0.000", "3072", "2.000", "0.000",
                                            "", "", "", ""]


def test_class_counts_share_a_stated_count_and_add_up_to_the_count():
    maps = np.zeros((2, 4, 4))
    maps[0, :2, :2], maps[1, :2, :2] = 0.75, 0.25  # stated region: the model sees 3 of one class, 1 of the other
    maps[1, 3, 3] = 2.0  # outside it: 2 of the second class
    stated = np.zeros((4, 4), bool)
    stated[:2, :2] = True
    area = CountedArea(mask=None, area_px=16, annotated_count=None, roi=[], ignore=[], stated=[(stated, 8.0)])
    per_class = area.class_counts(maps)
    assert per_class == pytest.approx([6.0, 4.0])  # 8 stated, shared 3:1; plus the 2 outside
    assert sum(per_class) == pytest.approx(area.count(maps.sum(axis=0)))


def test_the_windows_csv_export_keeps_the_class_columns():
    records = [CountRecord("a.png", 5.0, 4, 3072, None, {"live": 3.0, "dead": 2.0}, {"live": 2, "dead": 2}),
               CountRecord("b.png", 1.0, None, 3072, None, {"live": 1.0, "dead": 0.0})]
    rows = list(csv.reader(counts_csv_bytes(records).decode().splitlines()))
    assert rows[0][5:] == ["count:live", "count:dead", "annotated:live", "annotated:dead", "error:live",
                           "error:dead"]
    assert rows[1][5:] == ["3.000", "2.000", "2", "2", "1.000", "0.000"]
    assert rows[2][5:] == ["1.000", "0.000", "", "", "", ""]


def test_evaluate_reports_each_classs_mae_and_rmse_beside_the_total(two_class_checkpoint, two_class_folder, capsys):
    code = main(["evaluate", str(two_class_folder), "--checkpoint", str(two_class_checkpoint), "--split", "all",
                 "--events", "jsonl"])
    events = _events(capsys.readouterr().out)
    assert code == 0
    results = {e["image"]: e for e in events if e["type"] == "result"}
    assert results["b.png"]["annotated_per_class"] == {"live": 2, "dead": 2}
    assert results["b.png"]["counts_per_class"]["dead"] == pytest.approx(4.0, abs=1e-4)
    done = events[-1]
    assert done["mae"] == pytest.approx(0.5, abs=1e-4)  # the total: a right, b one too many
    assert done["mae_per_class"] == {"live": pytest.approx(0.5, abs=1e-4), "dead": pytest.approx(1.0, abs=1e-4)}
    assert done["rmse_per_class"] == {"live": pytest.approx(0.5 ** 0.5, abs=1e-4),
                                      "dead": pytest.approx(2 ** 0.5, abs=1e-4)}
    main(["evaluate", str(two_class_folder), "--checkpoint", str(two_class_checkpoint), "--split", "all"])
    report = capsys.readouterr().out
    assert "live: MAE 0.500   RMSE 0.707" in report and "dead: MAE 1.000   RMSE 1.414" in report
