"""Counting with a region of interest on real data: is the count the one inside the ROI, and what does it cost?

    python bench/count_roi.py --minutes 3 --extra --width 8 --threads 1
    python bench/count_roi.py --checkpoint RUN/best.pt --data /work/shared/data/vgg_cells_train

Uses VGG cells (../shared/data, split as bench/train_real.py: test images 81-100). Without ``--checkpoint`` it
first trains for ``--minutes``. Then, on the 20 test images:

1. ``count`` of the whole images (density maps saved) and ``count --roi`` with the left half as ROI;
2. checks that each ROI count equals the saved whole map summed over the cells whose centre lies in the left
   half, and that each annotated count inside the ROI equals the annotated points with x < 128;
3. ``evaluate`` on a copy annotated only in the left half (an ``annotated`` region, the right half's points
   removed), whose MAE must equal the ROI count's MAE: both compare the same half.

Prints the MAE of each, the largest differences of the checks, and the seconds each count took.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from train_real import run_engine, split_for

from engine.dataset import Dataset, read_sidecar, write_sidecar
from engine.dataset.importers import import_dataset
from engine.dataset.regions import rectangle

HALF = 128  # VGG cells images are 256 x 256


def prepare(source: Path, work: Path) -> Path:
    """VGG cells imported into a dataset with bench/train_real.py's split (test: images 81-100)."""
    if not source.is_dir():
        print(f"skipped: {source} is not there")
        sys.exit(0)
    dataset_dir = work / "vgg"
    import_dataset(source, dataset_dir)
    dataset = Dataset(dataset_dir)
    for index, entry in enumerate(dataset.entries):
        annotation = read_sidecar(entry.sidecar)
        annotation.split = split_for("vgg", index, len(dataset))
        write_sidecar(entry.sidecar, annotation)
    return dataset_dir


def test_folder(dataset_dir: Path, target: Path, left_half_only: bool) -> Path:
    """The dataset's test images (hard links) with their sidecars; optionally annotated in the left half only."""
    target.mkdir(parents=True, exist_ok=True)
    dataset = Dataset(dataset_dir)
    for name in dataset.images_in("test"):
        entry = dataset.entry(name)
        os.link(entry.path, target / name)
        annotation = read_sidecar(entry.sidecar)
        if left_half_only:
            annotation.points = annotation.points[annotation.points[:, 0] < HALF]
            annotation.regions = [rectangle("annotated", 0, 0, HALF, entry.height)]
        write_sidecar(target / entry.sidecar.name, annotation)
    return target


def read_rows(path: Path) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["image"]: row for row in csv.DictReader(handle)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None, help="count with this model (else train one)")
    parser.add_argument("--minutes", type=float, default=3.0, help="training budget without --checkpoint")
    parser.add_argument("--work", type=Path, default=None, help="keep the files here")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "vgg_cells_train",
                        help="the VGG cells folder (default: ../shared/data/vgg_cells_train)")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more `engine train` flags")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="crowdgui-roi-"))
    work.mkdir(parents=True, exist_ok=True)
    dataset_dir = work / "vgg" if (work / "vgg").is_dir() else prepare(args.data, work)
    checkpoint = args.checkpoint
    if checkpoint is None:
        run_dir = work / f"run-{int(time.time())}"
        run_engine(["train", str(dataset_dir), "--out", str(run_dir), "--minutes", str(args.minutes),
                    *args.extra])
        checkpoint = run_dir / "best.pt"
    for name in ("test", "test-left"):
        shutil.rmtree(work / name, ignore_errors=True)
    whole_dir = test_folder(dataset_dir, work / "test", left_half_only=False)
    left_dir = test_folder(dataset_dir, work / "test-left", left_half_only=True)
    roi_file = work / "left-half.json"
    roi_file.write_text(json.dumps([rectangle("roi", 0, 0, HALF, 256).to_json()]))

    model = ["--checkpoint", str(checkpoint), "--device", "cpu"]
    whole = run_engine(["count", str(whole_dir), *model, "--out", str(work / "whole.csv"),
                        "--density-dir", str(work / "maps")])[-1]
    roi = run_engine(["count", str(whole_dir), *model, "--out", str(work / "roi.csv"), "--roi", str(roi_file)])[-1]
    evaluation = run_engine(["evaluate", str(left_dir), *model, "--split", "test"])[-1]

    stride = json.loads((work / "maps" / "densities.json").read_text())["stride"]
    roi_rows = read_rows(work / "roi.csv")
    count_gap, annotated_gap = 0.0, 0
    for name, row in roi_rows.items():
        density = np.load(work / "maps" / f"{name}.density.npy")
        left_cells = (np.arange(density.shape[1]) + 0.5) * stride < HALF
        count_gap = max(count_gap, abs(float(row["count"]) - float(density[:, left_cells].sum(dtype=np.float64))))
        points = read_sidecar(whole_dir / f"{name}.points.json").points
        annotated_gap = max(annotated_gap, abs(int(row["annotated_count"]) - int((points[:, 0] < HALF).sum())))
    print(json.dumps({
        "images": len(roi_rows), "stride": stride,
        "whole_mae": whole["mae"], "roi_mae": roi["mae"], "evaluate_left_half_mae": evaluation["mae"],
        "roi_count_vs_map_sum_max_abs_diff": count_gap, "roi_annotated_vs_points_left_max_abs_diff": annotated_gap,
        "whole_seconds": whole["seconds"], "roi_seconds": roi["seconds"],
        "area_px": sorted({row["area_px"] for row in roi_rows.values()}),
    }, indent=1))
    print(f"files: {work}")


if __name__ == "__main__":
    main()
