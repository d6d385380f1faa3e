"""Annotation formats one by one: readers, writers and the discovery that pairs images with annotations."""

import json

import h5py
import numpy as np
import pytest
import scipy.io
from PIL import Image

from engine.dataset.formats import (
    FORMATS,
    AnnotationError,
    csv_points,
    dotdotgoose,
    labelme,
    nwpu,
    qnrf,
    shanghaitech,
)
from engine.dataset.formats.common import point_array
from engine.dataset.formats.matfile import read_mat_points, write_image_info_mat

RNG = np.random.default_rng(7)


def _image(path, width=40, height=30):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((height, width, 3), dtype=np.uint8)).save(path)
    return path


def _original_gt_mat(path, points, number=None, number_type=np.uint16):
    """A GT_*.mat built the way the ShanghaiTech files are (not with our writer): cell{struct}."""
    path.parent.mkdir(parents=True, exist_ok=True)
    struct = np.zeros((1, 1), dtype=[("location", object), ("number", object)])
    struct[0, 0]["location"] = np.asarray(points, dtype=np.float64)
    struct[0, 0]["number"] = np.array([[len(points) if number is None else number]], dtype=number_type)
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = struct
    scipy.io.savemat(path, {"image_info": cell})
    return path


def _v73_file(path):
    """An HDF5 file laid out like MATLAB's -v7.3 files (512-byte user block with the MATLAB header)."""
    handle = h5py.File(path, "w", userblock_size=512)
    return handle


def _finish_v73(path):
    with open(path, "r+b") as raw:
        raw.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 .")


# --------------------------------------------------------------- .mat files
def test_shanghaitech_reader_reads_the_original_structure(tmp_path):
    points = RNG.uniform(1, 30, (233, 2))
    path = _original_gt_mat(tmp_path / "GT_IMG_1.mat", points, number_type=np.uint8)
    notes = []
    assert np.array_equal(shanghaitech.read_shanghaitech_points(path, None, notes), points)
    assert notes == []


def test_shanghaitech_number_disagreeing_is_noted_and_points_win(tmp_path):
    points = RNG.uniform(1, 30, (5, 2))
    path = _original_gt_mat(tmp_path / "GT_IMG_1.mat", points, number=7)
    notes = []
    assert len(read_mat_points(path, notes)) == 5
    assert "number says 7" in notes[0]


@pytest.mark.parametrize("count, number_type", [(0, np.uint8), (1, np.uint8), (255, np.uint8),
                                                (283, np.uint16), (70000, np.uint32)])
def test_image_info_writer_matches_the_original_layout(tmp_path, count, number_type):
    points = RNG.uniform(0, 1000, (count, 2))
    path = tmp_path / "GT_IMG_9.mat"
    write_image_info_mat(path, points)
    contents = scipy.io.loadmat(path)
    info = contents["image_info"]
    assert info.shape == (1, 1) and info.dtype == object  # a 1x1 cell ...
    assert info[0, 0].dtype.names == ("location", "number")  # ... holding a struct
    location, number = info[0, 0][0, 0][0], info[0, 0][0, 0][1]  # the loader everybody copies
    assert location.shape == (count, 2) and location.dtype == np.float64
    assert np.array_equal(location, points)
    assert number.dtype == number_type and int(number[0, 0]) == count
    assert np.array_equal(read_mat_points(path), points)


def test_annpoints_of_qnrf_and_nwpu(tmp_path):
    points = RNG.uniform(0, 500, (40, 2))
    scipy.io.savemat(tmp_path / "img_0001_ann.mat", {"annPoints": points})
    scipy.io.savemat(tmp_path / "0001.mat", {"annPoints": points, "boxes": np.zeros((40, 4))})
    assert np.array_equal(qnrf.read_qnrf_points(tmp_path / "img_0001_ann.mat"), points)
    assert np.array_equal(nwpu.read_nwpu_points(tmp_path / "0001.mat"), points)


def test_matlab_v73_annpoints_and_image_info(tmp_path):
    points = RNG.uniform(0, 500, (12, 2))
    path = tmp_path / "img_0001_ann.mat"
    with _v73_file(path) as handle:
        handle["annPoints"] = points.T  # MATLAB is column-major: N x 2 is stored as 2 x N
    _finish_v73(path)
    assert np.array_equal(read_mat_points(path), points)

    path = tmp_path / "GT_IMG_1.mat"
    with _v73_file(path) as handle:
        struct = handle.create_group("#refs#/a")
        struct["location"] = points.T
        struct["number"] = np.array([[12.0]])
        cell = handle.create_dataset("image_info", (1, 1), dtype=h5py.ref_dtype)
        cell[0, 0] = struct.ref
    _finish_v73(path)
    assert np.array_equal(read_mat_points(path), points)


def test_bad_mat_files_raise_plain_reasons(tmp_path):
    garbage = tmp_path / "GT_IMG_1.mat"
    garbage.write_bytes(b"this is not a MATLAB file" * 10)
    with pytest.raises(AnnotationError, match="not a readable MATLAB"):
        read_mat_points(garbage)
    other = tmp_path / "other.mat"
    scipy.io.savemat(other, {"density": np.zeros((3, 3))})
    with pytest.raises(AnnotationError, match="variables found: density"):
        read_mat_points(other)
    wrong_shape = tmp_path / "wrong.mat"
    scipy.io.savemat(wrong_shape, {"annPoints": np.zeros((5, 1))})
    with pytest.raises(AnnotationError, match="N x 2"):
        read_mat_points(wrong_shape)


def test_point_array_shapes():
    notes = []
    assert point_array([[1, 2, 9], [3, 4, 9]], "p", notes).tolist() == [[1, 2], [3, 4]]
    assert "first two" in notes[0]
    assert point_array([5, 6], "p", []).tolist() == [[5, 6]]
    assert point_array(np.zeros((0, 0)), "p", []).shape == (0, 2)
    with pytest.raises(AnnotationError):
        point_array([1, 2, 3], "p", [])
    with pytest.raises(AnnotationError):
        point_array([["a", "b"]], "p", [])


def test_shanghaitech_discovery_pairs_by_stem_and_reports_leftovers(tmp_path):
    for n in (1, 2, 3):
        _image(tmp_path / "images" / f"IMG_{n}.jpg")
    _original_gt_mat(tmp_path / "ground-truth" / "GT_IMG_1.mat", [[1.0, 1.0]])
    _original_gt_mat(tmp_path / "ground-truth" / "GT_IMG_2.mat", [[2.0, 2.0]])
    _original_gt_mat(tmp_path / "ground-truth" / "GT_IMG_77.mat", [[2.0, 2.0]])
    found = shanghaitech.discover(tmp_path)
    assert [(i.image.name, i.annotation.name if i.annotation else None) for i in found.items] == [
        ("IMG_1.jpg", "GT_IMG_1.mat"), ("IMG_2.jpg", "GT_IMG_2.mat"), ("IMG_3.jpg", None)]
    assert [(p.name, reason) for p, reason in found.skipped] == [("GT_IMG_77.mat", "no matching image found")]


def test_two_images_claiming_one_annotation_get_neither(tmp_path):
    _image(tmp_path / "a.jpg")
    _image(tmp_path / "a.png")
    scipy.io.savemat(tmp_path / "a_ann.mat", {"annPoints": np.ones((1, 2))})
    found = qnrf.discover(tmp_path)
    assert found.labeled == 0
    assert "several images" in found.skipped[0][1]


def test_nwpu_discovery_uses_mats_folder(tmp_path):
    _image(tmp_path / "images" / "0001.jpg")
    (tmp_path / "mats").mkdir()
    scipy.io.savemat(tmp_path / "mats" / "0001.mat", {"annPoints": np.ones((3, 2))})
    found = nwpu.discover(tmp_path)
    assert found.labeled == 1 and found.items[0].annotation.name == "0001.mat"


# ---------------------------------------------------------------------- CSV
@pytest.mark.parametrize("text", [
    "x,y\n1.5,2.5\n3,4\n",
    "1.5,2.5\n3,4\n",
    "\ufeffX;Y\n1,5;2,5\n3;4\n",  # BOM, semicolons and decimal commas
    "# exported by a microscope\nx\ty\n1.5\t2.5\n\n3\t4\n",
    "1.5 2.5\n3   4\n",
    "id,x,y\n7,1.5,2.5\n8,3,4\n",  # extra column, named header
])
def test_per_image_csv_variants(tmp_path, text):
    path = tmp_path / "a.csv"
    path.write_text(text, encoding="utf-8")
    assert csv_points.read_csv_points(path).tolist() == [[1.5, 2.5], [3.0, 4.0]]


def test_empty_and_header_only_csv_mean_no_objects(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("x,y\n")
    assert csv_points.read_csv_points(tmp_path / "empty.csv").shape == (0, 2)
    assert csv_points.read_csv_points(tmp_path / "header.csv").shape == (0, 2)


def test_bad_csv_value_names_the_line(tmp_path):
    (tmp_path / "a.csv").write_text("x,y\n1,2\n3,four\n")
    with pytest.raises(AnnotationError, match="line 3"):
        csv_points.read_csv_points(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("alpha,beta,gamma,delta\n1,2,3,4\n")
    with pytest.raises(AnnotationError, match="which columns"):
        csv_points.read_csv_points(tmp_path / "b.csv")
    (tmp_path / "c.csv").write_text('x,y\n"1,2\n3,4\n')
    with pytest.raises(AnnotationError, match="quotes"):
        csv_points.read_csv_points(tmp_path / "c.csv")


def test_csv_table_reads_paths_empty_rows_and_isolates_bad_rows(tmp_path):
    path = tmp_path / "all.csv"
    path.write_text("filename,x,y\nimgs/a.jpg,1,2\nC:\\data\\b.jpg,3,4\nimgs/a.jpg,5,6\nempty.jpg,,\n"
                    "bad.jpg,1,x\n")
    arrays, errors = csv_points.read_csv_table(path)
    assert arrays["a.jpg"].tolist() == [[1, 2], [5, 6]]
    assert arrays["b.jpg"].tolist() == [[3, 4]]
    assert arrays["empty.jpg"].shape == (0, 2)
    assert set(errors) == {"bad.jpg"} and "line 6" in errors["bad.jpg"]


def test_csv_writers_round_trip_exactly(tmp_path):
    points = RNG.uniform(0, 1000, (25, 2))
    csv_points.write_csv_points(tmp_path / "a.csv", points)
    assert np.array_equal(csv_points.read_csv_points(tmp_path / "a.csv"), points)
    csv_points.write_csv_table(tmp_path / "t.csv", {"a, b.png": points, "none.png": np.zeros((0, 2))})
    arrays, errors = csv_points.read_csv_table(tmp_path / "t.csv")
    assert np.array_equal(arrays["a, b.png"], points) and arrays["none.png"].shape == (0, 2) and not errors


def test_csv_discovery_mixes_tables_and_per_image_files(tmp_path):
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"):
        _image(tmp_path / "images" / name)
    (tmp_path / "table.csv").write_text("image,x,y\na.jpg,1,1\nb,2,2\nghost.jpg,3,3\n")
    (tmp_path / "c.csv").write_text("x,y\n4,4\n")
    (tmp_path / "stray.csv").write_text("x,y\n4,4\n")
    found = csv_points.discover(tmp_path)
    pairs = {i.image.name: i.annotation.name if i.annotation else None for i in found.items}
    assert pairs == {"a.jpg": "table.csv", "b.jpg": "table.csv", "c.jpg": "c.csv", "d.jpg": None}
    assert sorted(reason.split(",")[0] for _, reason in found.skipped) == [
        "lists 'ghost.jpg'", "no image with this name found"]
    assert found.items[1].load((40, 30), []).points.tolist() == [[2.0, 2.0]]


# ------------------------------------------------------------------ LabelMe
def _labelme(path, shapes, image_path="a.jpg", size=(40, 30)):
    data = {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": image_path, "imageData": None,
            "imageWidth": size[0], "imageHeight": size[1]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def _point(x, y, label="head"):
    return {"label": label, "points": [[x, y]], "group_id": None, "shape_type": "point", "flags": {}}


def test_labelme_points_labels_and_other_shapes(tmp_path):
    polygon = {"label": "zone", "points": [[0, 0], [5, 0], [5, 5]], "shape_type": "polygon"}
    path = _labelme(tmp_path / "a.json", [_point(1.25, 2.5), polygon, _point(3, 4, "cat"), _point(5, 6)])
    notes = []
    found = labelme.read_labelme_points(path, (40, 30), notes)
    assert found.points.tolist() == [[1.25, 2.5], [3, 4], [5, 6]]
    assert found.labels == ["head", "cat", "head"] and found.regions == []
    assert notes == ["skipped shapes that are not points or regions: 1 polygon"]
    only_cats = labelme.read_labelme_points(path, None, [], label="cat")
    assert only_cats.points.tolist() == [[3, 4]] and only_cats.labels == ["cat"]
    size_notes = []
    labelme.read_labelme_points(path, (80, 60), size_notes, label="head")
    assert any("40x30" in note and "80x60" in note for note in size_notes)


def test_old_labelme_shapes_without_shape_type(tmp_path):
    path = _labelme(tmp_path / "a.json", [{"label": "x", "points": [[7, 8]]},
                                          {"label": "x", "points": [[0, 0], [1, 1], [1, 0]]}])
    assert labelme.read_labelme_points(path).points.tolist() == [[7, 8]]


def test_not_labelme_json(tmp_path):
    (tmp_path / "a.json").write_text('{"points": []}')
    with pytest.raises(AnnotationError, match="not a LabelMe"):
        labelme.read_labelme_points(tmp_path / "a.json")


def test_labelme_discovery_follows_image_path_and_stem(tmp_path):
    _image(tmp_path / "images" / "one.jpg")
    _image(tmp_path / "two.jpg")
    _image(tmp_path / "three.jpg")
    _labelme(tmp_path / "annotations" / "x.json", [_point(1, 1)], image_path="..\\images\\one.jpg")
    _labelme(tmp_path / "two.json", [_point(2, 2)], image_path="renamed_since.jpg")
    _labelme(tmp_path / "lost.json", [_point(2, 2)], image_path="nowhere.jpg")
    (tmp_path / "three.jpg.points.json").write_text("{}")  # a CrowdGUI sidecar is not a LabelMe file
    (tmp_path / "config.json").write_text("[1, 2]")
    found = labelme.discover(tmp_path)
    pairs = {i.image.name: i.annotation.name if i.annotation else None for i in found.items}
    assert pairs == {"one.jpg": "x.json", "two.jpg": "two.json", "three.jpg": None}
    assert sorted(p.name for p, _ in found.skipped) == ["config.json", "lost.json"]


def test_every_format_module_has_the_common_shape():
    for name, module in FORMATS.items():
        assert module.NAME == name and module.DESCRIPTION
        assert callable(module.discover)


# -------------------------------------------------------------- DotDotGoose
def _pnt(path, points):
    data = {"classes": sorted({c for classes in points.values() for c in classes}), "points": points,
            "colors": {}, "metadata": {"survey_id": "s", "coordinates": {}}}
    path.write_text(json.dumps(data))
    return path


def test_dotdotgoose_classes_and_uncounted_images(tmp_path):
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"):
        _image(tmp_path / name)
    _pnt(tmp_path / "survey.pnt", {
        "a.jpg": {"adult": [{"x": 1.5, "y": 2.5}], "chick": [{"x": 3, "y": 4}, {"x": 5, "y": 6}]},
        "b.jpg": {"adult": []},  # counted: no objects
        "c.jpg": {},  # opened in DotDotGoose, never counted
        "gone.jpg": {"adult": [{"x": 1, "y": 1}]},
    })
    found = dotdotgoose.discover(tmp_path)
    pairs = {i.image.name: i.labeled for i in found.items}
    assert pairs == {"a.jpg": True, "b.jpg": True, "c.jpg": False, "d.jpg": False}
    assert "gone.jpg" in found.skipped[0][1]
    notes = []
    first = found.items[0].load((40, 30), notes)
    assert first.points.tolist() == [[1.5, 2.5], [3, 4], [5, 6]]
    assert first.labels == ["adult", "chick", "chick"]
    assert notes == []  # classes are carried, nothing to warn about
    assert found.items[1].load((40, 30), []).points.shape == (0, 2)
    only_chicks = dotdotgoose.discover(tmp_path, label="chick")
    assert only_chicks.items[0].load((40, 30), []).points.tolist() == [[3, 4], [5, 6]]


def test_bad_dotdotgoose_files(tmp_path):
    (tmp_path / "a.pnt").write_text("{}")
    _pnt(tmp_path / "b.pnt", {"x.jpg": {"adult": [{"x": "one", "y": 2}]}})
    _image(tmp_path / "x.jpg")
    found = dotdotgoose.discover(tmp_path)
    assert "not a DotDotGoose file" in found.skipped[0][1]
    with pytest.raises(AnnotationError, match="without numeric x, y"):
        found.items[0].load((40, 30), [])


def test_csv_class_columns_are_read_and_written_back(tmp_path):
    points = RNG.uniform(0, 100, (4, 2))
    labels = ["live", "dead", "live", "dead"]
    csv_points.write_csv_points(tmp_path / "a.csv", points, labels)
    assert (tmp_path / "a.csv").read_text().splitlines()[0] == "x,y,class"
    found = csv_points.read_csv_annotation(tmp_path / "a.csv")
    assert np.array_equal(found.points, points) and found.labels == labels
    # Without classes, nothing changes: x,y only, and no labels read back.
    csv_points.write_csv_points(tmp_path / "b.csv", points)
    assert (tmp_path / "b.csv").read_text().splitlines()[0] == "x,y"
    assert csv_points.read_csv_annotation(tmp_path / "b.csv").labels is None
    # A table: any header name for the class, an empty cell is the default class, empty images stay empty.
    (tmp_path / "t.csv").write_text("image;x;y;Species\nc.png;1,5;2;adult\nc.png;3;4;\nnone.png;;;\n")
    found, errors = csv_points.read_csv_table_annotations(tmp_path / "t.csv")
    assert not errors and found["c.png"].labels == ["adult", "object"]
    assert found["c.png"].points.tolist() == [[1.5, 2.0], [3.0, 4.0]] and found["none.png"].labels == []
    csv_points.write_csv_table(tmp_path / "u.csv", {"c.png": found["c.png"].points, "none.png": np.zeros((0, 2))},
                               {"c.png": found["c.png"].labels, "none.png": None})
    again, _ = csv_points.read_csv_table_annotations(tmp_path / "u.csv")
    assert again["c.png"].labels == ["adult", "object"] and len(again["none.png"].points) == 0


def test_importing_csv_with_a_class_column_labels_the_points(tmp_path):
    from engine.dataset import Dataset
    from engine.dataset.exporters import export_dataset
    from engine.dataset.importers import import_dataset

    src = tmp_path / "src"
    _image(src / "a.jpg")
    (src / "points.csv").write_text("image,x,y,class\na.jpg,1,1,live\na.jpg,5,5,dead\n")
    import_dataset(src, tmp_path / "ds", fmt="csv")
    assert Dataset(tmp_path / "ds").load_annotation("a.jpg").labels == ["live", "dead"]
    summary = export_dataset(tmp_path / "ds", tmp_path / "out", "csv", images=False)
    assert summary.classes_left_out == 0
    assert csv_points.read_csv_annotation(tmp_path / "out" / "a.csv").labels == ["live", "dead"]
