"""The rows of a batch count, as they arrive from the engine, and the table model that shows them.

One :class:`CountRow` per ``result`` event of ``python -m engine count``. The table sorts on numbers, not on
the text shown; images without an annotation always sort after annotated ones, so sorting by error puts the
worst counted images first (descending) without blank rows in the way. A count by a model of 2+ classes
adds one column per class (its count, with the annotated count of that class where known).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor, QPixmap

from engine.counting.outputs import CountRecord, density_stride
from engine.metrics import mae, rmse

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2
# The result event's count-per-area field, named as its counts.csv column (engine.dataset.pixel_size).
PER_AREA_KEYS = ("per_mm2", "per_hectare")


@dataclass
class CountRow:
    """One counted image."""

    image: str
    path: Path
    count: float
    seconds: float | None = None
    density_path: Path | None = None
    points_path: Path | None = None
    annotated_count: float | None = None
    stride: int | None = None  # the density map's stride, when the engine says it
    area_px: int | None = None  # pixels counted: inside the ROI, ignore areas left out
    per_area: tuple[str, float | None] | None = None  # ("per_mm2" or "per_hectare", value) with a pixel size
    roi: list = field(default_factory=list)  # ROI polygons the count was taken in ([[x, y], ...] each)
    ignore: list = field(default_factory=list)  # ignore polygons left out of the count
    uncertainty: float | None = None  # spread of the model's counts, in objects (engine count --uncertainty)
    class_counts: dict[str, float] | None = None  # each class's count, with a model of 2+ classes
    class_annotated: dict[str, int] | None = None  # each class's annotated count, where the points say it
    class_density_path: Path | None = None  # NAME.classes.npy: the (classes, h, w) maps

    @property
    def error(self) -> float | None:
        """Predicted minus annotated count (positive: the model counted too many)."""
        return None if self.annotated_count is None else self.count - self.annotated_count

    def map_stride(self) -> int:
        """The density map's stride: the engine's result event says it, else the maps' densities.json.

        Raises ValueError when neither does (a stride guessed from the shapes would misplace the map).
        """
        if self.stride:
            return self.stride
        if self.density_path is None:
            raise ValueError("no density map was saved for this image")
        return density_stride(self.density_path.parent)

    def record(self) -> CountRecord:
        """The row as the engine writes it in counts.csv."""
        return CountRecord(self.image, self.count, self.annotated_count, self.area_px, self.per_area,
                           self.class_counts, self.class_annotated)

    def class_error(self, name: str) -> float | None:
        """Predicted minus annotated count of one class (None where that is not known)."""
        if not self.class_counts or not self.class_annotated or name not in self.class_annotated:
            return None
        return self.class_counts[name] - self.class_annotated[name]

    @classmethod
    def from_event(cls, event: dict) -> "CountRow":
        """Build a row from a ``result`` event; tolerant of the optional fields being absent or null."""
        path = Path(str(event.get("path") or event.get("image") or ""))
        density = event.get("density") or event.get("density_path")
        points = event.get("points")  # the path of NAME.points.csv, when the count was asked for points
        points = points if isinstance(points, str) else None
        annotated = event.get("annotated_count")
        class_density = event.get("class_density")
        return cls(
            image=str(event.get("image") or path.name),
            path=path,
            count=float(event.get("count") or 0.0),
            seconds=_float_or_none(event.get("seconds")),
            density_path=Path(density) if density else None,
            points_path=Path(points) if points else None,
            annotated_count=_float_or_none(annotated),
            stride=int(event["stride"]) if event.get("stride") else None,
            area_px=int(event["area_px"]) if event.get("area_px") is not None else None,
            per_area=next(((key, _float_or_none(event[key])) for key in PER_AREA_KEYS if key in event), None),
            roi=list(event.get("roi") or []),
            ignore=list(event.get("ignore") or []),
            uncertainty=_float_or_none(event.get("uncertainty")),
            class_counts=_class_numbers(event.get("counts_per_class"), float),
            class_annotated=_class_numbers(event.get("annotated_per_class"), int),
            class_density_path=Path(class_density) if class_density else None,
        )


def _class_numbers(value, kind) -> dict | None:
    """``{class: number}`` from an event (None when absent or not numbers)."""
    if not isinstance(value, dict) or not value:
        return None
    try:
        return {str(name): kind(number) for name, number in value.items()}
    except (TypeError, ValueError):
        return None


def _float_or_none(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def error_metrics(rows: list[CountRow]) -> tuple[int, float | None, float | None]:
    """(number of annotated rows, MAE, RMSE) over the rows that have an annotated count (engine.metrics)."""
    annotated = [row for row in rows if row.annotated_count is not None]
    if not annotated:
        return 0, None, None
    predicted, true = [row.count for row in annotated], [row.annotated_count for row in annotated]
    return len(annotated), mae(predicted, true), rmse(predicted, true)


def class_mae(rows: list[CountRow], class_names: list[str]) -> dict[str, float]:
    """Each class's MAE over the rows whose points say that class's count (classes without any left out)."""
    result = {}
    for name in class_names:
        errors = [row.class_error(name) for row in rows]
        errors = [error for error in errors if error is not None]
        if errors:
            result[name] = mae(errors, [0.0] * len(errors))
    return result


class ResultsTableModel(QAbstractTableModel):
    """Counted images as table rows: thumbnail, image, count, annotated count, error, seconds, uncertainty
    (the last shown only when the engine reports it), then one column per class with 2+ classes."""

    THUMB, IMAGE, COUNT, ANNOTATED, ERROR, TIME, UNCERTAINTY = range(7)
    HEADERS = ("", "Image", "Count", "Annotated", "Error", "Time (s)", "±")
    TOOLTIPS = (
        "", "Image file name", "Predicted count (sum of the density map)",
        "Number of points in the image's annotation, where it has one",
        "Predicted minus annotated count; sorting orders by the size of the error, so the worst come first",
        "Seconds the model took for this image",
        "How unsure the model is of this count, in objects (spread of its counts of the image flipped four "
        "ways); sorting puts the images most worth checking first",
    )

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[CountRow] = []
        self.class_names: list[str] = []
        self._thumbnails: dict[str, QPixmap] = {}
        self._row_of_path: dict[str, int] = {}

    # ----------------------------------------------------------------- editing
    def clear(self) -> None:
        self.beginResetModel()
        self.rows.clear()
        self.class_names = []
        self._thumbnails.clear()
        self._row_of_path.clear()
        self.endResetModel()

    def append(self, row: CountRow) -> int:
        """Add a row (or replace the row of the same image, should the engine report it twice)."""
        key = str(row.path)
        if key in self._row_of_path:
            index = self._row_of_path[key]
            self.rows[index] = row
            self.dataChanged.emit(self.index(index, 0), self.index(index, self.columnCount() - 1))
            return index
        index = len(self.rows)
        self.beginInsertRows(QModelIndex(), index, index)
        self.rows.append(row)
        self._row_of_path[key] = index
        self.endInsertRows()
        return index

    def set_classes(self, names: list[str]) -> None:
        """Show a column per class (the model's classes, in channel order)."""
        self.beginResetModel()
        self.class_names = list(names)
        self.endResetModel()

    def class_of_column(self, column: int) -> str | None:
        """The class whose count ``column`` shows (None for the fixed columns)."""
        offset = column - len(self.HEADERS)
        return self.class_names[offset] if 0 <= offset < len(self.class_names) else None

    def set_thumbnail(self, path: str, pixmap: QPixmap) -> None:
        self._thumbnails[path] = pixmap
        index = self._row_of_path.get(path)
        if index is not None:
            cell = self.index(index, self.THUMB)
            self.dataChanged.emit(cell, cell, [Qt.ItemDataRole.DecorationRole])

    def row_index(self, path: str) -> int | None:
        return self._row_of_path.get(str(path))

    # ------------------------------------------------------------------ model
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.HEADERS) + len(self.class_names)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation != Qt.Orientation.Horizontal:
            return None
        name = self.class_of_column(section)
        if role == Qt.ItemDataRole.DisplayRole:
            return name if name is not None else self.HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            if name is not None:
                return f"Predicted count of {name} (annotated count of {name} in brackets, where known)"
            return self.TOOLTIPS[section] or None
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, column = self.rows[index.row()], index.column()
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, column)
        if role == SORT_ROLE:
            return self._sort_key(row, column)
        if role == Qt.ItemDataRole.DecorationRole and column == self.THUMB:
            return self._thumbnails.get(str(row.path))
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= self.COUNT:  # the numbers
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and column == self.ERROR and row.error is not None:
            # Over- and under-counting in two quiet colours, so the sign reads at a glance.
            return QBrush(QColor("#c0392b") if row.error > 0 else QColor("#2e6fba"))
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(row.path)
        return None

    def _text(self, row: CountRow, column: int) -> str | None:
        name = self.class_of_column(column)
        if name is not None:
            if not row.class_counts or name not in row.class_counts:
                return "—"
            known = (row.class_annotated or {}).get(name)
            return f"{row.class_counts[name]:.1f}" + ("" if known is None else f" ({known:g})")
        if column == self.IMAGE:
            return row.image
        if column == self.COUNT:
            return f"{row.count:.1f}"
        if column == self.ANNOTATED:
            return "—" if row.annotated_count is None else f"{row.annotated_count:g}"
        if column == self.ERROR:
            return "—" if row.error is None else f"{row.error:+.1f}"
        if column == self.TIME:
            return "—" if row.seconds is None else f"{row.seconds:.2f}"
        if column == self.UNCERTAINTY:
            return "—" if row.uncertainty is None else f"±{row.uncertainty:.1f}"
        return None

    def _sort_key(self, row: CountRow, column: int):
        name = self.class_of_column(column)
        if name is not None:
            return (row.class_counts or {}).get(name)
        if column in (self.IMAGE, self.THUMB):
            return row.image.lower()
        if column == self.COUNT:
            return row.count
        if column == self.ANNOTATED:
            return row.annotated_count
        if column == self.ERROR:
            return None if row.error is None else abs(row.error)
        if column == self.TIME:
            return row.seconds
        if column == self.UNCERTAINTY:
            return row.uncertainty
        return None


class ResultsSortProxy(QSortFilterProxyModel):
    """Sorts on :data:`SORT_ROLE`; empty values (no annotation) stay at the bottom in either order."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def lessThan(self, left, right) -> bool:  # noqa: N802 - Qt's name
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        descending = self.sortOrder() == Qt.SortOrder.DescendingOrder
        if a is None or b is None:
            if a is None and b is None:
                return False
            # Qt reverses lessThan for descending order; answer so that the empty one ends last either way.
            return (a is None) if descending else (b is None)
        return a < b
