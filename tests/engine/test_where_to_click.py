"""Where to click next: the flip-spread uncertainty, ``engine suggest``, and stated counts honoured."""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib does not add it; the helpers live here
from count_fixtures import (
    PLAIN_NORMALIZATION,
    pixel_centres,
    red_counter_checkpoint,
    red_counter_registered,
    red_pixel_image,
    spread_pixels,
    write_red_image,
)

from engine.cli import main
from engine.counting.stated import honour_stated_counts
from engine.counting.uncertainty import count_spread, ranked


class LeftHalfRed(nn.Module):
    """Counts red pixels in the left half of its input only: its count changes when the image is mirrored."""

    receptive_radius = 0
    stride = 1
    input_multiple = 1

    def forward(self, x):
        red = F.avg_pool2d(x[:, :1], 1)
        left = torch.zeros_like(red)
        left[..., : x.shape[-1] // 2] = 1
        return red * left


def test_flip_spread_is_the_spread_of_the_four_views_counts():
    pixels = np.array([[50, 10], [55, 20], [60, 30]])  # all in the right half of a 64-wide image
    image = red_pixel_image(pixels, 64, 40)
    record = {"normalization": PLAIN_NORMALIZATION, "density_scale": 1.0}
    spread = count_spread(LeftHalfRed().eval(), record, image)
    assert spread.counts == pytest.approx((0.0, 3.0, 0.0, 3.0), abs=1e-4)  # seen only when mirrored
    assert spread.spread == pytest.approx(1.5, abs=1e-4) and spread.count == pytest.approx(1.5, abs=1e-4)


def test_ranked_puts_the_most_uncertain_first_and_keeps_ties_in_order():
    assert ranked({"a": 0.5, "b": 2.0, "c": 0.5, "d": 3.0}) == [("d", 3.0), ("b", 2.0), ("a", 0.5), ("c", 0.5)]


def test_suggest_ranks_only_images_without_points_and_skips_unreadable_ones(tmp_path, capsys):
    folder = tmp_path / "data"
    three = spread_pixels(3, 64, 48)
    write_red_image(folder, "annotated.png", three, annotated_points=pixel_centres(three))
    write_red_image(folder, "b.png", spread_pixels(5, 64, 48))
    write_red_image(folder, "c.png", spread_pixels(2, 64, 48))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    out = tmp_path / "ranked.csv"
    with red_counter_registered():
        checkpoint = red_counter_checkpoint(tmp_path / "red.pt")
        code = main(["suggest", str(folder), "--checkpoint", str(checkpoint), "--out", str(out),
                     "--device", "cpu", "--events", "jsonl"])
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert code == 0
    results = {e["image"]: e for e in events if e["type"] == "result"}
    assert set(results) == {"b.png", "c.png"}  # the annotated image is not a candidate
    assert results["b.png"]["count"] == pytest.approx(5, abs=1e-3)
    assert results["b.png"]["score"] == pytest.approx(0, abs=1e-3)  # the red counter ignores flips
    with open(out, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["image", "score"] and sorted(row[0] for row in rows[1:]) == ["b.png", "c.png"]
    assert events[-1]["type"] == "done" and events[-1]["images"] == 2


def test_stated_counts_replace_the_estimate_inside_and_correct_it_outside():
    density = np.full((10, 10), 0.1)  # 10 objects, 1 per row
    inside = np.zeros((10, 10), dtype=bool)
    inside[:5] = True  # the model predicts 5 there
    # The person says 8 inside: the model undercounts by 8 / 5, so the other 5 predicted become 8.
    corrected = honour_stated_counts(density, [(inside, 8)], correct=True)
    assert corrected.count == pytest.approx(16.0) and corrected.ratio == pytest.approx(1.6)
    honoured = honour_stated_counts(density, [(inside, 8)], correct=False)
    assert honoured.count == pytest.approx(13.0) and honoured.ratio == 1.0
    # The ratio is bounded, and a region with too few predicted objects corrects nothing.
    assert honour_stated_counts(density, [(inside, 100)], correct=True).ratio == 2.0
    tiny = np.zeros((10, 10), dtype=bool)
    tiny[0, 0] = True
    assert honour_stated_counts(density, [(tiny, 0)], correct=True).count == pytest.approx(9.9)
    # Cells outside ``known`` (e.g. an ignore region) are not counted.
    known = np.ones((10, 10), dtype=bool)
    known[:, 5:] = False
    assert honour_stated_counts(density, [], known=known).count == pytest.approx(5.0)


def test_hints_mark_objects_nobody_clicked_and_objects_clicked_twice():
    from engine.counting.hints import hints_from_objects

    objects = [[10, 10], [30, 30], [50, 50]]
    masses = [1.0, 0.9, 0.2]  # the third is a faint smudge: never a hint
    points = [[10.5, 10], [11, 11.5], [70, 70]]  # two clicks on the first object, one where the model sees none
    hints = hints_from_objects(objects, masses, points, radius=4)
    assert hints.missed.tolist() == [[30, 30]]
    assert len(hints.doubled) == 1 and hints.doubled[0] in (0, 1)  # one of the two clicks, not the lone one
    assert hints_from_objects(objects, masses, [[10, 10], [30, 30]], radius=4).missed.size == 0


def test_hints_command_reports_the_model_objects_and_what_the_saved_points_miss(tmp_path, capsys):
    folder = tmp_path / "data"
    pixels = spread_pixels(3, 64, 48, spacing=16)
    write_red_image(folder, "a.png", pixels, annotated_points=pixel_centres(pixels[:2]))
    with red_counter_registered():
        checkpoint = red_counter_checkpoint(tmp_path / "red.pt", stride=1, density_scale=50.0, sigma=2.0)
        code = main(["hints", str(folder), "--checkpoint", str(checkpoint), "--images", "a.png", "nope.png",
                     "--density-dir", str(tmp_path / "maps"), "--device", "cpu", "--events", "jsonl"])
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert code == 0
    (result,) = [e for e in events if e["type"] == "result"]
    assert len(result["objects"]) == 3
    assert np.allclose(result["missed"], pixel_centres(pixels[2:]), atol=1.0)  # the unclicked third object
    assert result["doubled"] == []
    assert np.load(result["density"]).sum() == pytest.approx(3.0, abs=1e-3)
    assert any(e["type"] == "warning" and "nope.png" in e["message"] for e in events)


def test_count_honours_a_stated_count_and_reports_uncertainty(tmp_path, capsys):
    from engine.dataset.regions import rectangle
    from engine.dataset.sidecar import Annotation, sidecar_path, write_sidecar

    folder = tmp_path / "data"
    pixels = spread_pixels(6, 64, 48, spacing=8)  # 6 red objects, the model counts each
    path = write_red_image(folder, "a.png", pixels)
    # A person states 10 objects in the left half (the model sees fewer there); nothing is clicked.
    left = rectangle("count", 0, 0, 32, 48, count=10)
    write_sidecar(sidecar_path(path), Annotation("a.png", 64, 48, [], regions=[left]))
    inside = int(np.sum(pixels[:, 0] < 32))
    with red_counter_registered():
        checkpoint = red_counter_checkpoint(tmp_path / "red.pt")
        code = main(["count", str(folder), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "c.csv"),
                     "--uncertainty", "--device", "cpu", "--events", "jsonl"])
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert code == 0, events
    (result,) = [e for e in events if e["type"] == "result"]
    assert result["stated"] == 10
    assert result["count"] == pytest.approx(10 + (6 - inside), abs=1e-3)  # stated inside + model outside
    assert result["whole_count"] == pytest.approx(6, abs=1e-3)
    assert result["uncertainty"] == pytest.approx(0, abs=1e-3)  # the red counter ignores flips
