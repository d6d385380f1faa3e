"""``python -m engine export DATASET --format csv|shanghaitech|labelme|fiji|qupath|coco|cvat --out DIR``.

See engine/dataset/exporters.py for the layouts. Exit code 0 when at least one image was exported.
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.dataset.exporters import (
    CSV_LAYOUTS,
    EXPORT_FORMATS,
    DatasetExportError,
    ExportSummary,
    export_dataset,
)

NAME = "export"
HELP = ("Write a dataset's points for other tools: CSV, ShanghaiTech .mat, LabelMe, Fiji Cell Counter, QuPath, "
        "COCO or CVAT (with the images, unless --no-images).")
SHOWN_SKIPPED = 20


def add_arguments(parser) -> None:
    parser.add_argument("dataset", type=Path, help="CrowdGUI dataset folder (images + .points.json files)")
    parser.add_argument("--format", required=True, choices=EXPORT_FORMATS,
                        help="shanghaitech: images/ + ground-truth/GT_<stem>.mat; csv: <stem>.csv per image "
                        "(or one points.csv with --csv-layout table); labelme: <stem>.json; fiji: "
                        "CellCounter_<stem>.xml; qupath: <stem>.geojson; coco: annotations.json; cvat: "
                        "annotations.xml. All but shanghaitech keep the points' classes (csv as a class column)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write into (created if needed)")
    parser.add_argument("--csv-layout", default="per-image", choices=CSV_LAYOUTS,
                        help="csv: one x,y file per image, or one image,x,y table (points.csv)")
    parser.add_argument("--split", default="all", choices=["all", "train", "val", "test"],
                        help="export only the images of this split")
    parser.add_argument("--no-images", action="store_true", help="write the annotation files only")
    parser.add_argument("--copy", action="store_true",
                        help="always copy images (by default they are hard-linked when on the same disk)")
    parser.add_argument("--force", action="store_true", help="replace files that already exist in --out")


def run(args, events) -> int:
    try:
        summary = export_dataset(args.dataset, args.out, args.format, events, csv_layout=args.csv_layout,
                                 split=args.split, images=not args.no_images, force=args.force,
                                 link=not args.copy)
    except DatasetExportError as exc:
        events.error(str(exc))
        return 1
    events.emit("done", **summary.to_dict())
    if args.events != "jsonl":  # in jsonl mode stdout carries only events
        print(describe(summary), file=sys.stdout)
    if summary.images == 0:
        events.error("nothing was exported (no annotated image in the chosen split)")
        return 1
    return 0


def describe(summary: ExportSummary) -> str:
    """The summary a person reads at the end of an export."""
    lines = [f"Exported {summary.images} image(s), {summary.points} point(s) from {summary.dataset} "
             f"({summary.format}) into {summary.out}",
             f"  unlabeled, not exported: {summary.unlabeled}   skipped: {len(summary.skipped)}"]
    for path, reason in summary.skipped[:SHOWN_SKIPPED]:
        lines.append(f"    {Path(path).name}: {reason}")
    if len(summary.skipped) > SHOWN_SKIPPED:
        lines.append(f"    ... and {len(summary.skipped) - SHOWN_SKIPPED} more (see the warnings above)")
    lines.append(f"  time: {summary.seconds:.2f} s")
    return "\n".join(lines)
