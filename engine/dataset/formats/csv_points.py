"""Points in CSV files: one ``<image stem>.csv`` of x, y per image, or one table of image, x, y.

Reading is forgiving about the things spreadsheets vary: an optional header (column names ``x``/``y`` and
``image``/``filename``/``file``/``name``/``path``, any case), the delimiter (``,``, ``;``, tab or spaces; with
``;`` a decimal comma is accepted), a byte-order mark, blank lines and ``#`` comments. Without a header, two
columns are x, y and three are image, x, y. In a table, the image column may hold a file name, a path
(only the last part counts) or a stem; a row with an image but empty x and y marks an annotated image with
no objects, which is how the exporter writes such images. Coordinates are used as they are written.

An optional class column (header ``class``, ``label``, ``category``, ``species`` or ``type``) gives each point
its class (the sidecar's ``labels``; an empty cell is the default class). The writers add a ``class`` column
when the points have classes, so an export and a re-import keep them.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from engine.dataset.formats.common import (
    DEFAULT_CLASS,
    AnnotationError,
    Discovery,
    Imported,
    SourceItem,
    existing_folders,
    find_images,
    list_files,
)
from engine.dataset.sidecar import atomic_write_bytes

NAME = "csv"
DESCRIPTION = "CSV: IMG_1.csv (x,y) beside IMG_1.jpg, or one table with image,x,y columns"
ANNOTATION_FOLDERS = (".", "annotations", "csv", "points", "labels", "ground-truth", "ground_truth")
X_NAMES = {"x", "col", "column", "cx", "x_coord", "xcoord", "x_px", "point_x"}
Y_NAMES = {"y", "row", "cy", "y_coord", "ycoord", "y_px", "point_y"}
IMAGE_NAMES = {"image", "img", "file", "filename", "file_name", "image_name", "imagename", "name", "path",
               "image_path", "image_id", "frame"}
CLASS_NAMES = {"class", "label", "category", "species", "type", "class_name", "classname"}


class _Layout:
    """Which columns hold the image name (or None), x, y and the class (or None); and whether the first row is
    a header."""

    def __init__(self, image: int | None, x: int, y: int, header: bool, label: int | None = None):
        self.image, self.x, self.y, self.header, self.label = image, x, y, header, label

    def label_of(self, cells: list[str]) -> str:
        """The class of a row's point (the default class for an empty cell)."""
        text = cells[self.label] if self.label is not None and self.label < len(cells) else ""
        return text or DEFAULT_CLASS


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _rows(path: Path, limit: int | None = None) -> tuple[list[tuple[int, list[str]]], str | None]:
    """(line number, cells) of the non-blank, non-comment lines, and the delimiter (None: whitespace)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            lines = []
            for number, line in enumerate(handle, start=1):
                if line.strip() and not line.lstrip().startswith("#"):
                    lines.append((number, line.rstrip("\r\n")))
                    if limit is not None and len(lines) >= limit:
                        break
    except UnicodeDecodeError:
        raise AnnotationError("not a text file (not UTF-8)") from None
    except OSError as exc:
        raise AnnotationError(f"cannot read: {exc.strerror or exc}") from None
    if not lines:
        return [], ","
    first = lines[0][1]
    delimiter = next((d for d in (";", "\t", ",") if d in first), None)
    if delimiter is None:
        return [(n, line.split()) for n, line in lines], None
    try:
        # strict: a quote left open swallows the next lines, which would shift every line number
        parsed = list(csv.reader([line for _, line in lines], delimiter=delimiter, strict=True))
        rows = [(n, [cell.strip() for cell in cells]) for (n, _), cells in zip(lines, parsed, strict=True)]
    except (csv.Error, ValueError) as exc:
        raise AnnotationError(f"malformed CSV ({exc}); check the quotes") from None
    if delimiter == ";":  # European spreadsheets write 1,5 for 1.5 when they separate with ;
        rows = [(n, [c.replace(",", ".") if _is_number(c.replace(",", ".")) else c for c in cells])
                for n, cells in rows]
    return rows, delimiter


def _layout(first: list[str], notes: list[str]) -> _Layout:
    names = [cell.lower() for cell in first]
    known = X_NAMES | Y_NAMES | IMAGE_NAMES
    # A header names a known column or has words where x, y would be (empty x, y is a data row: an image
    # with no objects in a table).
    header = any(name in known for name in names) or any(c and not _is_number(c) for c in first[-2:])
    if header:
        x = next((i for i, name in enumerate(names) if name in X_NAMES), None)
        y = next((i for i, name in enumerate(names) if name in Y_NAMES), None)
        image = next((i for i, name in enumerate(names) if name in IMAGE_NAMES), None)
        label = next((i for i, name in enumerate(names) if name in CLASS_NAMES), None)
        if x is not None and y is not None:
            return _Layout(image, x, y, True, label)
        if len(first) == 2:
            return _Layout(None, 0, 1, True)
        if len(first) == 3:
            return _Layout(0, 1, 2, True)
        raise AnnotationError(f"cannot tell which columns hold x and y (header: {', '.join(first)})")
    if len(first) < 2:
        raise AnnotationError("each line needs at least two values, x and y")
    if len(first) >= 3 and not _is_number(first[0]):
        return _Layout(0, 1, 2, False)
    if len(first) > 2:
        notes.append(f"{len(first)} columns without a header; the first two were read as x, y")
    return _Layout(None, 0, 1, False)


def _point(cells: list[str], layout: _Layout, line: int) -> tuple[float, float]:
    try:
        return float(cells[layout.x]), float(cells[layout.y])
    except IndexError:
        raise AnnotationError(f"line {line}: too few values") from None
    except ValueError:
        raise AnnotationError(f"line {line}: x, y must be numbers, got "
                              f"{cells[layout.x]!r}, {cells[layout.y]!r}") from None


def csv_kind(path: Path) -> str:
    """``"table"`` (an image column), ``"points"`` (x, y only); AnnotationError for an unusable file."""
    rows, _ = _rows(path, limit=2)
    if not rows:
        return "points"  # an empty per-image file: an image with no objects
    return "table" if _layout(rows[0][1], []).image is not None else "points"


def read_csv_points(path: Path | str, size=None, notes: list[str] | None = None) -> np.ndarray:
    """(N, 2) float64 x, y points of one per-image CSV file (``size`` is unused)."""
    return read_csv_annotation(path, size, notes).points


def read_csv_annotation(path: Path | str, size=None, notes: list[str] | None = None) -> Imported:
    """The points of one per-image CSV file and, with a class column, their classes (``size`` is unused)."""
    path = Path(path)
    notes = notes if notes is not None else []
    rows, _ = _rows(path)
    if not rows:
        return Imported(np.zeros((0, 2), dtype=np.float64))
    layout = _layout(rows[0][1], notes)
    body = rows[1:] if layout.header else rows
    points = [_point(cells, layout, line) for line, cells in body]
    labels = [layout.label_of(cells) for _, cells in body] if layout.label is not None else None
    return Imported(np.asarray(points, dtype=np.float64).reshape(-1, 2), labels)


def read_csv_table(path: Path | str, notes: list[str] | None = None) -> tuple[dict, dict]:
    """Read an image, x, y table: ({image name: (N, 2) points}, {image name: why it cannot be used}).

    Image names are the last part of what the image column holds. A bad row spoils only its image.
    """
    found, errors = read_csv_table_annotations(path, notes)
    return {name: imported.points for name, imported in found.items()}, errors


def read_csv_table_annotations(path: Path | str, notes: list[str] | None = None) -> tuple[dict, dict]:
    """:func:`read_csv_table` with classes: ({image name: Imported}, {image name: why it cannot be used})."""
    path = Path(path)
    notes = notes if notes is not None else []
    rows, _ = _rows(path)
    points: dict[str, list] = {}
    labels: dict[str, list] = {}
    errors: dict[str, str] = {}
    if not rows:
        return {}, {}
    layout = _layout(rows[0][1], notes)
    if layout.image is None:
        raise AnnotationError("has no image column")
    for line, cells in rows[1:] if layout.header else rows:
        try:
            name = cells[layout.image].replace("\\", "/").rsplit("/", 1)[-1]
        except IndexError:
            raise AnnotationError(f"line {line}: too few values") from None
        if not name:
            raise AnnotationError(f"line {line}: the image column is empty")
        bucket = points.setdefault(name, [])
        classes = labels.setdefault(name, [])
        if all(index >= len(cells) or not cells[index] for index in (layout.x, layout.y)):
            continue  # an image with no objects
        try:
            bucket.append(_point(cells, layout, line))
            classes.append(layout.label_of(cells))
        except AnnotationError as exc:
            errors.setdefault(name, str(exc))
    found = {name: Imported(np.asarray(pts, dtype=np.float64).reshape(-1, 2),
                            labels[name] if layout.label is not None else None) for name, pts in points.items()}
    return found, errors


def discover(src: Path) -> Discovery:
    """Pair images with per-image CSV files by stem, and with the rows of any image, x, y table."""
    discovery = Discovery()
    per_image: dict[str, Path] = {}
    table_points: dict[str, tuple[Path, np.ndarray | None, str | None]] = {}
    for folder in existing_folders(src, ANNOTATION_FOLDERS):
        for path in list_files(folder, (".csv", ".tsv")):
            try:
                kind = csv_kind(path)
            except AnnotationError as exc:
                discovery.skipped.append((path, str(exc)))
                continue
            if kind == "points":
                if path.stem.lower() in per_image:
                    discovery.skipped.append((path, f"{per_image[path.stem.lower()].name} has the same name"))
                else:
                    per_image[path.stem.lower()] = path
                continue
            try:
                arrays, errors = read_csv_table_annotations(path)
            except AnnotationError as exc:
                discovery.skipped.append((path, str(exc)))
                continue
            for name in set(arrays) | set(errors):
                if name.lower() in table_points:
                    errors[name] = f"also listed in {table_points[name.lower()][0].name}"
                table_points[name.lower()] = (path, arrays.get(name), errors.get(name))
    used_tables, used_files = set(), set()
    for image in find_images(src):
        key = next((k for k in (image.name.lower(), image.stem.lower()) if k in table_points), None)
        if key is not None:
            used_tables.add(key)
            table, array, error = table_points[key]
            discovery.items.append(SourceItem(image, table, _fixed(array, error)))
        elif image.stem.lower() in per_image:
            used_files.add(image.stem.lower())
            discovery.items.append(SourceItem(image, per_image[image.stem.lower()], read_csv_annotation))
        else:
            discovery.items.append(SourceItem(image))
    for key, path in per_image.items():
        if key not in used_files:
            discovery.skipped.append((path, "no image with this name found"))
    for key, (table, _, _) in table_points.items():
        if key not in used_tables:
            discovery.skipped.append((table, f"lists {key!r}, but no such image was found"))
    return discovery


def _fixed(array: Imported | None, error: str | None):
    def reader(annotation, size, notes):
        if error is not None:
            raise AnnotationError(error)
        return array
    return reader


def write_csv_points(path: Path | str, points: np.ndarray, labels: list[str] | None = None) -> None:
    """Write one image's points as ``x,y`` lines under an ``x,y`` header (``x,y,class`` with ``labels``),
    atomically, full precision."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["x", "y"] + (["class"] if labels is not None else []))
    for index, (x, y) in enumerate(np.asarray(points).reshape(-1, 2)):
        writer.writerow([repr(float(x)), repr(float(y))] + ([labels[index]] if labels is not None else []))
    atomic_write_bytes(path, buffer.getvalue().encode("utf-8"))


def write_csv_table(path: Path | str, points_by_image: dict[str, np.ndarray],
                    labels_by_image: dict[str, list[str] | None] | None = None) -> None:
    """Write ``image,x,y`` rows for several images, atomically; an image with no points gets ``name,,``.

    With classes for any image (``labels_by_image``), a ``class`` column too (the default class for points of
    an image without)."""
    labels_by_image = labels_by_image or {}
    with_classes = any(labels is not None for labels in labels_by_image.values())
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", "x", "y"] + (["class"] if with_classes else []))
    for name, points in points_by_image.items():
        points = np.asarray(points).reshape(-1, 2)
        labels = labels_by_image.get(name) or [DEFAULT_CLASS] * len(points)
        if not len(points):
            writer.writerow([name, "", ""] + ([""] if with_classes else []))
        for (x, y), label in zip(points, labels):
            writer.writerow([name, repr(float(x)), repr(float(y))] + ([label] if with_classes else []))
    atomic_write_bytes(path, buffer.getvalue().encode("utf-8"))
