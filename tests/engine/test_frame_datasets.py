"""UCSD pedestrians and Mall imported from layouts like the originals: exact counts, their ROIs as regions."""

import json

import numpy as np
import pytest
import scipy.io
from PIL import Image

from engine.dataset.formats.frame_sets import mask_outlines
from engine.dataset.importers import import_dataset
from engine.dataset.sidecar import read_sidecar, sidecar_path
from engine.dataset.store import Dataset


def _frame_cell(locs: list[np.ndarray]) -> np.ndarray:
    """MATLAB's ``frame`` cell: 1 x N, each a 1 x 1 struct with field ``loc`` (as scipy reads the originals)."""
    cell = np.empty((1, len(locs)), dtype=object)
    for index, loc in enumerate(locs):
        struct = np.zeros((1, 1), dtype=[("loc", object)])
        struct[0, 0]["loc"] = loc
        cell[0, index] = struct
    return cell


def _locs(counts, width, height, seed, columns=2):
    rng = np.random.default_rng(seed)
    return [np.column_stack([rng.uniform(1, width - 1, n), rng.uniform(1, height - 1, n),
                             np.ones(n)][:columns]) for n in counts]


@pytest.fixture
def ucsd_root(tmp_path):
    """Two videos of 4 frames (238 x 158 grey PNGs), loc N x 3, the main-walkway ROI as xi, yi and mask."""
    root = tmp_path / "ucsd"
    gt = root / "vidf-cvpr"
    gt.mkdir(parents=True)
    counts = {"vidf1_33_000": [11, 0, 23, 46], "vidf1_33_001": [5, 7, 9, 12]}
    for seed, (video, numbers) in enumerate(counts.items()):
        scipy.io.savemat(gt / f"{video}_frame_full.mat", {"frame": _frame_cell(_locs(numbers, 238, 158, seed, 3))})
        frames = root / "ucsdpeds" / "vidf" / f"{video}.y"
        frames.mkdir(parents=True)
        for index in range(len(numbers)):
            Image.new("L", (238, 158), 90).save(frames / f"{video}_f{index + 1:03d}.png")
    xi, yi = np.array([[20.0], [200.0], [220.0], [30.0]]), np.array([[10.0], [15.0], [150.0], [140.0]])
    roi = np.zeros((1, 1), dtype=[("xi", object), ("yi", object), ("mask", object)])
    roi[0, 0]["xi"], roi[0, 0]["yi"] = xi, yi
    roi[0, 0]["mask"] = np.ones((158, 238), dtype=np.uint8)
    scipy.io.savemat(gt / "vidf1_33_roi_mainwalkway.mat", {"roi": roi})
    return root, counts


def test_ucsd_imports_every_frame_with_exact_counts_and_the_walkway_roi(ucsd_root, tmp_path):
    root, counts = ucsd_root
    summary = import_dataset(root, tmp_path / "out")
    assert summary.format == "ucsd"
    dataset = Dataset(tmp_path / "out")
    for video, numbers in counts.items():
        for index, number in enumerate(numbers):
            name = f"{video}_f{index + 1:03d}.png"
            assert dataset.entry(name).count == number
            annotation = read_sidecar(sidecar_path(tmp_path / "out" / name))
            assert [r.kind for r in annotation.regions] == ["roi"]
            assert annotation.regions[0].polygon.tolist() == [[20, 10], [200, 15], [220, 150], [30, 140]]
    saved = scipy.io.loadmat(root / "vidf-cvpr" / "vidf1_33_000_frame_full.mat")["frame"][0, 3][0, 0]["loc"]
    points = read_sidecar(sidecar_path(tmp_path / "out" / "vidf1_33_000_f004.png")).points
    assert np.array_equal(points, saved[:, :2])  # the third column dropped, x and y unchanged
    assert summary.points == sum(sum(n) for n in counts.values())
    assert not summary.skipped


@pytest.fixture
def mall_root(tmp_path):
    """mall_dataset/ with 5 frames 64 x 48, mall_gt.mat (frame, count) and perspective_roi.mat (roi.mask)."""
    root = tmp_path / "download" / "mall_dataset"
    (root / "frames").mkdir(parents=True)
    numbers = [13, 0, 31, 7, 25]
    scipy.io.savemat(root / "mall_gt.mat", {"frame": _frame_cell(_locs(numbers, 64, 48, 5)),
                                            "count": np.array(numbers, dtype=np.float64)[:, None]})
    for index in range(len(numbers)):
        Image.new("RGB", (64, 48), (120, 100, 80)).save(root / "frames" / f"seq_{index + 1:06d}.jpg")
    mask = np.zeros((48, 64), dtype=np.uint8)
    mask[10:40, 5:60] = 1
    mask[10:20, 5:30] = 0  # a notch: the outline is not a rectangle
    mask[30:35, 40:45] = 0  # a hole: left out of a roi region (a union of filled polygons)
    roi = np.zeros((1, 1), dtype=[("mask", object)])
    roi[0, 0]["mask"] = mask
    scipy.io.savemat(root / "perspective_roi.mat", {"roi": roi, "pMapN": np.ones((48, 1))})
    return root, numbers, mask


def test_mall_imports_exact_counts_and_the_mask_roi_as_its_outline(mall_root, tmp_path):
    root, numbers, mask = mall_root
    summary = import_dataset(root.parent, tmp_path / "out")
    assert summary.format == "mall"
    dataset = Dataset(tmp_path / "out")
    assert [dataset.entry(f"seq_{i + 1:06d}.jpg").count for i in range(5)] == numbers
    annotation = read_sidecar(sidecar_path(tmp_path / "out" / "seq_000003.jpg"))
    (region,) = annotation.regions
    # Along the pixel edges of the notched rectangle, one corner per turn; the hole is left out.
    assert _pixel_centres_inside(region.polygon, 64, 48).sum() == mask.sum() + 25
    assert sorted(map(tuple, region.polygon.tolist())) == sorted(
        [(30, 10), (60, 10), (60, 40), (5, 40), (5, 20), (30, 20)])
    on_disk = json.loads(sidecar_path(tmp_path / "out" / "seq_000003.jpg").read_text())
    assert on_disk["regions"][0]["kind"] == "roi" and on_disk["version"] == 2


def test_mall_count_that_disagrees_with_the_points_is_reported(mall_root, tmp_path):
    root, _, _ = mall_root
    contents = scipy.io.loadmat(root / "mall_gt.mat")
    scipy.io.savemat(root / "mall_gt.mat", {"frame": contents["frame"],
                                            "count": np.array([13, 1, 31, 7, 25], dtype=np.float64)[:, None]})
    from engine.events import ListSink

    events = ListSink()
    import_dataset(root, tmp_path / "out", fmt="mall", events=events)
    warnings = [e["message"] for e in events.events if e["type"] == "warning"]
    assert any("'count' says 1 for frame 2 but it has 0 points" in w for w in warnings)


def test_mask_outlines_of_two_parts_hold_exactly_their_pixels():
    mask = np.zeros((20, 30), dtype=bool)
    mask[2:8, 3:9] = True
    mask[10:18, 12:29] = True
    mask[12, 12] = False
    outlines = mask_outlines(mask)
    assert len(outlines) == 2
    inside = _pixel_centres_inside(outlines[0], 30, 20) | _pixel_centres_inside(outlines[1], 30, 20)
    assert np.array_equal(inside, mask)


def _pixel_centres_inside(polygon: np.ndarray, width: int, height: int) -> np.ndarray:
    """Even-odd test of every pixel centre (c + 0.5, r + 0.5): the exact rule, independent of the code tested."""
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    inside = np.zeros((height, width), dtype=bool)
    for (x0, y0), (x1, y1) in zip(polygon, np.roll(polygon, -1, axis=0)):
        crosses = (y0 > ys) != (y1 > ys)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x0 + (ys - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (xs < at)
    return inside
