"""How each region kind is drawn: colour, outline, fill or hatch, and its label. Regions that cannot be used
(engine.dataset.regions.region_problem) are drawn dashed red whatever their kind, with the reason as tooltip."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QPen

from engine.dataset.regions import KIND_TITLES, Region


@dataclass(frozen=True)
class RegionStyle:
    color: QColor
    line: Qt.PenStyle
    fill: Qt.BrushStyle
    fill_alpha: int
    label: str


STYLES = {
    # Points are complete here: a calm green wash.
    "annotated": RegionStyle(QColor(52, 199, 89), Qt.PenStyle.SolidLine, Qt.BrushStyle.SolidPattern, 28,
                             "Annotated"),
    # Never trained on, never counted: hatched, so it reads as "struck out" over any image.
    "ignore": RegionStyle(QColor(210, 210, 215), Qt.PenStyle.SolidLine, Qt.BrushStyle.BDiagPattern, 200,
                          "Ignore"),
    # Where counting reports its count: an outline only, the image inside stays untouched.
    "roi": RegionStyle(QColor(10, 132, 255), Qt.PenStyle.DashLine, Qt.BrushStyle.NoBrush, 0, "ROI"),
    "count": RegionStyle(QColor(191, 90, 242), Qt.PenStyle.SolidLine, Qt.BrushStyle.Dense6Pattern, 160, "Count"),
}
PROBLEM_STYLE = RegionStyle(QColor(255, 59, 48), Qt.PenStyle.DashLine, Qt.BrushStyle.NoBrush, 0, "Not used")
SELECTED_COLOR = QColor(255, 221, 0)


def style_of(region: Region, problem: str | None) -> RegionStyle:
    return PROBLEM_STYLE if problem else STYLES.get(region.kind, PROBLEM_STYLE)


def pen_of(style: RegionStyle, selected: bool = False) -> QPen:
    pen = QPen(SELECTED_COLOR if selected else style.color, 3 if selected else 2, style.line)
    pen.setCosmetic(True)  # the same width on screen at every zoom
    return pen


def brush_of(style: RegionStyle) -> QBrush:
    color = QColor(style.color)
    color.setAlpha(style.fill_alpha)
    return QBrush(color, style.fill)


def label_of(region: Region, problem: str | None) -> str:
    """The text drawn at the region: its kind, and for a count region the stated number."""
    if problem:
        return f"{KIND_TITLES.get(region.kind, region.kind)}: not used"
    if region.kind == "count":
        return f"Count: {region.count:g}"
    return STYLES[region.kind].label


def tooltip_of(region: Region, problem: str | None) -> str:
    if problem:
        return f"This region is kept in the file but not used: {problem}."
    if region.kind == "count":
        return f"Stated count: {region.count:g} objects inside, not clicked."
    return {"annotated": "Annotated area: every object inside is clicked; outside, nothing is known.",
            "ignore": "Ignore: never trained on, never counted.",
            "roi": "Region of interest: counting reports the count inside it."}.get(region.kind, region.kind)
