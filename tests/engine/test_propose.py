"""Model-proposed points: engine.counting.propose with a model of known output, and ``python -m engine propose``."""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # --import-mode=importlib does not add it; the helpers live here
from count_fixtures import (
    fcrn_checkpoint,
    pixel_centres,
    red_counter_checkpoint,
    red_counter_registered,
    spread_pixels,
    write_red_image,
)

from engine.cli import main
from engine.dataset import Dataset
from engine.density import DensitySettings, density_map
from engine.counting.localize import rounded_inside
from engine.models.contract import context_margin
from engine.metrics import match_points
from engine.counting.propose import cancel_radius, propose_points, without_confirmed

RESULT_FIELDS = {"type", "image", "count", "points", "confirmed", "written"}
SKIPPED_FIELDS = {"type", "image", "count", "skipped", "confirmed", "written"}


class FixedDensity(nn.Module):
    """A "model" whose output is a given density map, whatever the image: the proposals have a known answer."""

    receptive_radius = 0

    def __init__(self, density: np.ndarray, stride: int):
        super().__init__()
        self.stride = self.input_multiple = stride
        self.register_buffer("density", torch.from_numpy(density.astype(np.float32))[None, None])

    def forward(self, x):
        # The image sits inside the input after engine.models.contract's mirrored margin: so does its density.
        first = context_margin(self.stride) // self.stride
        rows, columns = self.density.shape[-2:]
        out = x.new_zeros((x.shape[0], 1, x.shape[2] // self.stride, x.shape[3] // self.stride))
        out[:, :, first:first + rows, first:first + columns] = self.density
        return out


def known_model(points: np.ndarray, width: int, height: int, stride: int, sigma: float = 2.0):
    density = density_map(points, (height, width), DensitySettings(sigma=sigma), stride=stride)
    record = {"stride": stride, "input_multiple": stride, "density_scale": 1.0,
              "normalization": {"mean": [0, 0, 0], "std": [1, 1, 1]}, "density": {"mode": "fixed", "sigma": sigma}}
    return FixedDensity(density, stride), record, np.zeros((height, width, 3), np.uint8)


def scattered_points(count: int, width: int, height: int, spacing: float, seed: int = 0) -> np.ndarray:
    """Random sub-pixel points at least ``spacing`` apart and a few pixels inside the image."""
    rng = np.random.default_rng(seed)
    points: list[np.ndarray] = []
    while len(points) < count:
        candidate = rng.uniform([4, 4], [width - 4, height - 4])
        if all(np.hypot(*(candidate - p)) >= spacing for p in points):
            points.append(candidate)
    return np.array(points)


@pytest.mark.parametrize("stride, spacing", [(1, 14), (4, 14), (8, 24)])
def test_proposals_land_on_the_known_points_and_follow_the_integral(stride, spacing):
    # At stride 8 objects closer than about two cells share a blob (engine.counting.localize's known limit): spaced more.
    truth = scattered_points(14, 128, 96, spacing=spacing)
    model, record, image = known_model(truth, 128, 96, stride)
    proposal = propose_points(model, record, image)
    assert proposal.count == pytest.approx(14, abs=1e-3)
    assert len(proposal.points) == round(proposal.count) == 14
    assert (proposal.stride, proposal.radius, proposal.cancelled) == (stride, max(4.0, stride), 0)
    matched, _ = match_points(proposal.points, truth, radius=2.0)
    assert len(matched) == 14  # every proposal within 2 px of its own true point


def test_confirmed_points_cancel_nearby_proposals_one_to_one():
    grid = np.array([[x, y] for y in (16.3, 40.6) for x in (16.2, 40.7, 64.1, 88.4, 112.5)])
    pair = np.array([[60.2, 76.4], [68.2, 76.4]])  # two objects 8 px apart, inside one cancel radius
    truth = np.vstack([grid, pair])
    model, record, image = known_model(truth, 128, 96, stride=2, sigma=2.0)
    record["density"]["sigma"] = 5.0  # cancel radius max(2 x 5, 2) = 10 px
    confirmed = np.vstack([grid[:3] + [1.5, -1.0],  # three objects clicked a little off their centres
                           [[64.2, 76.4]],  # one click between the pair: cancels one of the two, not both
                           [[4.0, 90.0]]])  # a click where the model sees nothing cancels nothing
    proposal = propose_points(model, record, image, confirmed=confirmed)
    assert proposal.radius == 10.0 and proposal.cancelled == 4
    assert len(proposal.points) == len(truth) - 4 == 8
    matched, _ = match_points(proposal.points, grid[3:], radius=2.0)
    assert len(matched) == 7  # the grid objects nobody clicked are all proposed ...
    left = np.delete(proposal.points, matched, axis=0)
    assert len(left) == 1 and min(np.hypot(*(left[0] - pair).T)) < 2.0  # ... and one of the pair
    assert len(match_points(proposal.points, grid[:3], radius=10.0)[0]) == 0  # the clicked ones are not


def test_without_confirmed_drops_one_proposal_per_confirmed_point():
    proposed = [[10.0, 10.0], [14.0, 10.0], [50.0, 50.0]]
    np.testing.assert_array_equal(without_confirmed(proposed, [[12.5, 10.0]], radius=5.0),
                                  [[10.0, 10.0], [50.0, 50.0]])  # the nearer of the two, and only it
    np.testing.assert_array_equal(without_confirmed(proposed, [[12.0, 10.0], [12.0, 10.0]], 5.0), [[50.0, 50.0]])
    np.testing.assert_array_equal(without_confirmed(proposed, None, 5.0), proposed)
    assert without_confirmed([], [[1.0, 1.0]], 5.0).shape == (0, 2)


def test_cancel_radius_is_twice_sigma_but_never_below_the_stride():
    assert cancel_radius({"density": {"sigma": 4.0}}, 8) == 8.0
    assert cancel_radius({"density": {"sigma": 6.0}}, 4) == 12.0
    assert cancel_radius({"density": {"sigma": 1.0}}, 8) == 8.0
    assert cancel_radius({}, 1) == 8.0  # no sigma recorded: the evaluate command's fallback


# ------------------------------------------------------------------------------------------ command
def _events(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _results(events: list[dict]) -> dict[str, dict]:
    return {e["image"]: {k: v for k, v in e.items() if k != "time"} for e in events if e["type"] == "result"}


def _snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.iterdir())}


@pytest.fixture
def red_checkpoint(tmp_path):
    with red_counter_registered():
        yield red_counter_checkpoint(tmp_path / "red.pt", stride=4, density_scale=50.0, sigma=2.0)


FIVE = spread_pixels(5, 64, 48)


@pytest.fixture
def folder(tmp_path):
    """a: 3 objects, annotated; b: 5 objects, no sidecar; c: black, no sidecar; d: malformed sidecar;
    e: 5 objects, 2 confirmed, in the test split; broken.png: unreadable."""
    folder = tmp_path / "data"
    write_red_image(folder, "a.png", FIVE[:3], annotated_points=pixel_centres(FIVE[:3]))
    write_red_image(folder, "b.png", FIVE)
    write_red_image(folder, "c.png", FIVE[:0])
    write_red_image(folder, "d.png", FIVE)
    (folder / "d.png.points.json").write_text("{ not json", encoding="utf-8")
    write_red_image(folder, "e.png", FIVE, annotated_points=pixel_centres(FIVE[[0, 3]]), split="test")
    (folder / "broken.png").write_bytes(b"")
    return folder


def propose(capsys, folder, checkpoint, *extra) -> tuple[int, list[dict]]:
    code = main(["propose", str(folder), "--checkpoint", str(checkpoint), "--events", "jsonl", *extra])
    return code, _events(capsys.readouterr().out)


def test_proposals_are_written_as_pending_and_other_images_are_skipped_with_reasons(red_checkpoint, folder,
                                                                                    capsys):
    before = _snapshot(folder)
    code, events = propose(capsys, folder, red_checkpoint)
    assert code == 0
    assert events[0]["type"] == "start" and events[0]["radius"] == 4.0 and events[0]["write"] is True
    results = _results(events)
    assert list(results) == ["a.png", "b.png", "broken.png", "c.png", "d.png", "e.png"]  # folder order
    b = results["b.png"]
    assert set(b) == RESULT_FIELDS and (b["confirmed"], b["written"]) == (0, True)
    assert b["count"] == pytest.approx(5.0, abs=1e-4) and len(b["points"]) == 5
    assert len(match_points(b["points"], pixel_centres(FIVE), radius=3.0)[0]) == 5
    assert all(x == round(x, 2) and y == round(y, 2) for x, y in b["points"])
    for name in ("a.png", "broken.png", "d.png", "e.png"):
        assert set(results[name]) == SKIPPED_FIELDS and results[name]["written"] is False
    assert results["a.png"]["skipped"] == "annotated" and results["a.png"]["confirmed"] == 3
    assert results["e.png"]["skipped"] == "annotated"
    assert results["broken.png"]["skipped"].startswith("unreadable image")
    assert results["d.png"]["skipped"].startswith("malformed sidecar") and results["d.png"]["confirmed"] is None
    # Nothing found on a black image: no sidecar (an empty one would say "annotated, no objects").
    assert results["c.png"]["points"] == [] and results["c.png"]["written"] is False
    assert not (folder / "c.png.points.json").exists()
    done = events[-1]
    assert done["type"] == "done"
    assert (done["images"], done["proposed"], done["written"], done["points"]) == (6, 2, 1, 5)
    assert done["skipped"] == {"annotated": 2, "unreadable image": 1, "malformed sidecar": 1}
    # On disk: b is pending (not annotated, out of training); the other files are untouched.
    dataset = Dataset(folder)
    entry = dataset.entry("b.png")
    assert (entry.annotated, entry.count, entry.proposed) == (False, 0, 5)
    assert dataset.split_of("b.png") == "unlabeled"
    np.testing.assert_allclose(dataset.load_proposed("b.png"), b["points"])
    after = _snapshot(folder)
    assert set(after) == set(before) | {"b.png.points.json"}
    assert all(after[name] == before[name] for name in before)


def test_pending_images_are_skipped_unless_replace(red_checkpoint, folder, capsys):
    propose(capsys, folder, red_checkpoint)
    Dataset(folder).save_points("b.png", [], proposed=[[1.0, 1.0]])  # stale proposals, as if from another model
    code, events = propose(capsys, folder, red_checkpoint)
    assert code == 0
    assert _results(events)["b.png"]["skipped"].startswith("pending proposals")
    assert events[-1]["skipped"]["pending proposals"] == 1
    np.testing.assert_array_equal(Dataset(folder).load_proposed("b.png"), [[1.0, 1.0]])
    code, events = propose(capsys, folder, red_checkpoint, "--replace")
    assert code == 0 and _results(events)["b.png"]["written"] is True
    replaced = Dataset(folder).load_proposed("b.png")
    assert len(replaced) == 5 and len(match_points(replaced, pixel_centres(FIVE), radius=3.0)[0]) == 5


def test_named_images_keep_their_confirmed_points_and_get_only_the_missing_ones(red_checkpoint, folder, capsys):
    code, events = propose(capsys, folder, red_checkpoint, "--images", "e.png", "nothere.png", "e.png")
    assert code == 0
    results = _results(events)
    assert list(results) == ["e.png", "nothere.png"]
    e = results["e.png"]
    assert (e["confirmed"], e["written"]) == (2, True) and e["count"] == pytest.approx(5.0, abs=1e-4)
    missing = pixel_centres(FIVE[[1, 2, 4]])
    assert len(e["points"]) == 3 and len(match_points(e["points"], missing, radius=3.0)[0]) == 3
    assert results["nothere.png"]["skipped"] == "not in the dataset"
    annotation = Dataset(folder).load_annotation("e.png")
    np.testing.assert_array_equal(annotation.points, pixel_centres(FIVE[[0, 3]]))  # confirmed points kept
    assert annotation.split == "test" and len(annotation.proposed) == 3
    assert not Dataset(folder).entry("e.png").annotated  # out of evaluation until the proposals are settled


def test_no_write_changes_nothing_on_disk_and_reports_the_points(red_checkpoint, folder, capsys):
    before = _snapshot(folder)
    code, events = propose(capsys, folder, red_checkpoint, "--no-write")
    assert code == 0
    assert len(_results(events)["b.png"]["points"]) == 5 and _results(events)["b.png"]["written"] is False
    code, events = propose(capsys, folder, red_checkpoint, "--no-write", "--images", "a.png", "e.png")
    assert code == 0
    results = _results(events)
    assert results["a.png"]["points"] == [] and results["a.png"]["confirmed"] == 3
    assert len(results["e.png"]["points"]) == 3
    assert events[-1]["written"] == 0
    assert _snapshot(folder) == before  # same files, same bytes, same modification times


def test_terminal_output_has_one_line_per_image(red_checkpoint, folder, capsys):
    assert main(["propose", str(folder), "--checkpoint", str(red_checkpoint), "--no-write"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert "b.png: count 5.0, 5 proposal(s)" in lines
    assert "a.png: skipped, annotated" in lines
    assert any(line.startswith("5 point(s) proposed for 2 image(s), nothing written") for line in lines)
    assert "broken.png skipped: unreadable image" in captured.err  # a warning, once


def test_bad_checkpoint_or_folder_gives_a_plain_message(folder, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a checkpoint")
    before = _snapshot(folder)
    code, events = propose(capsys, folder, bad)
    assert code == 1 and [e["type"] for e in events] == ["error"]
    assert "bad.pt" in events[0]["message"] and "Traceback" not in events[0]["message"]
    assert main(["propose", str(folder), "--checkpoint", str(bad)]) == 1  # text mode: no traceback either
    captured = capsys.readouterr()
    assert "error:" in captured.err and "Traceback" not in captured.err + captured.out
    code, events = propose(capsys, tmp_path / "nowhere", bad)
    assert code == 1 and "is not a folder" in events[-1]["message"]
    assert _snapshot(folder) == before


def test_a_real_architecture_runs_end_to_end(tmp_path, capsys):
    from engine.dataset.synthetic import write_synthetic_dataset

    data = write_synthetic_dataset(tmp_path / "cells", images=2, size=(64, 96), counts=(5, 10), annotate=False)
    checkpoint = fcrn_checkpoint(tmp_path / "fcrn.pt", width=4)  # untrained: output arbitrary, pipeline real
    code, events = propose(capsys, data, checkpoint)
    assert code == 0
    results = list(_results(events).values())
    assert len(results) == 2 and all(set(r) == RESULT_FIELDS for r in results)
    dataset = Dataset(data)
    for result in results:
        assert len(result["points"]) <= max(0, round(result["count"]))
        assert all(0 <= x < 96 and 0 <= y < 64 for x, y in result["points"])  # inside the image
        entry = dataset.entry(result["image"])
        assert entry.proposed == len(result["points"]) and not entry.annotated
        assert result["written"] == bool(result["points"]) == entry.sidecar.exists()
    assert os.listdir(data)  # the synthetic images are still there


def test_evaluate_scores_the_proposed_points_with_precision_recall_f1_at_its_radius(red_checkpoint, tmp_path,
                                                                                     capsys):
    # Pairs of side-by-side objects share a cell at stride 4: one density peak each, two objects each.
    left = spread_pixels(4, 64, 48, spacing=14)
    pairs = np.vstack([left, left + [1, 0]])
    folder = tmp_path / "pairs"
    write_red_image(folder, "p.png", pairs, annotated_points=pixel_centres(pairs), split="test")
    write_red_image(folder, "q.png", pairs)
    code, events = propose(capsys, folder, red_checkpoint, "--no-write")
    proposed = _results(events)["q.png"]["points"]
    assert code == 0 and len(proposed) == 8 and len(match_points(proposed, pixel_centres(pairs), 4.0)[0]) == 8
    code = main(["evaluate", str(folder), "--checkpoint", str(red_checkpoint), "--split", "test",
                 "--events", "jsonl"])
    done = _events(capsys.readouterr().out)[-1]
    assert code == 0 and done["type"] == "done" and done["radius"] == 4.0  # 2 x sigma 2
    assert (done["tp"], done["fp"], done["fn"]) == (8, 0, 0)
    assert done["precision"] == done["recall"] == done["f1"] == 1.0
    code = main(["evaluate", str(folder), "--checkpoint", str(red_checkpoint), "--split", "test", "--radius", "0.1",
                 "--events", "jsonl"])
    done = _events(capsys.readouterr().out)[-1]
    assert (done["radius"], done["tp"], done["fp"], done["fn"]) == (0.1, 0, 8, 8) and done["f1"] == 0.0


def test_an_image_that_fails_to_decode_is_skipped_and_the_run_goes_on(red_checkpoint, tmp_path, capsys):
    folder = tmp_path / "cut"
    good = write_red_image(folder, "b.png", FIVE)
    noisy = write_red_image(tmp_path / "noise", "n.png", FIVE)
    from PIL import Image

    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(noisy)
    (folder / "a_cut.png").write_bytes(noisy.read_bytes()[:400])  # a readable header, pixel data cut short
    code, events = propose(capsys, folder, red_checkpoint)
    results = _results(events)
    assert code == 0 and results["a_cut.png"]["skipped"].startswith("unreadable image")
    assert results["b.png"]["written"] is True and good.with_name("b.png.points.json").exists()
    assert not (folder / "a_cut.png.points.json").exists()


def test_a_run_where_the_model_fails_on_every_image_exits_non_zero(red_checkpoint, folder, capsys, monkeypatch):
    import engine.counting.infer

    def failing(paths, *args, **kwargs):  # e.g. out of memory on every image
        for index, path in enumerate(paths):
            yield engine.counting.infer.CountResult(index, path, error="counting failed: out of memory")

    monkeypatch.setattr(engine.counting.infer, "count_images", failing)
    before = _snapshot(folder)
    code, events = propose(capsys, folder, red_checkpoint, "--images", "b.png", "c.png")
    assert code == 1 and events[-1]["type"] == "error" and "could be processed" in events[-1]["message"]
    assert _results(events)["b.png"]["skipped"] == "model failed: counting failed: out of memory"
    assert events[-2]["type"] == "done" and events[-2]["skipped"] == {"model failed": 2}
    assert _snapshot(folder) == before


def test_objects_on_the_last_pixels_are_proposed_and_saved_inside_the_image(tmp_path, capsys):
    """A peak refined up to the image's far edge must not be rounded onto it: x = width is outside the image,
    and the accepted points would be flagged as a problem when the folder is opened again."""
    with red_counter_registered():
        red_checkpoint = red_counter_checkpoint(tmp_path / "red1.pt", stride=1, density_scale=50.0, sigma=2.0)
        _propose_and_count_the_corners(red_checkpoint, tmp_path, capsys)


def _propose_and_count_the_corners(red_checkpoint, tmp_path, capsys):
    folder = tmp_path / "edges"
    corners = np.array([[63, 47], [63, 0], [0, 47], [63, 20], [30, 47]])
    write_red_image(folder, "corners.png", corners)
    code, events = propose(capsys, folder, red_checkpoint)
    assert code == 0
    saved = json.loads((folder / "corners.png.points.json").read_text(encoding="utf-8"))["proposed"]
    assert len(saved) == len(corners)
    assert all(0 <= x < 64 and 0 <= y < 48 for x, y in saved), saved
    assert Dataset(folder).problems == []

    code = main(["count", str(folder), "--checkpoint", str(red_checkpoint), "--out", str(tmp_path / "c.csv"),
                 "--density-dir", str(tmp_path / "maps"), "--points", "--events", "jsonl"])
    capsys.readouterr()
    rows = (tmp_path / "maps" / "corners.png.points.csv").read_text().splitlines()[1:]
    located = np.array([[float(v) for v in row.split(",")] for row in rows])
    assert code == 0 and len(located) == len(corners)
    assert (located >= 0).all() and (located[:, 0] < 64).all() and (located[:, 1] < 48).all(), located


def test_rounded_inside_keeps_points_off_the_far_edges():
    points = np.array([[np.nextafter(64.0, 0), 47.999], [0.004, 12.346], [-1e-9, 3.0]])
    rounded = rounded_inside(points, (64, 48))
    np.testing.assert_array_equal(rounded, [[63.99, 47.99], [0.0, 12.35], [0.0, 3.0]])
