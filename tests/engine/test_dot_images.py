"""Dot-annotation images of any name and colour: reading the dots and pairing them with their photos."""

import json

import numpy as np
import pytest
from PIL import Image

from engine.cli import main
from engine.dataset.formats import AnnotationError, dots
from engine.dataset.formats.dot_pairing import pattern_problem
from engine.dataset.importers import DatasetImportError, import_dataset
from engine.dataset.sidecar import read_sidecar, sidecar_path


def _image(path, width=32, height=24):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width, 3), 90, dtype=np.uint8)).save(path)
    return path


def _dots(path, pixels, size=(32, 24), colour=(255, 0, 0), mode="RGB"):
    width, height = size
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.zeros((height, width, 4 if mode == "RGBA" else 3), dtype=np.uint8)
    if mode == "RGBA":
        array[..., 3] = 255
    for row, col in pixels:
        array[row, col, :3] = colour
    Image.fromarray(array).save(path)
    return path


def _centres(pixels):
    return sorted((col + 0.5, row + 0.5) for row, col in pixels)


# ------------------------------------------------------------------ reading
def test_single_pixel_dots_are_pixel_centres_counted_exactly(tmp_path):
    pixels = [(0, 0), (5, 7), (23, 31), (14, 3)]
    notes = []
    found = dots.read_dot_points(_dots(tmp_path / "001dots.png", pixels), (32, 24), notes)
    assert sorted(map(tuple, found.points)) == _centres(pixels)
    assert found.labels is None and notes == []


def test_touching_single_pixel_dots_each_count_with_a_note(tmp_path):
    pixels = [(0, 0), (5, 7), (23, 31), (10, 11), (10, 12)]  # two objects clicked side by side
    notes = []
    found = dots.read_dot_points(_dots(tmp_path / "001dots.png", pixels), None, notes)
    assert sorted(map(tuple, found.points)) == _centres(pixels)
    assert "1 group(s) of touching dot pixels" in notes[0]


@pytest.mark.parametrize("colour", [(0, 255, 0), (255, 255, 255), (3, 1, 2)])
def test_any_colour_on_the_background_is_a_dot(tmp_path, colour):
    pixels = [(1, 1), (7, 9), (20, 30)]
    path = _dots(tmp_path / "a_dots.png", pixels, colour=colour)
    assert sorted(map(tuple, dots.read_dot_points(path).points)) == _centres(pixels)


def test_palette_grey_and_16_bit_dots(tmp_path):
    pixels = [(2, 3), (10, 20), (15, 5)]
    indices = np.zeros((24, 32), dtype=np.uint8)
    for number, (row, col) in enumerate(pixels, start=1):
        indices[row, col] = number  # one palette index per plant, as in CVPPP centre images
    palette = Image.fromarray(indices, mode="P")
    palette.putpalette([0, 0, 0] + [255, 255, 255] * 255)
    palette.save(tmp_path / "p.png")
    wide = np.zeros((24, 32), dtype=np.uint16)
    for row, col in pixels:
        wide[row, col] = 40000
    Image.fromarray(wide).save(tmp_path / "w.png")
    Image.fromarray((wide > 0).astype(np.uint8) * 255).save(tmp_path / "g.png")
    for name in ("p.png", "w.png", "g.png"):
        assert sorted(map(tuple, dots.read_dot_points(tmp_path / name).points)) == _centres(pixels), name


def test_transparent_pixels_are_background(tmp_path):
    path = _dots(tmp_path / "001dots.png", [(1, 1), (2, 2)], mode="RGBA")
    array = np.asarray(Image.open(path)).copy()
    array[2, 2, 3] = 0
    Image.fromarray(array).save(path)
    assert dots.read_dot_points(path).points.tolist() == [[1.5, 1.5]]


def test_dots_larger_than_a_pixel_count_once_at_their_centroid_with_a_warning(tmp_path):
    array = np.zeros((40, 40), dtype=np.uint8)
    array[4:7, 4:7] = 255  # 3x3 dot centred on pixel (5, 5)
    array[20:22, 30:32] = 255  # 2x2 dot: centroid on the corner between four pixels
    array[33, 10] = 255
    Image.fromarray(array).save(tmp_path / "d.png")
    notes = []
    points = dots.read_dot_points(tmp_path / "d.png", None, notes).points
    assert sorted(map(tuple, points)) == [(5.5, 5.5), (10.5, 33.5), (31.0, 21.0)]
    assert "2 of 3 dots are larger than one pixel" in notes[0] and "centroid" in notes[0]


def test_jpeg_dots_count_blobs_with_a_warning(tmp_path):
    array = np.zeros((40, 40, 3), dtype=np.uint8)
    for row, col in [(5, 5), (20, 30), (33, 10)]:
        array[row - 1:row + 2, col - 1:col + 2] = (255, 0, 0)  # a 3x3 dot survives JPEG as a blob
    path = tmp_path / "001dots.jpg"
    Image.fromarray(array).save(path, quality=90)
    notes = []
    points = dots.read_dot_points(path, (40, 40), notes).points
    assert len(points) == 3 and "JPEG" in notes[0]
    assert np.allclose(sorted(map(tuple, points)), [(5.5, 5.5), (10.5, 33.5), (30.5, 20.5)], atol=0.5)


def test_colours_become_classes_when_asked(tmp_path):
    array = np.zeros((24, 32, 3), dtype=np.uint8)
    array[1, 1] = (255, 0, 0)
    array[5, 5] = (0, 255, 0)
    array[9, 9] = (255, 0, 0)
    Image.fromarray(array).save(tmp_path / "c.png")
    found = dots.read_dot_points(tmp_path / "c.png", classes=True)
    assert found.points.tolist() == [[1.5, 1.5], [5.5, 5.5], [9.5, 9.5]]
    assert found.labels == ["#ff0000", "#00ff00", "#ff0000"]


def test_dots_size_mismatch_is_noted(tmp_path):
    notes = []
    dots.read_dot_points(_dots(tmp_path / "001dots.png", [(1, 1)]), (64, 64), notes)
    assert "32x24" in notes[0] and "64x64" in notes[0]


def test_unreadable_dots_image(tmp_path):
    (tmp_path / "001dots.png").write_bytes(b"nope")
    with pytest.raises(AnnotationError, match="not a readable image"):
        dots.read_dot_points(tmp_path / "001dots.png")


# ------------------------------------------------------------------ pairing
def test_usual_names_pair(tmp_path):
    for name in ("001cell.png", "002cell.png", "a.png", "b_image.png", "0010cell.png", "p1_rgb.png", "q.png"):
        _image(tmp_path / name)
    for name in ("001dots.png", "002dots.png", "a_dots.png", "b-dots.png", "zzz_dots.png", "p1_centers.png",
                 "q_gt.png"):
        _dots(tmp_path / name, [(1, 1)])
    found = dots.discover(tmp_path)
    pairs = {i.image.name: i.annotation.name if i.annotation else None for i in found.items}
    assert pairs == {"001cell.png": "001dots.png", "002cell.png": "002dots.png", "a.png": "a_dots.png",
                     "b_image.png": "b-dots.png", "0010cell.png": None, "p1_rgb.png": "p1_centers.png",
                     "q.png": "q_gt.png"}
    assert [p.name for p, _ in found.skipped] == ["zzz_dots.png"]


def test_words_ending_like_dot_suffixes_are_not_dots(tmp_path):
    _image(tmp_path / "budgt.png")  # "gt" without a separator before it is part of the name
    _image(tmp_path / "budgt_gt.png")
    found = dots.discover(tmp_path)
    assert [(i.image.name, i.annotation.name) for i in found.items] == [("budgt.png", "budgt_gt.png")]


def _cvppp_layout(src, counts):
    """CVPPP-like plants: palette centre images with one non-zero pixel per plant, plus other masks."""
    rng = np.random.default_rng(3)
    for number, count in enumerate(counts, start=1):
        _image(src / f"plant{number:03d}_rgb.png", 60, 50)
        centres = np.zeros((50, 60), dtype=np.uint8)
        rows, cols = rng.choice(50, count, replace=False), rng.choice(60, count, replace=False)
        centres[rows, cols] = np.arange(1, count + 1)
        image = Image.fromarray(centres, mode="P")
        image.putpalette([0, 0, 0] + list(rng.integers(0, 255, 765)))
        image.save(src / f"plant{number:03d}_centers.png")
        Image.fromarray(centres > 0).save(src / f"plant{number:03d}_fg.png")


def _bees_layout(src, counts):
    """White dots on black in a parallel dots/ folder named {stem}_gt.png."""
    rng = np.random.default_rng(4)
    for number, count in enumerate(counts, start=1):
        _image(src / "images" / f"Bees{number}.png", 48, 40)
        dot = np.zeros((40, 48), dtype=np.uint8)
        dot[rng.choice(40, count, replace=False), rng.choice(48, count, replace=False)] = 255
        (src / "dots").mkdir(exist_ok=True)
        Image.fromarray(dot).save(src / "dots" / f"Bees{number}_gt.png")


@pytest.mark.parametrize("layout", [_cvppp_layout, _bees_layout])
def test_both_public_layouts_import_with_exact_counts_without_options(tmp_path, layout):
    counts = [7, 12, 3]
    layout(tmp_path / "src", counts)
    summary = import_dataset(tmp_path / "src", tmp_path / "out")
    assert (summary.format, summary.annotated, summary.unlabeled) == ("dots", 3, 0)
    sidecars = sorted((tmp_path / "out").glob("*.points.json"))
    assert [len(read_sidecar(path).points) for path in sidecars] == counts
    if layout is _cvppp_layout:  # the other masks of each plant are reported, not imported as photos
        assert sorted(reason.split(" (")[0] for _, reason in summary.skipped) == \
            ["another file of plant001", "another file of plant002", "another file of plant003"]


def test_a_pattern_names_the_dots_images(tmp_path):
    src = tmp_path / "src"
    _image(src / "images" / "x1.png")
    _image(src / "images" / "x2.png")
    _dots(src / "marks" / "x1-pts.png", [(1, 1), (2, 5)])
    summary = import_dataset(src, tmp_path / "out", dots="marks/{stem}-pts.png")
    assert (summary.annotated, summary.unlabeled) == (1, 1)
    assert read_sidecar(sidecar_path(tmp_path / "out" / "x1.png")).points.tolist() == [[1.5, 1.5], [5.5, 2.5]]


def test_bad_patterns_and_options_are_refused(tmp_path):
    assert "must contain {stem}" in pattern_problem("dots.png")
    assert "only use" in pattern_problem("{stem}_{other}.png")
    _image(tmp_path / "src" / "a.png")
    with pytest.raises(DatasetImportError, match="must contain"):
        import_dataset(tmp_path / "src", tmp_path / "out", dots="a_dots.png")
    with pytest.raises(DatasetImportError, match="--dot-classes applies to dot-image"):
        import_dataset(tmp_path / "src", tmp_path / "out", fmt="csv", dot_classes=True)


def test_dot_classes_import_into_labels(tmp_path):
    src = tmp_path / "src"
    _image(src / "a.png")
    array = np.zeros((24, 32, 3), dtype=np.uint8)
    array[3, 4], array[10, 10] = (0, 0, 255), (255, 255, 0)
    Image.fromarray(array).save(src / "a_dots.png")
    import_dataset(src, tmp_path / "out", dot_classes=True)
    assert read_sidecar(sidecar_path(tmp_path / "out" / "a.png")).labels == ["#0000ff", "#ffff00"]


def test_command_line_dots_pattern_and_classes(tmp_path, capsys):
    src = tmp_path / "src"
    _image(src / "a.png")
    _image(src / "a_centers.png")  # with --dots, a file the usual names would not pair
    array = np.zeros((24, 32, 3), dtype=np.uint8)
    array[2, 3], array[4, 6] = (0, 255, 0), (0, 0, 255)
    Image.fromarray(array).save(src / "a.marks.png")
    code = main(["import", str(src), "--out", str(tmp_path / "out"), "--dots", "{stem}.marks.png",
                 "--dot-classes", "--events", "jsonl"])
    done = [json.loads(line) for line in capsys.readouterr().out.splitlines()][-1]
    assert code == 0
    assert (done["format"], done["annotated"], done["unlabeled"], done["classified_points"]) == ("dots", 1, 1, 2)
    annotation = read_sidecar(sidecar_path(tmp_path / "out" / "a.png"))
    assert annotation.points.tolist() == [[3.5, 2.5], [6.5, 4.5]]
    assert annotation.labels == ["#00ff00", "#0000ff"]
