"""Formats with classes: Fiji Cell Counter, QuPath, COCO, CVAT and LabelMe (with regions).

Files written by hand the way each tool writes them are read; each writer reads back exactly.
"""

import json

import numpy as np
import pytest
from PIL import Image

from engine.dataset.formats import AnnotationError, coco, cvat, fiji, labelme, qupath
from engine.dataset.formats.common import label_runs
from engine.dataset.regions import Region, rectangle

FIJI_FILE = """<?xml version="1.0" encoding="UTF-8"?>
<CellCounter_Marker_File>
 <Image_Properties>
  <Image_Filename>cells.tif</Image_Filename>
 </Image_Properties>
 <Marker_Data>
  <Current_Type>2</Current_Type>
  <Marker_Type>
   <Type>1</Type>
   <Name>live</Name>
   <Marker><MarkerX>10</MarkerX><MarkerY>20</MarkerY><MarkerZ>1</MarkerZ></Marker>
   <Marker><MarkerX>0</MarkerX><MarkerY>3</MarkerY><MarkerZ>1</MarkerZ></Marker>
  </Marker_Type>
  <Marker_Type>
   <Type>2</Type>
   <Marker><MarkerX>7</MarkerX><MarkerY>8</MarkerY><MarkerZ>1</MarkerZ></Marker>
  </Marker_Type>
  <Marker_Type><Type>3</Type></Marker_Type>
 </Marker_Data>
</CellCounter_Marker_File>
"""


def _image(path, width=40, height=30):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((height, width, 3), dtype=np.uint8)).save(path)
    return path


class _Annotation:
    """What writers of collection formats need of a sidecar annotation."""

    def __init__(self, image, points, labels, width=40, height=30):
        self.image, self.width, self.height = image, width, height
        self.points, self.labels, self.count = np.asarray(points, dtype=np.float64), labels, len(points)


# --------------------------------------------------------------------- Fiji
def test_fiji_markers_are_pixel_centres_classed_by_type(tmp_path):
    path = tmp_path / "CellCounter_cells.xml"
    path.write_text(FIJI_FILE)
    found = fiji.read_fiji_points(path)
    assert found.points.tolist() == [[10.5, 20.5], [0.5, 3.5], [7.5, 8.5]]
    assert found.labels == ["live", "live", "Type 2"]  # an old file without <Name>: "Type N"


def test_fiji_file_round_trips_exactly(tmp_path):
    (tmp_path / "a.xml").write_text(FIJI_FILE)
    first = fiji.read_fiji_points(tmp_path / "a.xml")
    fiji.write_fiji_points(tmp_path / "b.xml", "cells.tif", first.points, first.labels)
    second = fiji.read_fiji_points(tmp_path / "b.xml")
    assert second.points.tolist() == first.points.tolist() and second.labels == first.labels
    assert fiji.image_name_in(tmp_path / "b.xml") == "cells.tif"


def test_fiji_discovery_by_named_image_and_by_stem(tmp_path):
    _image(tmp_path / "cells.tif")
    _image(tmp_path / "other.png")
    _image(tmp_path / "lonely.png")
    (tmp_path / "counts.xml").write_text(FIJI_FILE)  # names cells.tif inside
    (tmp_path / "CellCounter_other.xml").write_text(FIJI_FILE.replace("cells.tif", "renamed.tif"))
    (tmp_path / "unrelated.xml").write_text("<config/>")
    found = fiji.discover(tmp_path)
    pairs = {i.image.name: i.annotation.name if i.annotation else None for i in found.items}
    assert pairs == {"cells.tif": "counts.xml", "lonely.png": None, "other.png": "CellCounter_other.xml"}
    assert found.skipped == []


def test_fiji_bad_marker(tmp_path):
    (tmp_path / "a.xml").write_text(FIJI_FILE.replace("<MarkerX>10</MarkerX>", "<MarkerX>ten</MarkerX>"))
    with pytest.raises(AnnotationError, match="whole-number"):
        fiji.read_fiji_points(tmp_path / "a.xml")


# ------------------------------------------------------------------- QuPath
def _feature(kind, coordinates, name=None):
    properties = {"objectType": "annotation"}
    if name is not None:
        properties["classification"] = {"name": name, "color": [255, 0, 0]}
    return {"type": "Feature", "id": "x", "geometry": {"type": kind, "coordinates": coordinates},
            "properties": properties}


def test_qupath_geojson_points_multipoints_and_classes(tmp_path):
    features = [_feature("MultiPoint", [[1.25, 2.5], [3.0, 4.0]], "Tumor"),
                _feature("Polygon", [[[0, 0], [5, 0], [5, 5], [0, 0]]], "Tumor"),
                _feature("Point", [9.5, 8.5])]
    (tmp_path / "a.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    notes = []
    found = qupath.read_qupath_points(tmp_path / "a.geojson", None, notes)
    assert found.points.tolist() == [[1.25, 2.5], [3.0, 4.0], [9.5, 8.5]]
    assert found.labels == ["Tumor", "Tumor", ""]
    assert notes == ["skipped geometries that are not points: 1 Polygon"]


def test_qupath_tsv_as_the_counting_tool_saves_it(tmp_path):
    (tmp_path / "a.tsv").write_text("x\ty\tclass\tname\tcolor\t\n1.5\t2.5\tStroma\t\t-65536\t\n3.0\t4.0\t\t\t\t\n")
    found = qupath.read_qupath_points(tmp_path / "a.tsv")
    assert found.points.tolist() == [[1.5, 2.5], [3.0, 4.0]] and found.labels == ["Stroma", ""]
    (tmp_path / "b.tsv").write_text("x\ty\t\n7.25\t1.0\t\n")
    assert qupath.read_qupath_points(tmp_path / "b.tsv").labels is None


@pytest.mark.parametrize("labels", [["a", "b", "a", "a"], None])
def test_qupath_writer_round_trips_order_and_classes(tmp_path, labels):
    points = np.array([[1.1, 2.2], [3.3, 4.4], [0.1, 0.2], [1 / 3, 2 / 3]])
    qupath.write_qupath_points(tmp_path / "a.geojson", points, labels)
    found = qupath.read_qupath_points(tmp_path / "a.geojson")
    assert np.array_equal(found.points, points) and found.labels == labels


def test_qupath_refuses_other_files(tmp_path):
    (tmp_path / "a.geojson").write_text('{"type": "Topology"}')
    with pytest.raises(AnnotationError, match="not GeoJSON features"):
        qupath.read_qupath_points(tmp_path / "a.geojson")
    (tmp_path / "b.tsv").write_text("a\tb\n1\t2\n")
    assert not qupath.is_qupath_file(tmp_path / "b.tsv")


# --------------------------------------------------------------------- COCO
def test_coco_keypoints_points_and_boxes(tmp_path):
    data = {"images": [{"id": 7, "file_name": "sub/a.jpg", "width": 40, "height": 30},
                       {"id": 8, "file_name": "b.jpg", "width": 40, "height": 30}],
            "categories": [{"id": 1, "name": "bee"}, {"id": 2, "name": "wasp"}],
            "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "keypoints": [1.5, 2.5, 2, 0, 0, 0, 3, 4, 1]},
                            {"id": 2, "image_id": 7, "category_id": 2, "point": [5.25, 6.5]},
                            {"id": 3, "image_id": 7, "category_id": 2, "bbox": [0, 0, 3, 3]}]}
    (tmp_path / "annotations.json").write_text(json.dumps(data))
    _image(tmp_path / "a.jpg")
    found = coco.discover(tmp_path)
    assert [(i.image.name, i.labeled) for i in found.items] == [("a.jpg", True)]
    assert "b.jpg" in found.skipped[0][1]  # listed, but not in the folder
    notes = []
    first = found.items[0].load((40, 30), notes)
    assert first.points.tolist() == [[1.5, 2.5], [3, 4], [5.25, 6.5]]  # v = 0 is "not labelled"
    assert first.labels == ["bee", "bee", "wasp"]
    assert "1 annotation(s) without keypoints" in notes[0]


def test_coco_writer_round_trips_exactly(tmp_path):
    annotations = [_Annotation("a.jpg", [[1 / 3, 2.5], [3.0, 4.0], [7.0, 1e-9]], ["x", "y", "x"]),
                   _Annotation("b.jpg", [], None), _Annotation("c.jpg", [[1.0, 2.0]], None)]
    coco.write_coco(tmp_path / "annotations.json", annotations)
    entries = coco.parse_coco(tmp_path / "annotations.json")
    for annotation in annotations:
        found = coco.read_coco_entry(entries[annotation.image])
        assert np.array_equal(found.points, annotation.points.reshape(-1, 2))
        assert found.labels == (annotation.labels or ["object"] * annotation.count)


# --------------------------------------------------------------------- CVAT
CVAT_FILE = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <image id="0" name="frames/a.png" width="40" height="30">
    <points label="cell" occluded="0" source="manual" points="10.50,20.30;11.00,5.00" z_order="0"/>
    <box label="cell" occluded="0" source="manual" xtl="1" ytl="1" xbr="4" ybr="4" z_order="0"/>
    <points label="dead" occluded="0" source="manual" points="1.00,2.00" z_order="0"/>
  </image>
  <image id="1" name="b.png" width="40" height="30"/>
</annotations>
"""


def test_cvat_points_shapes_and_other_shapes(tmp_path):
    (tmp_path / "annotations.xml").write_text(CVAT_FILE)
    _image(tmp_path / "a.png")
    _image(tmp_path / "b.png")
    found = cvat.discover(tmp_path)
    assert [i.labeled for i in found.items] == [True, True]
    notes = []
    first = found.items[0].load((40, 30), notes)
    assert first.points.tolist() == [[10.5, 20.3], [11.0, 5.0], [1.0, 2.0]]
    assert first.labels == ["cell", "cell", "dead"]
    assert notes == ["skipped shapes that are not points: 1 box"]
    assert found.items[1].load((40, 30), []).points.shape == (0, 2)  # annotated, no objects


def test_cvat_writer_round_trips_exactly(tmp_path):
    annotations = [_Annotation("a.png", [[0.1, 0.2], [1 / 3, 2 / 7], [5.0, 5.0]], ["a", "b", "a"]),
                   _Annotation("b.png", [], None)]
    cvat.write_cvat(tmp_path / "annotations.xml", annotations)
    entries = cvat.parse_cvat(tmp_path / "annotations.xml")
    first = cvat.read_cvat_entry(entries["a.png"])
    assert np.array_equal(first.points, annotations[0].points) and first.labels == ["a", "b", "a"]
    assert cvat.read_cvat_entry(entries["b.png"]).points.shape == (0, 2)


def test_label_runs_keep_order():
    runs = label_runs(np.arange(8.0).reshape(4, 2), ["a", "a", "b", "a"])
    assert [(name, len(points)) for name, points in runs] == [("a", 2), ("b", 1), ("a", 1)]


# ------------------------------------------------------- LabelMe (regions)
def test_labelme_regions_and_skipped_shapes_by_type(tmp_path):
    shapes = [{"label": "cell", "points": [[1.5, 2.5]], "shape_type": "point"},
              {"label": "roi", "points": [[20, 10], [2, 1]], "shape_type": "rectangle"},
              {"label": "ignore", "points": [[0, 0], [5, 0], [5, 5]], "shape_type": "polygon"},
              {"label": "count", "points": [[0, 0], [9, 0], [9, 9]], "shape_type": "polygon", "description": "37"},
              {"label": "tumour", "points": [[0, 0], [5, 0], [5, 5]], "shape_type": "polygon"},
              {"label": "x", "points": [[0, 0], [2, 2]], "shape_type": "circle"},
              {"label": "y", "points": [[0, 0], [3, 3]], "shape_type": "circle"}]
    (tmp_path / "a.json").write_text(json.dumps({"shapes": shapes, "imagePath": "a.png"}))
    notes = []
    found = labelme.read_labelme_points(tmp_path / "a.json", None, notes)
    assert found.points.tolist() == [[1.5, 2.5]] and found.labels == ["cell"]
    assert [r.to_json() for r in found.regions] == [
        rectangle("roi", 2, 1, 20, 10).to_json(), Region("ignore", [[0, 0], [5, 0], [5, 5]]).to_json(),
        Region("count", [[0, 0], [9, 0], [9, 9]], 37.0).to_json()]
    assert notes == ["skipped shapes that are not points or regions: 2 circle, 1 polygon"]


def test_labelme_writer_round_trips_points_classes_and_regions(tmp_path):
    points = np.array([[1 / 3, 2.5], [3.0, 4.0]])
    regions = [rectangle("annotated", 0, 0, 20, 20), Region("count", [[0, 0], [9, 0], [9, 9]], 4.0)]
    labelme.write_labelme_points(tmp_path / "a.json", "a.png", (40, 30), points, ["p", "q"], regions)
    found = labelme.read_labelme_points(tmp_path / "a.json", (40, 30), [])
    assert np.array_equal(found.points, points) and found.labels == ["p", "q"]
    assert [r.to_json() for r in found.regions] == [r.to_json() for r in regions]


def test_labelme_count_region_needs_a_number(tmp_path):
    shapes = [{"label": "count", "points": [[0, 0], [9, 0], [9, 9]], "shape_type": "polygon"}]
    (tmp_path / "a.json").write_text(json.dumps({"shapes": shapes}))
    with pytest.raises(AnnotationError, match="no number in its description"):
        labelme.read_labelme_points(tmp_path / "a.json")
