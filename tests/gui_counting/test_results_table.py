"""The results table: rows from engine events, MAE/RMSE, sorting (worst error first, blanks last)."""

import math
from pathlib import Path

import pytest


from PySide6.QtCore import Qt  # noqa: E402

from crowdgui.counting.export import counts_csv_bytes  # noqa: E402
from crowdgui.counting.results_model import (  # noqa: E402
    ROW_ROLE,
    CountRow,
    ResultsSortProxy,
    ResultsTableModel,
    error_metrics,
)


def _event(name, count, annotated=None, **extra):
    return {"type": "result", "image": name, "path": f"/data/{name}", "count": count, "seconds": 0.25,
            "density": f"/out/density/{name}.density.npy", "stride": 8, "annotated_count": annotated, **extra}


def test_a_row_is_read_from_a_result_event():
    row = CountRow.from_event(_event("a.jpg", 12.5, 10, points="/out/density/a.jpg.points.csv"))
    assert row.image == "a.jpg" and row.path == Path("/data/a.jpg")
    assert row.count == 12.5 and row.annotated_count == 10 and row.error == pytest.approx(2.5)
    assert row.density_path == Path("/out/density/a.jpg.density.npy") and row.stride == 8
    assert row.points_path == Path("/out/density/a.jpg.points.csv")
    bare = CountRow.from_event({"type": "result", "image": "b.png", "path": "/data/b.png", "count": 3})
    assert bare.annotated_count is None and bare.error is None and bare.density_path is None


def test_metrics_use_only_annotated_rows():
    rows = [CountRow.from_event(e) for e in (_event("a", 12, 10), _event("b", 5, 9), _event("c", 40))]
    annotated, mae, rmse = error_metrics(rows)
    assert annotated == 2
    assert mae == pytest.approx(3.0)
    assert rmse == pytest.approx(math.sqrt((4 + 16) / 2))
    assert error_metrics(rows[2:]) == (0, None, None)


def _sorted_names(proxy, column, order):
    proxy.sort(column, order)
    return [proxy.index(r, 0).data(ROW_ROLE).image for r in range(proxy.rowCount())]


def test_sorting_by_error_puts_the_worst_first_and_unannotated_last(qapp):
    model = ResultsTableModel()
    for event in (_event("small", 10, 9), _event("none", 3), _event("worst", 1, 30), _event("over", 25, 15)):
        model.append(CountRow.from_event(event))
    proxy = ResultsSortProxy()
    proxy.setSourceModel(model)
    error = ResultsTableModel.ERROR
    assert _sorted_names(proxy, error, Qt.SortOrder.DescendingOrder) == ["worst", "over", "small", "none"]
    assert _sorted_names(proxy, error, Qt.SortOrder.AscendingOrder) == ["small", "over", "worst", "none"]
    assert _sorted_names(proxy, ResultsTableModel.COUNT, Qt.SortOrder.DescendingOrder) == [
        "over", "small", "none", "worst"]
    # The cell shows the signed error even though it sorts by its size.
    proxy.sort(error, Qt.SortOrder.DescendingOrder)
    assert proxy.index(0, error).data() == "-29.0"


def test_the_same_image_reported_twice_stays_one_row(qapp):
    model = ResultsTableModel()
    model.append(CountRow.from_event(_event("a", 1.0)))
    model.append(CountRow.from_event(_event("a", 2.0)))
    assert model.rowCount() == 1 and model.rows[0].count == 2.0


def test_rows_so_far_are_written_with_the_engine_csv_columns():
    rows = [CountRow.from_event(e) for e in (_event("a.png", 12.34567, 10, area_px=3072, per_mm2=12.5),
                                             _event("b.png", 0.5, area_px=100))]
    text = counts_csv_bytes(rows).decode()
    assert text.splitlines() == [
        "image,count,annotated_count,error,area_px,per_mm2", "a.png,12.346,10,2.346,3072,12.500",
        "b.png,0.500,,,100,"]
    assert counts_csv_bytes(rows[1:]).decode().splitlines()[0] == "image,count,annotated_count,error,area_px"


def test_a_row_keeps_the_regions_it_was_counted_in():
    square = [[0, 0], [8, 0], [8, 8], [0, 8]]
    row = CountRow.from_event(_event("a.png", 2.0, roi=[square], ignore=[square], area_px=0, per_hectare=None))
    assert row.roi == [square] and row.ignore == [square] and row.area_px == 0
    assert row.per_area == ("per_hectare", None)


def test_a_row_without_a_stride_reads_it_from_densities_json(tmp_path):
    from engine.counting.outputs import write_density_manifest

    event = {"type": "result", "image": "a.png", "path": "/data/a.png", "count": 1.0,
             "density": str(tmp_path / "a.png.density.npy")}
    row = CountRow.from_event(event)
    with pytest.raises(ValueError, match="densities.json"):
        row.map_stride()  # never guessed from the shapes
    write_density_manifest(tmp_path, 8)
    assert row.map_stride() == 8
    assert CountRow.from_event({**event, "stride": 2}).map_stride() == 2
