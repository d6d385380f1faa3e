"""Every format with classes round-trips through a dataset: dataset -> files -> dataset, and files -> dataset ->
files, points and classes exactly (and LabelMe's regions); auto-detection finds each exported layout."""

import json

import numpy as np
import pytest
from PIL import Image

from engine.dataset.exporters import export_dataset
from engine.dataset.formats import FORMATS
from engine.dataset.importers import import_dataset
from engine.dataset.regions import Region, rectangle
from engine.dataset.sidecar import Annotation, read_sidecar, sidecar_path, write_sidecar
from engine.events import ListSink

W, H = 48, 36
CLASS_FORMATS = ("labelme", "fiji", "qupath", "coco", "cvat")


def _image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((H, W, 3), 60, dtype=np.uint8)).save(path)


def _dataset(folder, grouped: bool):
    """Three annotated images (classes, one with regions, one with none) and an unlabeled one."""
    rng = np.random.default_rng(5)
    truth = {}
    for n in range(3):
        name = f"img{n}.png"
        _image(folder / name)
        # Pixel centres: Fiji stores whole pixels, so these are the points every format keeps exactly.
        points = np.floor(rng.uniform(0, (W, H), (6 + n, 2))) + 0.5
        labels = None if n == 2 else [("a", "b", "c")[i % 3] for i in range(len(points))]
        if grouped and labels is not None:
            labels = sorted(labels)  # Fiji writes marker type by marker type
        regions = [rectangle("roi", 1, 1, 30, 20), Region("count", [[0, 0], [9, 0], [9, 9]], 3.0)] if n == 0 else []
        write_sidecar(sidecar_path(folder / name), Annotation(name, W, H, points, labels=labels, regions=regions))
        truth[name] = (points, labels, regions)
    _image(folder / "unlabeled.png")
    return truth


@pytest.mark.parametrize("fmt", CLASS_FORMATS)
def test_dataset_to_files_to_dataset_is_exact(tmp_path, fmt):
    truth = _dataset(tmp_path / "data", grouped=fmt == "fiji")
    exported = export_dataset(tmp_path / "data", tmp_path / "files", fmt)
    assert (exported.images, exported.unlabeled) == (3, 1)
    summary = import_dataset(tmp_path / "files", tmp_path / "back")  # the layout is detected
    assert (summary.format, summary.annotated, summary.unlabeled) == (fmt, 3, 0)
    assert summary.regions == (2 if fmt == "labelme" else 0)
    for name, (points, labels, regions) in truth.items():
        back = read_sidecar(sidecar_path(tmp_path / "back" / name))
        assert np.array_equal(back.points, points), name
        # Points without classes: QuPath writes no classification (read back as none), the others "object".
        unclassed = None if fmt == "qupath" else ["object"] * len(points)
        assert back.labels == (labels if labels is not None else unclassed), name
        if fmt == "labelme":
            assert [r.to_json() for r in back.regions] == [r.to_json() for r in regions]


def test_formats_without_classes_or_regions_say_what_they_left_out(tmp_path):
    _dataset(tmp_path / "data", grouped=False)
    events = ListSink()
    summary = export_dataset(tmp_path / "data", tmp_path / "files", "shanghaitech", events)
    assert (summary.classes_left_out, summary.regions_left_out) == (2, 2)
    warnings = " ".join(e["message"] for e in events.of_type("warning"))
    assert "classes of 2 image(s) were not written" in warnings
    assert "2 region(s) were not written (shanghaitech files hold no regions" in warnings
    # CSV keeps classes (a class column), not regions.
    summary = export_dataset(tmp_path / "data", tmp_path / "csv", "csv")
    assert (summary.classes_left_out, summary.regions_left_out) == (0, 2)
    summary = export_dataset(tmp_path / "data", tmp_path / "cvat", "cvat")
    assert (summary.classes_left_out, summary.regions_left_out) == (0, 2)


def _fiji_source(src):
    _image(src / "a.png")
    (src / "CellCounter_a.xml").write_text(
        "<CellCounter_Marker_File><Image_Properties><Image_Filename>a.png</Image_Filename></Image_Properties>"
        "<Marker_Data><Current_Type>1</Current_Type>"
        "<Marker_Type><Type>1</Type><Name>red</Name><Marker><MarkerX>3</MarkerX><MarkerY>4</MarkerY>"
        "<MarkerZ>1</MarkerZ></Marker><Marker><MarkerX>47</MarkerX><MarkerY>35</MarkerY><MarkerZ>1</MarkerZ>"
        "</Marker></Marker_Type><Marker_Type><Type>2</Type><Name>green</Name><Marker><MarkerX>0</MarkerX>"
        "<MarkerY>0</MarkerY><MarkerZ>1</MarkerZ></Marker></Marker_Type></Marker_Data></CellCounter_Marker_File>")
    return src / "CellCounter_a.xml", FORMATS["fiji"].read_fiji_points


def _qupath_source(src):
    _image(src / "a.png")
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [1.25, 2.75]},
                 "properties": {"classification": {"name": "T"}}},
                {"type": "Feature", "geometry": {"type": "MultiPoint", "coordinates": [[3.5, 1 / 3], [9, 9]]},
                 "properties": {"classification": {"name": "S"}}}]
    (src / "a.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return src / "a.geojson", FORMATS["qupath"].read_qupath_points


def _coco_source(src):
    _image(src / "a.png")
    data = {"images": [{"id": 1, "file_name": "a.png", "width": W, "height": H}],
            "categories": [{"id": 4, "name": "bee"}, {"id": 9, "name": "ant"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 9, "keypoints": [1.5, 2.25, 2, 8.0, 9.0, 1]},
                            {"id": 2, "image_id": 1, "category_id": 4, "keypoints": [0.125, 7.0, 2]}]}
    (src / "annotations.json").write_text(json.dumps(data))
    module = FORMATS["coco"]
    return src / "annotations.json", lambda path: module.read_coco_entry(module.parse_coco(path)["a.png"])


def _cvat_source(src):
    _image(src / "a.png")
    (src / "annotations.xml").write_text(
        '<annotations><version>1.1</version><image id="0" name="a.png" width="48" height="36">'
        '<points label="x" points="1.50,2.25;3.00,4.00"/><points label="y" points="7.12,0.50"/>'
        '<points label="x" points="9.00,9.00"/></image></annotations>')
    module = FORMATS["cvat"]
    return src / "annotations.xml", lambda path: module.read_cvat_entry(module.parse_cvat(path)["a.png"])


def _labelme_source(src):
    _image(src / "a.png")
    shapes = [{"label": "cell", "points": [[1.5, 2.5]], "shape_type": "point"},
              {"label": "dead", "points": [[10.25, 3.0]], "shape_type": "point"},
              {"label": "annotated", "points": [[0, 0], [20, 0], [20, 20], [0, 20]], "shape_type": "polygon"}]
    (src / "a.json").write_text(json.dumps({"shapes": shapes, "imagePath": "a.png", "imageWidth": W,
                                            "imageHeight": H}))
    return src / "a.json", FORMATS["labelme"].read_labelme_points


SOURCES = {"fiji": (_fiji_source, "CellCounter_a.xml"), "qupath": (_qupath_source, "a.geojson"),
           "coco": (_coco_source, "annotations.json"), "cvat": (_cvat_source, "annotations.xml"),
           "labelme": (_labelme_source, "a.json")}


@pytest.mark.parametrize("fmt", CLASS_FORMATS)
def test_files_to_dataset_to_files_is_exact(tmp_path, fmt):
    make, exported_name = SOURCES[fmt]
    source, read = make(tmp_path / "src")
    assert import_dataset(tmp_path / "src", tmp_path / "data").format == fmt
    export_dataset(tmp_path / "data", tmp_path / "out", fmt)
    before, after = read(source), read(tmp_path / "out" / exported_name)
    assert np.array_equal(before.points, after.points) and before.labels == after.labels
    assert [r.to_json() for r in before.regions] == [r.to_json() for r in after.regions]
