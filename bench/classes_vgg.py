"""Two classes of VGG cell, bright and dim: does a per-class model beat "half of the total" per class?

    python bench/classes_vgg.py --minutes 10 [--threads 2] [--work /tmp/classes] [--source ../shared/data/vgg_cells_train]

The classes are a property anyone can see in the image: a cell is "bright" when the blue channel's mean over
the 5x5 pixels round its dot is above 197 (the median over the first ten images), else "dim". The share of
bright cells differs from image to image (mean 0.57, standard deviation 0.15 over the 100 images), so
splitting a right total in half is a fair but beatable baseline.

The bench works as a user would, through the command line:
1. writes one LabelMe file (point shapes labelled bright/dim) beside a link to each image;
2. ``python -m engine import --format labelme`` makes the dataset (its classes come from the labels);
3. writes bench/train_real.py's VGG split (images 1-64 train, 65-80 val, 81-100 test) into the sidecars;
4. ``python -m engine train`` for ``--minutes``, then ``python -m engine count`` over the dataset;
5. prints, over the 20 test images, the per-class MAE of the model's ``count:<class>`` columns against
   two baselines: half of the model's own total, and half of the true total (an oracle for the total).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_real import ROOT, SOURCES, run_engine, split_for

from engine.dataset import Dataset, read_sidecar, write_sidecar

CLASSES = ("bright", "dim")
BRIGHT_ABOVE = 197.0  # blue, mean of 5x5 pixels at the dot


def dot_points(dots_png: Path) -> np.ndarray:
    """(n, 2) pixel centres of the pure-red pixels of a VGG ``NNNdots.png``."""
    dots = np.asarray(Image.open(dots_png).convert("RGB"))
    ys, xs = np.nonzero((dots[..., 0] > 200) & (dots[..., 1] < 50) & (dots[..., 2] < 50))
    return np.column_stack([xs + 0.5, ys + 0.5])


def cell_classes(cell_png: Path, points: np.ndarray) -> list[str]:
    blue = ndimage.uniform_filter(np.asarray(Image.open(cell_png).convert("RGB"))[..., 2].astype(float), 5)
    values = blue[points[:, 1].astype(int), points[:, 0].astype(int)]
    return [CLASSES[0] if value > BRIGHT_ABOVE else CLASSES[1] for value in values]


def write_labelme_folder(source: Path, folder: Path) -> dict[str, dict[str, int]]:
    """LabelMe files and image links for every VGG image; returns {image name: {class: count}}."""
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for cell in sorted(source.glob("*cell.png")):
        points = dot_points(cell.with_name(cell.name.replace("cell", "dots")))
        labels = cell_classes(cell, points)
        (folder / cell.name).symlink_to(cell.resolve())
        shapes = [{"label": label, "points": [[float(x), float(y)]], "shape_type": "point", "group_id": None,
                   "flags": {}} for (x, y), label in zip(points, labels)]
        width, height = Image.open(cell).size
        document = {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": cell.name, "imageData": None,
                    "imageHeight": height, "imageWidth": width}
        (folder / f"{cell.stem}.json").write_text(json.dumps(document))
        truth[cell.name] = {name: labels.count(name) for name in CLASSES}
    return truth


def write_split(dataset_dir: Path) -> list[str]:
    """bench/train_real.py's VGG split; returns the test image names."""
    dataset = Dataset(dataset_dir)
    for index, entry in enumerate(dataset.entries):
        annotation = read_sidecar(entry.sidecar)
        annotation.split = split_for("vgg", index, len(dataset))
        write_sidecar(entry.sidecar, annotation)
    dataset.rescan()
    return dataset.images_in("test")


def read_counts(counts_csv: Path) -> dict[str, dict[str, float]]:
    with open(counts_csv, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    missing = [f"count:{name}" for name in CLASSES if f"count:{name}" not in rows[0]]
    if missing:
        raise SystemExit(f"counts.csv has no {', '.join(missing)} column: the model did not count per class")
    return {row["image"]: {"total": float(row["count"]), **{name: float(row[f"count:{name}"]) for name in CLASSES}}
            for row in rows}


def table(truth: dict, counted: dict, names: list[str]) -> None:
    def mae(estimate) -> float:
        return statistics.mean(abs(estimate(name, cls) - truth[name][cls]) for name in names for cls in CLASSES)

    rows = {
        "model, per class": mae(lambda name, cls: counted[name][cls]),
        "half of the model's total": mae(lambda name, cls: counted[name]["total"] / 2),
        "half of the true total": mae(lambda name, cls: sum(truth[name].values()) / 2),
    }
    total_mae = statistics.mean(abs(counted[n]["total"] - sum(truth[n].values())) for n in names)
    print(f"\n{len(names)} test images; total-count MAE {total_mae:.2f}")
    print(f"{'estimate':28s} {'per-class MAE':>14s}")
    for label, value in rows.items():
        print(f"{label:28s} {value:14.2f}")
    model = rows["model, per class"]
    for label in ("half of the model's total", "half of the true total"):
        print(f"model beats {label} by {100 * (1 - model / rows[label]):.0f}%")
    for cls in CLASSES:
        per = statistics.mean(abs(counted[n][cls] - truth[n][cls]) for n in names)
        print(f"  {cls}: MAE {per:.2f} (mean true count {statistics.mean(truth[n][cls] for n in names):.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--work", type=Path, default=None, help="keep the files here (default: a temp folder)")
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "data" / SOURCES["vgg"])
    args = parser.parse_args()
    if not args.source.is_dir():
        print(f"skipped: {args.source} is not there")
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="crowdgui-classes-"))
    labelme, dataset_dir, run = work / "labelme", work / "dataset", work / "run"
    truth = write_labelme_folder(args.source, labelme)
    run_engine(["import", str(labelme), "--out", str(dataset_dir), "--format", "labelme"])
    print("dataset classes:", Dataset(dataset_dir).settings.class_names())
    test_names = write_split(dataset_dir)
    threads = ["--threads", str(args.threads)] if args.threads else []
    run_engine(["train", str(dataset_dir), "--out", str(run), "--minutes", str(args.minutes), *threads])
    counts_csv = work / "counts.csv"
    run_engine(["count", str(dataset_dir), "--checkpoint", str(run / "best.pt"), "--out", str(counts_csv)])
    table(truth, read_counts(counts_csv), test_names)
    print(f"\nfiles in {work}")


if __name__ == "__main__":
    main()
