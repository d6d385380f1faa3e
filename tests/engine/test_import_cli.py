"""``python -m engine import`` and ``export``: every format in and out, exactly, and bad input handled."""

import json
import os

import numpy as np
import pytest
import scipy.io
from PIL import Image

from engine.cli import main
from engine.dataset import Dataset, read_sidecar, sidecar_path
from engine.dataset.exporters import export_dataset
from engine.dataset.importers import import_dataset
from engine.events import ListSink
from engine.dataset.synthetic import write_synthetic_dataset

W, H = 48, 32


def _image(path, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (H, W, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def _points(seed, count=None):
    rng = np.random.default_rng(seed)
    return rng.uniform([0, 0], [W, H], (int(rng.integers(0, 30)) if count is None else count, 2))


def _gt_mat(path, points):
    path.parent.mkdir(parents=True, exist_ok=True)
    struct = np.zeros((1, 1), dtype=[("location", object), ("number", object)])
    struct[0, 0]["location"], struct[0, 0]["number"] = points, np.array([[len(points)]], dtype=np.uint8)
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = struct
    scipy.io.savemat(path, {"image_info": cell})


# Each builder writes a source layout of three images into ``src`` and returns {image name: points}.
def _shanghaitech(src):
    truth = {}
    for n in (1, 2, 10):
        truth[f"IMG_{n}.jpg"] = _points(n)
        _image(src / "images" / f"IMG_{n}.jpg", n)
        _gt_mat(src / "ground-truth" / f"GT_IMG_{n}.mat", truth[f"IMG_{n}.jpg"])
    return truth


def _qnrf(src):
    truth = {}
    for n in (1, 2, 3):
        name = f"img_{n:04d}.jpg"
        truth[name] = _points(n)
        _image(src / name, n)
        scipy.io.savemat(src / f"img_{n:04d}_ann.mat", {"annPoints": truth[name]})
    return truth


def _nwpu(src):
    truth = {}
    for n in (1, 2, 3):
        name = f"{n:04d}.jpg"
        truth[name] = _points(n)
        _image(src / "images" / name, n)
        (src / "mats").mkdir(exist_ok=True)
        scipy.io.savemat(src / "mats" / f"{n:04d}.mat", {"annPoints": truth[name], "boxes": np.zeros((1, 4))})
    return truth


def _dots(src):
    truth = {}
    for n in (1, 2, 3):
        rng = np.random.default_rng(n)
        flat = rng.choice(W * H, size=int(rng.integers(1, 40)), replace=False)
        rows, cols = np.divmod(np.sort(flat), W)
        dots = np.zeros((H, W, 3), dtype=np.uint8)
        dots[rows, cols] = (255, 0, 0)
        src.mkdir(parents=True, exist_ok=True)
        Image.fromarray(dots).save(src / f"{n:03d}dots.png")
        _image(src / f"{n:03d}cell.png", n)
        truth[f"{n:03d}cell.png"] = np.column_stack([cols + 0.5, rows + 0.5])
    return truth


def _csv(src):
    truth = {}
    for n in (1, 2, 3):
        truth[f"p{n}.png"] = _points(n)
        _image(src / f"p{n}.png", n)
        lines = ["x,y"] + [f"{float(x)!r},{float(y)!r}" for x, y in truth[f"p{n}.png"]]
        (src / f"p{n}.csv").write_text("\n".join(lines) + "\n")
    return truth


def _csv_table(src):
    truth, lines = {}, ["image,x,y"]
    for n in (1, 2, 3):
        truth[f"t{n}.jpg"] = _points(n, count=4 * n)
        _image(src / "images" / f"t{n}.jpg", n)
        lines += [f"images/t{n}.jpg,{float(x)!r},{float(y)!r}" for x, y in truth[f"t{n}.jpg"]]
    (src / "annotations.csv").write_text("\n".join(lines) + "\n")
    return truth


def _labelme(src):
    truth = {}
    for n in (1, 2, 3):
        truth[f"l{n}.jpg"] = _points(n)
        _image(src / f"l{n}.jpg", n)
        shapes = [{"label": "head", "points": [[x, y]], "shape_type": "point", "group_id": None, "flags": {}}
                  for x, y in truth[f"l{n}.jpg"]]
        shapes.append({"label": "roi", "points": [[0, 0], [9, 0], [9, 9]], "shape_type": "polygon"})
        data = {"version": "5.4.1", "shapes": shapes, "imagePath": f"l{n}.jpg", "imageData": None,
                "imageHeight": H, "imageWidth": W}
        (src / f"l{n}.json").write_text(json.dumps(data))
    return truth


def _dotdotgoose(src):
    truth, counted = {}, {}
    for n in (1, 2, 3):
        truth[f"g{n}.png"] = _points(n)
        _image(src / f"g{n}.png", n)
        counted[f"g{n}.png"] = {"goose": [{"x": float(x), "y": float(y)} for x, y in truth[f"g{n}.png"]]}
    data = {"classes": ["goose"], "points": counted, "colors": {"goose": [255, 0, 0]},
            "metadata": {"survey_id": "test", "coordinates": {}}, "custom_fields": {"fields": [], "data": {}}}
    (src / "survey.pnt").write_text(json.dumps(data))
    return truth


BUILDERS = {"shanghaitech": _shanghaitech, "qnrf": _qnrf, "nwpu": _nwpu, "dots": _dots, "csv": _csv,
            "csv-table": _csv_table, "labelme": _labelme, "dotdotgoose": _dotdotgoose}


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(capsys, *argv):
    code = main([*map(str, argv), "--events", "jsonl"])
    lines = capsys.readouterr().out.splitlines()
    return code, [json.loads(line) for line in lines]


def _assert_dataset_equals(out, truth):
    dataset = Dataset(out)
    assert dataset.problems == []
    assert sorted(dataset.names()) == sorted(truth)
    for name, points in truth.items():
        annotation = read_sidecar(sidecar_path(out / name))
        assert np.array_equal(annotation.points, np.asarray(points).reshape(-1, 2)), name
        assert (annotation.width, annotation.height) == (W, H)


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_import_every_format_exactly_and_never_touch_the_source(tmp_path, capsys, kind):
    src, out = tmp_path / "src", tmp_path / "dataset"
    truth = BUILDERS[kind](src)
    before = _snapshot(src)
    code, events = _run(capsys, "import", src, "--out", out)
    assert code == 0
    done = [e for e in events if e["type"] == "done"][0]
    assert done["format"] == kind.split("-")[0]  # detected automatically
    assert done["images"] == 3 and done["points"] == sum(len(p) for p in truth.values())
    assert done["skipped"] == 0 and done["dropped_points"] == 0
    assert len([e for e in events if e["type"] == "result"]) == 3
    _assert_dataset_equals(out, truth)
    assert _snapshot(src) == before  # the source is never changed
    for name in truth:  # images are byte-identical copies (or links)
        assert (out / name).read_bytes() == next(p for p in src.rglob(name)).read_bytes()


@pytest.mark.parametrize("kind", ["shanghaitech", "dots", "labelme"])
def test_explicit_format_gives_the_same_result(tmp_path, capsys, kind):
    truth = BUILDERS[kind](tmp_path / "src")
    code, _ = _run(capsys, "import", tmp_path / "src", "--out", tmp_path / "out", "--format", kind)
    assert code == 0
    _assert_dataset_equals(tmp_path / "out", truth)


def test_points_outside_the_image_are_kept_and_flagged_and_non_numbers_dropped(tmp_path, capsys):
    src = tmp_path / "src"
    _image(src / "a.jpg")
    inside = [[0.0, 0.0], [W - 0.001, H - 0.001], [10.0, 10.0]]
    outside = [[-0.5, 3.0], [W, 5.0], [5.0, H + 10.0]]
    scipy.io.savemat(src / "a_ann.mat", {"annPoints": np.array(inside + outside + [[np.nan, 1.0]])})
    code, events = _run(capsys, "import", src, "--out", tmp_path / "out")
    assert code == 0
    warnings = [e["message"] for e in events if e["type"] == "warning"]
    assert any("1 of 7 point(s) are not numbers" in message for message in warnings)
    assert any("3 of 6 point(s) lie outside" in message and "kept in the points file" in message
               for message in warnings)
    assert read_sidecar(sidecar_path(tmp_path / "out" / "a.jpg")).points.tolist() == inside + outside
    done = [e for e in events if e["type"] == "done"][0]
    assert done["dropped_points"] == 1 and done["outside_points"] == 3


def test_bad_files_are_skipped_with_reasons_and_the_import_goes_on(tmp_path, capsys):
    src = tmp_path / "src"
    truth = _shanghaitech(src)
    (src / "images" / "IMG_3.jpg").write_bytes(b"not a jpeg")  # corrupt image
    _gt_mat(src / "ground-truth" / "GT_IMG_3.mat", np.ones((2, 2)))
    _image(src / "images" / "IMG_4.jpg")
    (src / "ground-truth" / "GT_IMG_4.mat").write_bytes(b"corrupt .mat")  # corrupt annotation
    _gt_mat(src / "ground-truth" / "GT_IMG_5.mat", np.ones((2, 2)))  # annotation without image
    _image(src / "images" / "IMG_6.jpg")  # image without annotation: imported unlabeled
    code, events = _run(capsys, "import", src, "--out", tmp_path / "out")
    assert code == 0
    done = [e for e in events if e["type"] == "done"][0]
    reasons = {os.path.basename(s["path"]): s["reason"] for s in done["skipped_files"]}
    assert set(reasons) == {"IMG_3.jpg", "GT_IMG_4.mat", "GT_IMG_5.mat"}
    assert "image unreadable" in reasons["IMG_3.jpg"]
    assert "annotation GT_IMG_4.mat unreadable: not a readable MATLAB" in reasons["GT_IMG_4.mat"]
    assert "no matching image" in reasons["GT_IMG_5.mat"]
    assert (done["images"], done["annotated"], done["unlabeled"]) == (4, 3, 1)
    warnings = " | ".join(e["message"] for e in events if e["type"] == "warning")
    assert "IMG_3.jpg" in warnings and "GT_IMG_4.mat" in warnings and "unlabeled: IMG_6.jpg" in warnings
    dataset = Dataset(tmp_path / "out")
    assert dataset.split_of("IMG_6.jpg") == "unlabeled"
    assert {n: read_sidecar(sidecar_path(tmp_path / "out" / n)).count for n in truth} == {
        n: len(p) for n, p in truth.items()}


def test_nothing_imported_exits_non_zero(tmp_path, capsys):
    src = tmp_path / "src"
    _image(src / "images" / "IMG_1.jpg")
    (src / "ground-truth").mkdir()
    (src / "ground-truth" / "GT_IMG_1.mat").write_bytes(b"corrupt")
    code, events = _run(capsys, "import", src, "--out", tmp_path / "out")
    assert code == 1
    assert events[-1]["type"] == "error" and "nothing" in events[-1]["message"]


def test_unknown_layout_and_bad_arguments_are_explained(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    _image(tmp_path / "src" / "a.jpg")
    code, events = _run(capsys, "import", tmp_path / "src", "--out", tmp_path / "out")
    assert code == 1 and "found no annotations" in events[-1]["message"]
    code, events = _run(capsys, "import", tmp_path / "missing", "--out", tmp_path / "out")
    assert code == 1 and "is not a folder" in events[-1]["message"]
    _qnrf(tmp_path / "q")
    code, events = _run(capsys, "import", tmp_path / "q", "--out", tmp_path / "q")
    assert code == 1 and "choose a new folder" in events[-1]["message"]
    code, events = _run(capsys, "import", tmp_path / "q", "--out", tmp_path / "o", "--format", "dots")
    assert code == 1 and "found no dots annotations" in events[-1]["message"]


def test_existing_files_in_the_output_are_never_replaced(tmp_path, capsys):
    src, out = tmp_path / "src", tmp_path / "out"
    _qnrf(src)
    assert _run(capsys, "import", src, "--out", out)[0] == 0
    Dataset(out).save_points("img_0001.jpg", [[1.0, 1.0]])  # the user edits after importing
    before = _snapshot(out)
    code, events = _run(capsys, "import", src, "--out", out)
    assert code == 1  # nothing new
    assert _snapshot(out) == before
    done = [e for e in events if e["type"] == "done"][0]
    assert done["skipped"] == 3 and "already in the dataset" in done["skipped_files"][0]["reason"]


def test_images_are_copied_when_links_are_impossible_or_not_wanted(tmp_path, monkeypatch):
    src = tmp_path / "src"
    _qnrf(src)
    summary = import_dataset(src, tmp_path / "copied", link=False)
    assert summary.images == 3
    assert os.stat(tmp_path / "copied" / "img_0001.jpg").st_ino != os.stat(src / "img_0001.jpg").st_ino

    def no_links(*args):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    events = ListSink()
    assert import_dataset(src, tmp_path / "fallback", events=events).images == 3
    assert {e["stored"] for e in events.of_type("result")} == {"copied"}
    assert not [p for p in (tmp_path / "fallback").iterdir() if p.name.endswith(".tmp")]


def test_labelme_label_option(tmp_path, capsys):
    src = tmp_path / "src"
    _image(src / "a.jpg")
    shapes = [{"label": lab, "points": [[i, i]], "shape_type": "point"} for i, lab in enumerate("hhc")]
    (src / "a.json").write_text(json.dumps({"shapes": shapes, "imagePath": "a.jpg"}))
    code, _ = _run(capsys, "import", src, "--out", tmp_path / "out", "--label", "c")
    assert code == 0
    assert read_sidecar(sidecar_path(tmp_path / "out" / "a.jpg")).points.tolist() == [[2.0, 2.0]]
    code, events = _run(capsys, "import", src, "--out", tmp_path / "o2", "--format", "csv", "--label", "c")
    assert code == 1 and "LabelMe and DotDotGoose" in events[-1]["message"]


def test_labelme_labels_become_the_dataset_classes(tmp_path, capsys):
    src = tmp_path / "src"
    _image(src / "a.jpg")
    shapes = [{"label": lab, "points": [[i, i]], "shape_type": "point"} for i, lab in enumerate(["live", "dead", "live"])]
    (src / "a.json").write_text(json.dumps({"shapes": shapes, "imagePath": "a.jpg"}))
    code, events = _run(capsys, "import", src, "--out", tmp_path / "out")
    assert code == 0 and events[-1]["classes"] == ["live", "dead"]
    dataset = Dataset(tmp_path / "out")
    assert dataset.settings.class_names() == ["live", "dead"]
    assert [c.key for c in dataset.settings.classes] == [1, 2]
    assert len({c.colour for c in dataset.settings.classes}) == 2
    assert read_sidecar(sidecar_path(tmp_path / "out" / "a.jpg")).labels == ["live", "dead", "live"]
    # A second import into the same dataset adds only the class it does not list yet, after the others.
    other = tmp_path / "src2"
    _image(other / "b.jpg")
    shapes = [{"label": lab, "points": [[i, i]], "shape_type": "point"} for i, lab in enumerate(["egg", "dead"])]
    (other / "b.json").write_text(json.dumps({"shapes": shapes, "imagePath": "b.jpg"}))
    code, _ = _run(capsys, "import", other, "--out", tmp_path / "out")
    assert code == 0
    assert Dataset(tmp_path / "out").settings.class_names() == ["live", "dead", "egg"]


def test_text_mode_prints_a_summary(tmp_path, capsys):
    _dots(tmp_path / "src")
    assert main(["import", str(tmp_path / "src"), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "Imported 3 image(s)" in printed and "(dots)" in printed and "skipped: 0" in printed


# ------------------------------------------------------------------- export
@pytest.mark.parametrize("fmt, layout", [("shanghaitech", None), ("csv", "per-image"), ("csv", "table")])
def test_export_then_import_gives_back_the_same_points(tmp_path, capsys, fmt, layout):
    dataset = write_synthetic_dataset(tmp_path / "ds", images=4, size=(H, W), counts=(0, 15), seed=3,
                                      annotate=3)
    Dataset(dataset).save_points("cells_002.png", np.zeros((0, 2)))  # annotated, no objects
    argv = ["export", dataset, "--format", fmt, "--out", tmp_path / "exported"]
    code, events = _run(capsys, *argv, *(["--csv-layout", layout] if layout else []))
    assert code == 0
    done = [e for e in events if e["type"] == "done"][0]
    assert (done["images"], done["unlabeled"], done["skipped"]) == (3, 1, 0)

    code, _ = _run(capsys, "import", tmp_path / "exported", "--out", tmp_path / "back")
    assert code == 0
    original = Dataset(dataset)
    truth = {n: original.load_points(n) for n in original.names() if original.entry(n).annotated}
    _assert_dataset_equals(tmp_path / "back", truth)
    assert read_sidecar(sidecar_path(tmp_path / "back" / "cells_002.png")).count == 0


def test_shanghaitech_export_layout_is_the_original_one(tmp_path):
    dataset = write_synthetic_dataset(tmp_path / "ds", images=2, size=(H, W), counts=(3, 9), seed=4)
    export_dataset(dataset, tmp_path / "sht", "shanghaitech")
    info = scipy.io.loadmat(tmp_path / "sht" / "ground-truth" / "GT_cells_001.mat")["image_info"]
    assert np.array_equal(info[0, 0][0, 0][0], Dataset(dataset).load_points("cells_001.png"))
    assert (tmp_path / "sht" / "images" / "cells_001.png").is_file()


def test_export_never_overwrites_without_force_and_filters_splits(tmp_path, capsys):
    dataset = write_synthetic_dataset(tmp_path / "ds", images=3, size=(H, W), counts=(3, 9), seed=5)
    Dataset(dataset).save_points("cells_003.png", [[1.0, 2.0]], split="test")
    out = tmp_path / "exported"
    code, _ = _run(capsys, "export", dataset, "--format", "csv", "--out", out, "--split", "test",
                   "--no-images")
    assert code == 0 and sorted(p.name for p in out.iterdir()) == ["cells_003.csv"]
    (out / "cells_003.csv").write_text("x,y\n9,9\n")  # somebody's file
    code, events = _run(capsys, "export", dataset, "--format", "csv", "--out", out, "--split", "test")
    assert code == 1 and (out / "cells_003.csv").read_text() == "x,y\n9,9\n"
    assert "already exists" in [e for e in events if e["type"] == "warning"][0]["message"]
    code, _ = _run(capsys, "export", dataset, "--format", "csv", "--out", out, "--split", "test", "--force")
    assert code == 0 and (out / "cells_003.csv").read_text() == "x,y\n1.0,2.0\n"
    code, events = _run(capsys, "export", dataset, "--format", "csv", "--out", dataset)
    assert code == 1 and "dataset folder itself" in events[-1]["message"]


def test_export_skips_bad_sidecars_with_reason(tmp_path, capsys):
    dataset = write_synthetic_dataset(tmp_path / "ds", images=2, size=(H, W), counts=(3, 9), seed=6)
    sidecar_path(dataset / "cells_001.png").write_text("{broken")
    code, events = _run(capsys, "export", dataset, "--format", "shanghaitech", "--out", tmp_path / "x")
    assert code == 0
    done = [e for e in events if e["type"] == "done"][0]
    assert done["images"] == 1 and "annotation unreadable" in done["skipped_files"][0]["reason"]
    assert (tmp_path / "x" / "ground-truth" / "GT_cells_002.mat").is_file()
    assert not (tmp_path / "x" / "ground-truth" / "GT_cells_001.mat").exists()


def test_notes_that_repeat_are_shown_three_times_then_summed_up():
    from engine.dataset.importers import NOTES_SHOWN, ImportSummary

    summary = ImportSummary(format="dots", source="src", out="out")
    shown = [summary.note_is_new(f"{n} group(s) of touching dot pixels ({2 * n} points)", f"{n}dots.png")
             for n in range(1, 8)]
    assert shown == [True] * NOTES_SHOWN + [False] * (7 - NOTES_SHOWN)
    assert summary.note_is_new("lossy (JPEG) dots image", "a.png")  # another kind of note is shown
    assert summary.repeated_notes() == {"N group(s) of touching dot pixels (N points)":
                                        [f"{n}dots.png" for n in range(NOTES_SHOWN + 1, 8)]}
