"""QuPath point annotations: GeoJSON (``photo.geojson``) or the points TSV (``photo.tsv``) beside the image.

GeoJSON, as QuPath's "Export objects as GeoJSON" writes it: a FeatureCollection (or a list of Features, or
one Feature) whose ``Point`` and ``MultiPoint`` geometries are points and whose
``properties.classification.name`` is their class. Other geometries (polygons, lines) are skipped and counted
in a note. The TSV is what QuPath's counting tool saves: a header ``x  y  [c  z  t]  [class  name  color]``
then one point per line, tab-separated. QuPath's pixel coordinates have CrowdGUI's origin (top-left corner
of the image) and are used unchanged. Unclassified points are of the class ``""`` when others have one; a file
with no class at all imports without classes.

Export writes GeoJSON: one MultiPoint annotation per run of consecutive points of one class, so reading it
back gives the points in their order; points without a class get no classification.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_bytes
from engine.dataset.formats.common import AnnotationError, Discovery, Imported, label_runs, point_array
from engine.dataset.formats.named_files import pair_named_files

NAME = "qupath"
DESCRIPTION = "QuPath: photo.geojson (Point/MultiPoint with classification) or the points TSV photo.tsv"
SUFFIXES = (".geojson", ".tsv")


def read_qupath_points(path: Path | str, size=None, notes: list[str] | None = None) -> Imported:
    """The points (and classes) of one QuPath GeoJSON or points TSV file."""
    path = Path(path)
    notes = notes if notes is not None else []
    if path.suffix.lower() == ".tsv":
        points, names = _read_tsv(path)
    else:
        points, names = _read_geojson(path, notes)
    labels = None if all(name is None for name in names) else [name or "" for name in names]
    return Imported(np.asarray(points, dtype=np.float64).reshape(-1, 2), labels)


def _features(path: Path) -> list:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnnotationError(f"not valid JSON ({exc})") from None
    except OSError as exc:
        raise AnnotationError(f"cannot read: {exc.strerror or exc}") from None
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        data = data.get("features")
    elif isinstance(data, dict) and data.get("type") == "Feature":
        data = [data]
    if not isinstance(data, list) or not all(isinstance(f, dict) and f.get("type") == "Feature" for f in data):
        raise AnnotationError("not GeoJSON features (expected a FeatureCollection or a list of Features)")
    return data


def _read_geojson(path: Path, notes: list[str]):
    points, names, others = [], [], Counter()
    for number, feature in enumerate(_features(path), start=1):
        geometry = feature.get("geometry") or {}
        kind = geometry.get("type")
        if kind not in ("Point", "MultiPoint"):
            others[str(kind)] += 1
            continue
        xy = point_array(geometry.get("coordinates"), f"feature {number}", [])
        if kind == "Point" and len(xy) != 1:
            raise AnnotationError(f"Point feature {number} does not hold one x, y")
        classification = (feature.get("properties") or {}).get("classification")
        name = classification.get("name") if isinstance(classification, dict) else None
        points += xy.tolist()
        names += [None if name is None else str(name)] * len(xy)
    if others:
        notes.append("skipped geometries that are not points: "
                     + ", ".join(f"{count} {kind}" for kind, count in sorted(others.items())))
    return points, names


def _read_tsv(path: Path):
    try:
        lines = [line for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"cannot read: {exc}") from None
    header = [cell.strip() for cell in lines[0].split("\t")] if lines else []
    if header[:2] != ["x", "y"]:
        raise AnnotationError("not a QuPath points file (the header does not start with x, y)")
    column = header.index("class") if "class" in header else None
    points, names = [], []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        try:
            points.append((float(cells[0]), float(cells[1])))
        except (IndexError, ValueError):
            raise AnnotationError(f"line {number} does not start with numbers x, y") from None
        name = cells[column].strip() if column is not None and column < len(cells) else ""
        names.append(name or None)
    return points, names


def is_qupath_file(path: Path) -> bool:
    if path.suffix.lower() == ".geojson":
        return True
    try:
        with open(path, encoding="utf-8-sig") as handle:
            first = handle.readline()
    except (OSError, UnicodeDecodeError):
        return False
    return [cell.strip() for cell in first.split("\t")][:2] == ["x", "y"]


def annotation_name(image_name: str) -> str:
    return f"{Path(image_name).stem}.geojson"


def write_qupath_points(path: Path | str, points: np.ndarray, labels: list[str] | None) -> None:
    """Write a GeoJSON FeatureCollection of point annotations (see the module's docstring)."""
    features = []
    for name, run in label_runs(points, labels):
        coordinates = [[float(x), float(y)] for x, y in run]
        properties = {"objectType": "annotation"}
        if labels is not None and name:
            properties["classification"] = {"name": name}
        features.append({"type": "Feature", "geometry": {"type": "MultiPoint", "coordinates": coordinates},
                         "properties": properties})
    text = json.dumps({"type": "FeatureCollection", "features": features}, indent=1, ensure_ascii=False)
    atomic_write_bytes(path, text.encode("utf-8") + b"\n")


def discover(src: Path) -> Discovery:
    """Pair QuPath files with the images of the same stem."""
    return pair_named_files(src, SUFFIXES, lambda path: None, read_qupath_points, is_format=is_qupath_file)
