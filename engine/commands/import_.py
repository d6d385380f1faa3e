"""``python -m engine import SRC --out DATASET [--format auto|...]``: a CrowdGUI dataset from a source layout.

See engine/dataset/importers.py for what is copied, what is dropped and why; engine/dataset/formats/ for the
formats. Exit code 0 when at least one image was imported, 1 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.dataset.formats import FORMATS
from engine.dataset.importers import DatasetImportError, ImportSummary, import_dataset

NAME = "import"
HELP = ("Make a CrowdGUI dataset folder from ShanghaiTech, UCF-QNRF, NWPU, dot images, Fiji Cell Counter, "
        "CVAT, COCO, LabelMe, QuPath, DotDotGoose or CSV files.")
SHOWN_SKIPPED = 20


def add_arguments(parser) -> None:
    parser.add_argument("src", type=Path, help="folder holding the images and their annotations")
    parser.add_argument("--out", type=Path, required=True,
                        help="dataset folder to create or add to (the source is never changed)")
    parser.add_argument("--format", default="auto", choices=["auto", *FORMATS],
                        help="source format; auto picks the one that matches the most images. "
                        + "; ".join(module.DESCRIPTION for module in FORMATS.values()))
    parser.add_argument("--label", default=None,
                        help="LabelMe / DotDotGoose: import only the points with this label (class)")
    parser.add_argument("--dots", default=None, metavar="PATTERN",
                        help="dot images: the dots image of each photo, e.g. '{stem}_centers.png' or "
                        "'../dots/{stem}_gt.png' ({stem}: photo name without extension; {prefix}: the same "
                        "without a trailing _rgb, cell, image...); by default the usual names are recognised")
    parser.add_argument("--dot-classes", action="store_true",
                        help="dot images: each dot colour becomes a class (#rrggbb, or 'value N' in grey images)")
    parser.add_argument("--copy", action="store_true",
                        help="always copy images (by default they are hard-linked when on the same disk)")


def run(args, events) -> int:
    try:
        summary = import_dataset(args.src, args.out, args.format, events, label=args.label,
                                 link=not args.copy, dots=args.dots, dot_classes=args.dot_classes)
    except DatasetImportError as exc:
        events.error(str(exc))
        return 1
    events.emit("done", **summary.to_dict())
    if args.events != "jsonl":  # in jsonl mode stdout carries only events
        print(describe(summary), file=sys.stdout)
    if summary.images == 0:
        events.error("nothing was imported")
        return 1
    return 0


def describe(summary: ImportSummary) -> str:
    """The summary a person reads at the end of an import."""
    lines = [
        f"Imported {summary.images} image(s) from {summary.source} ({summary.format}) into {summary.out}",
        f"  annotated: {summary.annotated}   points: {summary.points}   unlabeled: {summary.unlabeled}",
    ]
    if summary.density:
        lines.append(f"  {summary.density}")
    if summary.classified_points or summary.regions:
        lines.append(f"  points with a class: {summary.classified_points}   regions: {summary.regions}")
    if summary.class_names:
        lines.append(f"  classes: {', '.join(summary.class_names)} (listed in the dataset's crowdgui.json)")
    if summary.dropped_points:
        lines.append(f"  points not imported (not numbers: NaN or infinity): {summary.dropped_points}")
    if summary.outside_points:
        lines.append(f"  points outside their image (imported; left out of training and counts): "
                     f"{summary.outside_points}")
    lines.append(f"  skipped: {len(summary.skipped)}")
    for path, reason in summary.skipped[:SHOWN_SKIPPED]:
        lines.append(f"    {Path(path).name}: {reason}")
    if len(summary.skipped) > SHOWN_SKIPPED:
        lines.append(f"    ... and {len(summary.skipped) - SHOWN_SKIPPED} more (see the warnings above)")
    lines.append(f"  time: {summary.seconds:.2f} s")
    return "\n".join(lines)
