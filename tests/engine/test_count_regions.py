"""Counting with regions: ROI and ignore polygons (sidecars and --roi files), area_px and counts per area.

The test model counts one object per pure-red pixel (count_fixtures.RedCounter), so every count inside a
polygon has a known answer: the red pixels whose cell centre lies inside it (polygons on the 4-pixel grid).
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # --import-mode=importlib does not add it; the helpers live here
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
from engine.dataset.pixel_size import parse_pixel_size
from engine.dataset.regions import Region, known_area, mask_area_px, read_roi_file, rectangle
from engine.dataset.sidecar import Annotation, sidecar_path, write_sidecar

# 10 red pixels on a 64 x 48 image: x = 4, 16, 28, 40, 52 on rows y = 4 and 16.
PIXELS = spread_pixels(10, 64, 48)
LEFT_HALF = rectangle("roi", 0, 0, 32, 48)  # holds x = 4, 16, 28: 6 pixels
TOP_LEFT = rectangle("ignore", 0, 0, 12, 12)  # holds (4, 4) only


def _count(capsys, *args) -> tuple[int, list[dict]]:
    code = main(["count", *map(str, args), "--events", "jsonl"])
    return code, _events(capsys.readouterr().out)


def _with_regions(folder: Path, name: str, points, regions) -> Path:
    path = write_red_image(folder, name, PIXELS)
    write_sidecar(sidecar_path(path), Annotation(name, 64, 48, points, regions=regions))
    return path


@pytest.fixture
def red_checkpoint(tmp_path):
    with red_counter_registered():
        yield red_counter_checkpoint(tmp_path / "red.pt", stride=4, density_scale=50.0, sigma=2.0)


# ------------------------------------------------------------------------------------- library pieces
def test_read_roi_file_accepts_roi_and_ignore_lists_and_says_what_is_wrong(tmp_path):
    good = tmp_path / "roi.json"
    good.write_text(json.dumps([LEFT_HALF.to_json(), TOP_LEFT.to_json()]))
    regions = read_roi_file(good)
    assert [r.kind for r in regions] == ["roi", "ignore"] and regions[0].area == 32 * 48
    copied = tmp_path / "copied.json"  # a sidecar's "regions" pasted with its key
    copied.write_text(json.dumps({"regions": [LEFT_HALF.to_json()]}))
    assert [r.kind for r in read_roi_file(copied)] == ["roi"]
    cases = {
        "missing.json": (None, "no such region file"),
        "text.json": ("roi: everything", "not JSON"),
        "object.json": ('{"kind": "roi"}', "expected a JSON list of regions"),
        "empty.json": ("[]", "expected a JSON list of regions"),
        "broken.json": ('[{"kind": "roi", "polygon": "here"}]', "region 1 is not a region"),
        "count.json": (json.dumps([rectangle("count", 0, 0, 4, 4, count=3).to_json()]),
                       "region 1 is a 'count' region"),
    }
    for name, (text, message) in cases.items():
        if text is not None:
            (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=message):
            read_roi_file(tmp_path / name)


def test_pixel_sizes_give_objects_per_mm2_or_per_hectare():
    micro = parse_pixel_size("0.5um")
    assert micro.column == "per_mm2" and str(micro) == "0.5um"
    # 2000 x 2000 pixels of 0.5 um = 1 mm x 1 mm.
    assert micro.per_area(40, 2000 * 2000) == pytest.approx(40.0)
    assert parse_pixel_size("0.5 µm") == micro
    aerial = parse_pixel_size("0.1m")
    # 1000 x 1000 pixels of 0.1 m = 100 m x 100 m = 1 hectare.
    assert aerial.column == "per_hectare" and aerial.per_area(7, 1000 * 1000) == pytest.approx(7.0)
    assert aerial.per_area(7, 0) is None
    for bad in ("5", "-1um", "0um", "3km", "um"):
        with pytest.raises(ValueError, match="pixel size"):
            parse_pixel_size(bad)


def test_counted_area_is_the_roi_minus_ignore_and_its_pixels_are_counted_at_the_image_edge():
    known = known_area(0, [LEFT_HALF, TOP_LEFT], 64, 48, stride=4)
    assert known.counted.sum() == 8 * 12 - 3 * 3
    assert mask_area_px(known.counted, 64, 48, 4) == 32 * 48 - 12 * 12
    assert known_area(5, [], 64, 48, 4).counted is None
    # A 10 x 10 image at stride 4: the last cells hold 2 pixel rows and columns.
    assert mask_area_px(np.ones((3, 3), bool), 10, 10, 4) == 100 == mask_area_px(None, 10, 10, 4)


# ---------------------------------------------------------------------------------------- the command
def test_a_roi_file_counts_inside_it_on_every_image(red_checkpoint, tmp_path, capsys):
    folder = tmp_path / "camera"
    write_red_image(folder, "a.png", PIXELS, annotated_points=pixel_centres(PIXELS))
    write_red_image(folder, "b.png", PIXELS[:5])  # row y = 4 only: 3 inside the left half
    roi = tmp_path / "roi.json"
    roi.write_text(json.dumps([LEFT_HALF.to_json(), TOP_LEFT.to_json()]))
    out = tmp_path / "counts.csv"
    code, events = _count(capsys, folder, "--checkpoint", red_checkpoint, "--out", out, "--roi", roi,
                          "--pixel-size", "0.5um")
    assert code == 0
    area = 32 * 48 - 12 * 12
    per_mm2 = 5 / (area * 0.0005**2)
    assert _rows(out) == [["image", "count", "annotated_count", "error", "area_px", "per_mm2"],
                          ["a.png", "5.000", "5", "0.000", str(area), f"{per_mm2:.3f}"],
                          ["b.png", "2.000", "", "", str(area), f"{2 / (area * 0.0005**2):.3f}"]]
    a = next(e for e in events if e["type"] == "result")
    assert a["whole_count"] == pytest.approx(10.0, abs=1e-4) and a["count"] == pytest.approx(5.0, abs=1e-4)
    assert a["roi"] == [LEFT_HALF.polygon.tolist()] and a["ignore"] == [TOP_LEFT.polygon.tolist()]
    assert a["per_mm2"] == pytest.approx(per_mm2, rel=1e-4)
    # The pixel size is kept in the dataset's settings and used when the option is left out.
    settings = json.loads((folder / "crowdgui.json").read_text())
    assert settings["pixel_size"] == {"value": 0.5, "unit": "um"}
    code, _ = _count(capsys, folder, "--checkpoint", red_checkpoint, "--out", out)
    assert code == 0 and _rows(out)[0][-1] == "per_mm2"


def test_sidecar_roi_and_ignore_regions_are_honoured_and_compared_inside(red_checkpoint, tmp_path, capsys):
    folder = tmp_path / "data"
    # Complete annotation, 9 points (one red pixel missed), an ROI and an ignore region of its own.
    _with_regions(folder, "a.png", pixel_centres(PIXELS[1:]), [LEFT_HALF, TOP_LEFT])
    # Annotated only in the left half: without an ROI nothing is compared, the whole image is counted.
    _with_regions(folder, "b.png", pixel_centres(PIXELS[:3]),
                  [rectangle("annotated", 0, 0, 32, 48), rectangle("ignore", 12, 0, 24, 12)])
    out = tmp_path / "counts.csv"
    code, events = _count(capsys, folder, "--checkpoint", red_checkpoint, "--out", out)
    assert code == 0
    results = {e["image"]: e for e in events if e["type"] == "result"}
    a, b = results["a.png"], results["b.png"]
    assert a["count"] == pytest.approx(5.0, abs=1e-4) and a["annotated_count"] == 5 and a["area_px"] == 1392
    assert b["count"] == pytest.approx(9.0, abs=1e-4) and b["annotated_count"] is None
    assert b["area_px"] == 64 * 48 - 144 and b["roi"] == [] and b["ignore"] == [[[12, 0], [24, 0], [24, 12], [12, 12]]]
    done = events[-1]
    assert done["annotated"] == 1 and done["mae"] == pytest.approx(0.0, abs=1e-4)
    # With the left half as the ROI, the partial annotation is complete there and is compared.
    roi = tmp_path / "left.json"
    roi.write_text(json.dumps([LEFT_HALF.to_json()]))
    code, events = _count(capsys, folder, "--checkpoint", red_checkpoint, "--out", out, "--roi", roi)
    b = next(e for e in events if e["type"] == "result" and e["image"] == "b.png")
    assert b["count"] == pytest.approx(5.0, abs=1e-4) and b["annotated_count"] == 2
    a = next(e for e in events if e["type"] == "result" and e["image"] == "a.png")
    assert a["count"] == pytest.approx(5.0, abs=1e-4)  # the file's ROI is the same; its ignore still applies


def test_bad_regions_are_warned_about_kept_and_left_out(red_checkpoint, tmp_path, capsys):
    folder = tmp_path / "data"
    bow_tie = Region("roi", [[0, 0], [40, 48], [40, 0], [0, 30]])
    path = _with_regions(folder, "a.png", pixel_centres(PIXELS), [bow_tie])
    before = sidecar_path(path).read_text()
    outside = tmp_path / "far.json"
    outside.write_text(json.dumps([rectangle("roi", 100, 100, 200, 200).to_json()]))
    out = tmp_path / "counts.csv"
    code, events = _count(capsys, folder, "--checkpoint", red_checkpoint, "--out", out)
    warnings = [e["message"] for e in events if e["type"] == "warning"]
    assert code == 0 and any("a.png.points.json: region 1" in w and "edges cross" in w for w in warnings)
    result = next(e for e in events if e["type"] == "result")
    assert result["count"] == pytest.approx(10.0, abs=1e-4) and result["annotated_count"] == 10
    assert sidecar_path(path).read_text() == before
    code, events = _count(capsys, folder, "--checkpoint", red_checkpoint, "--out", out, "--roi", outside)
    warnings = [e["message"] for e in events if e["type"] == "warning"]
    assert any("far.json for a.png: region 1" in w and "wholly outside" in w for w in warnings)
    assert next(e for e in events if e["type"] == "result")["count"] == pytest.approx(10.0, abs=1e-4)


def test_bad_roi_files_and_pixel_sizes_are_refused_before_counting(red_checkpoint, tmp_path, capsys):
    folder = tmp_path / "data"
    write_red_image(folder, "a.png", PIXELS)
    out = tmp_path / "counts.csv"
    code, events = _count(capsys, folder, "--checkpoint", red_checkpoint, "--out", out,
                          "--roi", tmp_path / "nowhere.json")
    assert code == 2 and "no such region file" in events[-1]["message"] and not out.exists()
    code, events = _count(capsys, folder, "--checkpoint", red_checkpoint, "--out", out, "--pixel-size", "2")
    assert code == 2 and "0.65um" in events[-1]["message"] and not out.exists()


def _centres_inside(polygon: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon, one point at a time in numpy: the slow reference."""
    inside = np.zeros(xs.shape, dtype=bool)
    for (xa, ya), (xb, yb) in zip(polygon, np.roll(polygon, -1, axis=0)):
        spans = ((ya <= ys) & (ys < yb)) | ((yb <= ys) & (ys < ya))
        with np.errstate(divide="ignore", invalid="ignore"):
            crossing = xa + (ys - ya) * (xb - xa) / (yb - ya)
        inside ^= spans & (xs < crossing)
    return inside


def test_polygon_masks_take_exactly_the_cells_whose_centre_is_inside():
    from engine.dataset.regions import polygon_mask

    # On cell borders: exactly the cells inside (Pillow's fill took a column more on the left).
    mask = polygon_mask([[[12, 0], [24, 0], [24, 12], [12, 12]]], 64, 48, stride=4)
    assert mask.sum() == 9 and mask[:3, 3:6].all()
    rng = np.random.default_rng(0)
    for stride in (1, 3, 8):
        for _ in range(10):
            angles, radii = np.sort(rng.uniform(0, 2 * np.pi, 7)), rng.uniform(5, 30, 7)
            polygon = np.c_[32 + radii * np.cos(angles), 25 + radii * np.sin(angles)]
            mask = polygon_mask([polygon], 70, 50, stride)
            rows, cols = np.mgrid[0:mask.shape[0], 0:mask.shape[1]]
            assert np.array_equal(mask, _centres_inside(polygon, (cols + 0.5) * stride, (rows + 0.5) * stride))


def test_density_folders_and_points_files_are_read_back_by_the_engine(tmp_path):
    from engine.counting.outputs import (
        density_stride,
        read_points_csv,
        save_points_csv,
        write_density_manifest,
    )

    with pytest.raises(ValueError, match="no densities.json"):
        density_stride(tmp_path)
    write_density_manifest(tmp_path, 8, checkpoint="best.pt")
    assert density_stride(tmp_path) == 8
    (tmp_path / "densities.json").write_text('{"format": "something else", "stride": 8}')
    with pytest.raises(ValueError, match="not a CrowdGUI density manifest"):
        density_stride(tmp_path)
    path = save_points_csv(tmp_path, "a.png", np.array([[1.234, 5.0], [63.999, 2.0]]), (64, 48))
    assert read_points_csv(path).tolist() == [[1.23, 5.0], [63.99, 2.0]]
    (tmp_path / "other.csv").write_text("image,count\na.png,3\n")
    with pytest.raises(ValueError, match="not a points file"):
        read_points_csv(tmp_path / "other.csv")
