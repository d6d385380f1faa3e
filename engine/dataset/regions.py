"""Regions of an annotation (sidecar version 2): where the points are complete, what never counts, where to
count, and counts a person stated without clicking.

Every consumer (density preview, training crops and loss masks, validation, counting, evaluation, exports)
asks this module what is known about an image, so the rules below live in one place:

- ``annotated``: the points are complete inside these polygons and unknown outside them.
- No ``annotated`` region means the whole image is annotated, except in a file with no points whose regions
  are only ``count``, ``roi`` or ``ignore``: there nothing is known beyond those regions (a person only stated
  counts, or only drew a region of interest).
- ``ignore``: never trained on, never counted, even where it overlaps an annotated region.
- ``roi``: counting reports the count inside the union of the ROIs.
- ``count``: a person states how many objects lie inside, without clicking them.

Polygons are (x, y) image pixels like points. A region that cannot be trusted (fewer than 3 corners, zero
area, edges that cross, wholly outside the image, a count that is missing, negative or not a whole number) is
kept in the file exactly as written and left out of everything, with a plain-words reason
(:func:`region_problem`). A pixel (or output cell) belongs to a polygon when its centre does.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REGION_KINDS = ("annotated", "ignore", "roi", "count")
# How the window and the README name each kind.
KIND_TITLES = {"annotated": "Annotated area", "ignore": "Ignore", "roi": "Region of interest",
               "count": "Stated count"}


@dataclass
class Region:
    """One region of an image: its kind, its polygon ((N, 2) float x, y) and, for ``count``, the count."""

    kind: str
    polygon: np.ndarray
    count: float | None = None
    # What the file held when it could not be parsed into the fields above: written back unchanged.
    raw: dict | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.raw is None:
            self.polygon = np.asarray(self.polygon, dtype=np.float64).reshape(-1, 2)

    def to_json(self) -> dict:
        if self.raw is not None:
            return self.raw
        data = {"kind": self.kind, "polygon": [[_number(x), _number(y)] for x, y in self.polygon]}
        if self.kind == "count":
            data["count"] = _number(self.count) if self.count is not None else None
        return data

    @classmethod
    def from_json(cls, raw) -> Region:
        """A region from its JSON form. Never raises: what cannot be read is kept raw (and reported)."""
        try:
            kind = raw["kind"]
            polygon = np.asarray(raw["polygon"], dtype=np.float64)
            if kind not in REGION_KINDS or polygon.ndim != 2 or polygon.shape[1] != 2:
                raise ValueError
            count = raw.get("count")
            if isinstance(count, bool) or (count is not None and not isinstance(count, (int, float))):
                raise ValueError
            return cls(kind=kind, polygon=polygon, count=None if count is None else float(count))
        except (KeyError, TypeError, ValueError, AttributeError):
            return cls(kind=str(raw.get("kind")) if isinstance(raw, dict) else "?", polygon=np.zeros((0, 2)),
                       raw=raw)

    @property
    def area(self) -> float:
        """Shoelace area in square pixels (0 for an unreadable region)."""
        if self.raw is not None or len(self.polygon) < 3:
            return 0.0
        x, y = self.polygon[:, 0], self.polygon[:, 1]
        return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def rectangle(kind: str, x0: float, y0: float, x1: float, y1: float, count: float | None = None) -> Region:
    """An axis-aligned rectangle region, corners in any order."""
    left, right = sorted((float(x0), float(x1)))
    top, bottom = sorted((float(y0), float(y1)))
    return Region(kind, [[left, top], [right, top], [right, bottom], [left, bottom]], count)


def whole_image(kind: str, width: int, height: int) -> Region:
    return rectangle(kind, 0, 0, width, height)


def region_problem(region: Region, width: int, height: int) -> str | None:
    """Why ``region`` cannot be used, in plain words, or None when it is fine."""
    if region.raw is not None:
        return ("not a region (expected {'kind': one of " + ", ".join(REGION_KINDS)
                + ", 'polygon': [[x, y], ...]}, with 'count' for a count region)")
    polygon = region.polygon
    if len(polygon) < 3:
        return f"a {region.kind} region needs at least 3 corners, it has {len(polygon)}"
    if not np.all(np.isfinite(polygon)):
        return f"a {region.kind} region has corners that are not finite numbers"
    if region.kind == "count":
        if region.count is None:
            return "a count region has no count"
        if not math.isfinite(region.count) or region.count < 0 or region.count != round(region.count):
            return f"a count region's count must be a whole number of 0 or more, not {region.count:g}"
    if _self_intersecting(polygon):
        return f"a {region.kind} region's edges cross each other"
    if region.area < 1e-6:
        return f"a {region.kind} region has no area"
    x, y = polygon[:, 0], polygon[:, 1]
    if x.max() <= 0 or y.max() <= 0 or x.min() >= width or y.min() >= height:
        return f"a {region.kind} region lies wholly outside the {width} x {height} image"
    return None


def usable_regions(regions, width: int, height: int) -> list[Region]:
    """The regions that pass :func:`region_problem`."""
    return [region for region in regions if region_problem(region, width, height) is None]


def region_problems(regions, width: int, height: int) -> list[str]:
    """One sentence per region that is kept in the file but left out."""
    found = []
    for index, region in enumerate(regions, start=1):
        problem = region_problem(region, width, height)
        if problem:
            found.append(f"region {index}: {problem} (kept in the file, left out)")
    return found


def has_annotated_regions(regions, width: int, height: int) -> bool:
    return any(region.kind == "annotated" for region in usable_regions(regions, width, height))


def nothing_known_beyond_regions(point_count: int, regions, width: int, height: int) -> bool:
    """True for a file with no points whose usable regions are only count, roi or ignore (see the module)."""
    usable = usable_regions(regions, width, height)
    return point_count == 0 and bool(usable) and all(r.kind in ("count", "roi", "ignore") for r in usable)


def polygon_mask(polygons, width: int, height: int, stride: int = 1) -> np.ndarray:
    """Boolean (ceil(H/stride), ceil(W/stride)) mask of the cells whose centre lies in any polygon.

    Exact even-odd scanlines through the cell centres, not Pillow's polygon fill: Pillow also paints the
    pixels its edges pass through, so a rectangle drawn on cell borders gained a column of cells.
    A centre on a left or top edge is inside, one on a right or bottom edge outside, so polygons that share
    an edge never both take its cells.
    """
    rows, cols = -(-int(height) // stride), -(-int(width) // stride)
    mask = np.zeros((rows, cols), dtype=bool)  # the only full-size array: a 20000² slide needs 400 MB
    centres = (np.arange(rows) + 0.5) * stride
    for polygon in polygons:
        polygon = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
        x0, y0 = polygon[:, 0], polygon[:, 1]
        x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
        # Edge e crosses row r when its centre lies in [min y, max y): a corner is crossed once, not twice.
        crossing = (np.minimum(y0, y1)[None, :] <= centres[:, None]) & (centres[:, None] < np.maximum(y0, y1)[None, :])
        row, edge = np.nonzero(crossing)
        x = x0[edge] + (centres[row] - y0[edge]) * (x1[edge] - x0[edge]) / (y1[edge] - y0[edge])
        order = np.lexsort((x, row))
        row, x = row[order], x[order]
        # Even-odd: crossings pair up along each row; cells whose centre lies in [x_in, x_out) are inside.
        first = np.clip(np.ceil(x[0::2] / stride - 0.5), 0, cols).astype(np.int64)
        last = np.clip(np.ceil(x[1::2] / stride - 0.5), 0, cols).astype(np.int64)
        for r, start, stop in zip(row[0::2].tolist(), first.tolist(), last.tolist()):
            mask[r, start:stop] = True
    return mask


@dataclass
class KnownArea:
    """What one image's annotation says, as masks at one stride (``None`` masks mean "the whole image")."""

    complete: np.ndarray | None  # where the points are complete (None: everywhere); ignore already removed
    ignore: np.ndarray | None  # never trained on, never counted
    roi: np.ndarray | None  # counting reports what is inside (None: no ROI)
    counts: list[tuple[np.ndarray, float]]  # (mask, stated count) per count region, ignore removed

    @property
    def whole(self) -> bool:
        """True when every pixel is known and none is ignored: the image as version 1 treated it."""
        return self.complete is None and self.ignore is None and not self.counts

    @property
    def counted(self) -> np.ndarray | None:
        """Where counting reports: inside the ROI (the whole image without one), never in ignore areas.

        None means every cell.
        """
        if self.ignore is None:
            return self.roi
        return ~self.ignore if self.roi is None else self.roi & ~self.ignore


def known_area(point_count: int, regions, width: int, height: int, stride: int = 1) -> KnownArea:
    """The masks every consumer uses, from the rules in the module docstring."""
    usable = usable_regions(regions, width, height)
    by_kind = {kind: [r.polygon for r in usable if r.kind == kind] for kind in REGION_KINDS}
    ignore = polygon_mask(by_kind["ignore"], width, height, stride) if by_kind["ignore"] else None
    if by_kind["annotated"]:
        complete = polygon_mask(by_kind["annotated"], width, height, stride)
    elif nothing_known_beyond_regions(point_count, regions, width, height):
        complete = np.zeros((-(-height // stride), -(-width // stride)), dtype=bool)
    else:
        complete = None
    if ignore is not None:
        complete = ~ignore if complete is None else complete & ~ignore
    roi = polygon_mask(by_kind["roi"], width, height, stride) if by_kind["roi"] else None
    counts = []
    for region in (r for r in usable if r.kind == "count"):
        mask = polygon_mask([region.polygon], width, height, stride)
        counts.append((mask if ignore is None else mask & ~ignore, float(region.count)))
    return KnownArea(complete=complete, ignore=ignore, roi=roi, counts=counts)


def mask_area_px(mask: np.ndarray | None, width: int, height: int, stride: int = 1) -> int:
    """Image pixels covered by the cells of ``mask`` at ``stride`` (None: the whole image).

    The last row and column of cells may reach past the image; only their pixels inside it count.
    """
    if mask is None:
        return int(width) * int(height)
    rows, cols = mask.shape
    heights = np.minimum(np.arange(1, rows + 1) * stride, height) - np.arange(rows) * stride
    widths = np.minimum(np.arange(1, cols + 1) * stride, width) - np.arange(cols) * stride
    return int(heights @ mask.astype(np.int64) @ widths)


def read_roi_file(path) -> list[Region]:
    """The regions of a ``--roi`` file: a JSON list of ``roi`` and ``ignore`` regions in the sidecar's form.

    Raises ValueError with a plain-words message for a file that cannot be used. Regions that are readable
    but unusable for a given image (outside it, crossing edges) are left to :func:`region_problems`.
    """
    import json
    from pathlib import Path

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such region file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(data, dict) and isinstance(data.get("regions"), list):
        data = data["regions"]  # a sidecar's "regions" copied with its key
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path}: expected a JSON list of regions, such as "
                         '[{"kind": "roi", "polygon": [[0, 0], [100, 0], [100, 80]]}]')
    regions = []
    for index, raw in enumerate(data, start=1):
        region = Region.from_json(raw)
        if region.raw is not None:
            raise ValueError(f"{path}: region {index} is not a region (expected {{'kind': 'roi' or 'ignore', "
                             "'polygon': [[x, y], ...]}})")
        if region.kind not in ("roi", "ignore"):
            raise ValueError(f"{path}: region {index} is a '{region.kind}' region; a region file applied to "
                             "every image holds only 'roi' and 'ignore' regions")
        regions.append(region)
    return regions


def counting_mask(regions, width: int, height: int, stride: int = 1) -> np.ndarray | None:
    """Cells whose density counts: inside the ROIs (everywhere when there is none), outside ``ignore``
    regions. None when that is the whole image."""
    return known_area(0, regions, width, height, stride).counted


def points_in_mask(points: np.ndarray, mask: np.ndarray | None, stride: int = 1) -> np.ndarray:
    """Boolean per point: does its cell at ``stride`` lie in ``mask`` (None: every point does)?"""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if mask is None:
        return np.ones(len(points), dtype=bool)
    cols = np.floor(points[:, 0] / stride).astype(np.int64)
    rows = np.floor(points[:, 1] / stride).astype(np.int64)
    inside = (rows >= 0) & (cols >= 0) & (rows < mask.shape[0]) & (cols < mask.shape[1])
    result = np.zeros(len(points), dtype=bool)
    result[inside] = mask[rows[inside], cols[inside]]
    return result


def scored_cells(known: KnownArea, points, stride: int = 1) -> tuple[np.ndarray | None, float]:
    """Where a predicted count can be compared with the annotation, and the true count there.

    Returns (cells, count): ``cells`` is None when the whole image is known (count = every point), else a
    boolean mask at ``stride``: the cells where the points are complete, plus each count region that does
    not overlap them (its stated count is added; one that overlaps them would count objects twice).
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if known.complete is None:  # points complete everywhere: count regions only restate what is clicked
        return None, float(len(points))
    cells = known.complete.copy()
    count = float(points_in_mask(points, known.complete, stride).sum())
    for mask, stated in known.counts:
        if not (mask & cells).any():
            cells |= mask
            count += stated
    return cells, count


def _self_intersecting(polygon: np.ndarray) -> bool:
    """True when two non-adjacent edges of the closed polygon cross or touch (a bow-tie, a figure eight)."""
    corners = len(polygon)
    if corners < 4:
        return False
    starts, ends = polygon, np.roll(polygon, -1, axis=0)
    for i in range(corners):
        # Edges i and j are adjacent when they share a corner: j = i + 1, or i = 0 and j = last.
        j = np.arange(i + 2, corners if i else corners - 1)
        if not len(j):
            continue
        if np.any(_segments_cross(starts[i], ends[i], starts[j], ends[j])):
            return True
    return False


def _segments_cross(p, q, starts, ends) -> np.ndarray:
    def orientation(a, b, c):
        return np.sign((b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1])
                       - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0]))

    o1, o2 = orientation(p, q, starts), orientation(p, q, ends)
    o3, o4 = orientation(starts, ends, p), orientation(starts, ends, q)
    proper = (o1 * o2 < 0) & (o3 * o4 < 0)
    # Touching counts too (a corner lying on another edge): collinear and within the edge's box.
    def on_segment(a, b, c):
        return ((np.minimum(a[..., 0], b[..., 0]) <= c[..., 0]) & (c[..., 0] <= np.maximum(a[..., 0], b[..., 0]))
                & (np.minimum(a[..., 1], b[..., 1]) <= c[..., 1]) & (c[..., 1] <= np.maximum(a[..., 1], b[..., 1])))
    touching = ((o1 == 0) & on_segment(p, q, starts)) | ((o2 == 0) & on_segment(p, q, ends)) \
        | ((o3 == 0) & on_segment(starts, ends, p)) | ((o4 == 0) & on_segment(starts, ends, q))
    return proper | touching


def _number(value: float):
    """Whole numbers as ints (a rectangle drawn on pixel edges reads as [0, 0], not [0.0, 0.0])."""
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value
