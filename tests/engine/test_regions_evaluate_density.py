"""``evaluate`` and ``density`` with regions: only what is known is compared or exported.

The red-pixel test model (count_fixtures.RedCounter) predicts one object per red pixel, so every error here
has a known answer.
"""

import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # --import-mode=importlib does not add it; the helpers live here
from count_fixtures import (
    pixel_centres,
    red_counter_checkpoint,
    red_counter_registered,
    spread_pixels,
    write_red_image,
)

from engine.cli import main
from engine.dataset.regions import Region, rectangle
from engine.dataset.sidecar import Annotation, sidecar_path, write_sidecar

# 10 red pixels on a 64 x 48 image: x = 4, 16, 28, 40, 52 on rows y = 4 and 16.
PIXELS = spread_pixels(10, 64, 48)
LEFT = rectangle("annotated", 0, 0, 32, 48)  # holds x = 4, 16, 28: 6 red pixels
IGNORE_TOP_LEFT = rectangle("ignore", 0, 0, 12, 12)  # holds (4, 4) only


def _events(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _image(folder: Path, name: str, points, regions, split: str = "test") -> Path:
    path = write_red_image(folder, name, PIXELS)
    write_sidecar(sidecar_path(path), Annotation(name, 64, 48, points, split=split, regions=regions))
    return path


@pytest.fixture
def red_checkpoint(tmp_path):
    with red_counter_registered():
        yield red_counter_checkpoint(tmp_path / "red.pt", stride=4, density_scale=50.0, sigma=2.0)


@pytest.fixture
def regions_set(tmp_path):
    """a: complete, ignore top-left (9 known, 9 found); b: left half annotated, 5 of its 6 objects clicked and
    one point in the unknown right half; c: only a stated count of 3 on the right half (4 objects there)."""
    folder = tmp_path / "regions"
    centres = pixel_centres(PIXELS)
    _image(folder, "a.png", centres, [IGNORE_TOP_LEFT])
    left = centres[centres[:, 0] < 32]
    _image(folder, "b.png", np.vstack([left[:5], [[50.0, 30.0]]]), [LEFT])
    _image(folder, "c.png", np.zeros((0, 2)), [rectangle("count", 32, 0, 64, 48, count=3),
                                                rectangle("ignore", 100, 100, 120, 120)])
    return folder


def test_evaluate_compares_only_inside_the_known_regions(red_checkpoint, regions_set, capsys):
    code = main(["evaluate", str(regions_set), "--checkpoint", str(red_checkpoint), "--split", "test",
                 "--events", "jsonl"])
    events = _events(capsys.readouterr().out)
    assert code == 0
    results = {e["image"]: e for e in events if e["type"] == "result"}
    a, b, c = results["a.png"], results["b.png"], results["c.png"]
    assert a["count"] == pytest.approx(9.0, abs=1e-4) and a["annotated_count"] == 9
    assert (a["tp"], a["fp"], a["fn"]) == (9, 0, 0)  # the ignored object is neither found nor missed
    assert b["count"] == pytest.approx(6.0, abs=1e-4) and b["annotated_count"] == 5
    assert (b["tp"], b["fp"], b["fn"]) == (5, 1, 0)  # the right half is unknown: its 4 objects are not scored
    assert "count" not in c and c["stated"] == [{"stated": 3.0, "predicted": pytest.approx(4.0, abs=1e-4)}]
    done = events[-1]
    assert done["images"] == 2 and done["mae"] == pytest.approx(0.5, abs=1e-4)
    assert done["stated_counts"] == 1 and done["stated_mae"] == pytest.approx(1.0, abs=1e-4)


def test_evaluate_warns_about_bad_regions_and_scores_without_them(red_checkpoint, tmp_path, capsys):
    folder = tmp_path / "bad"
    crossing = Region("ignore", [[0, 0], [40, 48], [40, 0], [0, 30]])
    _image(folder, "a.png", pixel_centres(PIXELS), [crossing, rectangle("count", 0, 0, 8, 8, count=-2)])
    code = main(["evaluate", str(folder), "--checkpoint", str(red_checkpoint), "--split", "test",
                 "--events", "jsonl"])
    events = _events(capsys.readouterr().out)
    warnings = [e["message"] for e in events if e["type"] == "warning"]
    assert code == 0
    assert any("region 1" in w and "edges cross" in w for w in warnings)
    assert any("region 2" in w and "whole number of 0 or more" in w for w in warnings)
    done = events[-1]
    assert done["mae"] == pytest.approx(0.0, abs=1e-4) and "stated_counts" not in done


def test_density_export_masks_unknown_and_ignored_cells(regions_set, tmp_path, capsys):
    out = tmp_path / "maps.h5"
    code = main(["density", str(regions_set), "--out", str(out), "--stride", "4", "--events", "jsonl"])
    events = _events(capsys.readouterr().out)
    assert code == 0
    warnings = [e["message"] for e in events if e["type"] == "warning"]
    assert any("c.png: only stated counts" in w for w in warnings)
    assert any("c.png.points.json: region 2" in w and "wholly outside" in w for w in warnings)
    with h5py.File(out, "r") as handle:
        assert handle.attrs["version"] == 2 and handle.attrs["layout"] == "stacked"
        names = [n.decode() if isinstance(n, bytes) else n for n in handle["names"][:]]
        assert names == ["a.png", "b.png"]
        masks, labels, counts = handle["masks"][:, :, :, 0], handle["labels"][:, :, :, 0], handle["counts"][:]
    assert counts.tolist() == [9, 5]  # b: its point in the unknown right half is not counted
    a_mask, b_mask = masks.astype(bool)
    assert not a_mask[:3, :3].any() and a_mask.sum() == 12 * 16 - 9
    assert b_mask[:, :8].all() and not b_mask[:, 8:].any()
    assert not labels[0][~a_mask].any() and not labels[1][~b_mask].any()
    # The 5 known points' kernels, less what spills across the border into the unknown half (x = 28.5 is near).
    assert 4.5 < labels[1].sum() < 5.0
