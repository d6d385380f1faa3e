"""Partial annotation: VGG cells annotated only in their left half vs fully, at the same training budget.

    python bench/partial_annotation.py --minutes 10 --threads 1 [--seed 0] [--source ../shared/data/vgg_cells_train]

Both arms use bench/train_real.py's VGG split (images 1-64 train, 65-80 val, 81-100 test) and the default
model. In the "left half" arm every training and validation image keeps only its points with x < width / 2
and gets one ``annotated`` region over that half (sidecar version 2): the right half is unknown, as for a
person who annotated half of each image. The test images stay fully annotated in both arms, and both arms'
best checkpoints are scored on them with ``python -m engine evaluate --split test``.

The two runs go side by side, ``--threads`` each (two processes of one thread fill a 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_real import ROOT, SOURCES, run_engine, split_for

from engine.dataset import Dataset, read_sidecar, write_sidecar
from engine.dataset.importers import import_dataset
from engine.dataset.regions import rectangle


def prepare(source: Path, dataset_dir: Path) -> Path:
    """Import the VGG cells into ``dataset_dir`` with train_real.py's explicit three-way split."""
    import_dataset(source, dataset_dir)
    dataset = Dataset(dataset_dir)
    for index, entry in enumerate(dataset.entries):
        annotation = read_sidecar(entry.sidecar)
        annotation.split = split_for("vgg", index, len(dataset))
        write_sidecar(entry.sidecar, annotation)
    return dataset_dir


def keep_left_half(dataset_dir: Path) -> int:
    """Rewrite the train and val sidecars as annotated in their left half only; returns the points dropped."""
    dataset, dropped = Dataset(dataset_dir), 0
    for entry in dataset.entries:
        annotation = read_sidecar(entry.sidecar)
        if annotation.split == "test":
            continue
        half = annotation.width / 2
        left = annotation.points[:, 0] < half
        dropped += int((~left).sum())
        annotation.points = annotation.points[left]
        annotation.labels = None
        annotation.regions = [rectangle("annotated", 0, 0, half, annotation.height)]
        write_sidecar(entry.sidecar, annotation)
    dataset.rescan()
    statuses = {dataset.entry(name).status for s in ("train", "val") for name in dataset.images_in(s)}
    assert statuses == {"partial"}, statuses
    return dropped


def train_and_test(name: str, dataset_dir: Path, run_dir: Path, minutes: float, threads: int, seed: int,
                   found: dict) -> None:
    started = time.time()
    train = ["train", str(dataset_dir), "--out", str(run_dir), "--minutes", str(minutes), "--threads", str(threads),
             "--seed", str(seed)]
    done = [e for e in run_engine(train) if e["type"] == "done"][-1]
    trained_s = time.time() - started
    evaluation = [e for e in run_engine(["evaluate", str(dataset_dir), "--checkpoint", str(run_dir / "best.pt"),
                                         "--split", "test"]) if e["type"] == "done"][-1]
    found[name] = {"train_wall_s": round(trained_s), "steps": done.get("steps"), "epochs": done.get("epochs"),
                   "best_val_mae": done.get("best_val_mae"),
                   **{k: evaluation.get(k) for k in ("images", "mae", "rmse") if k in evaluation}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads of each of the two runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="keep the datasets and runs here")
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "data" / SOURCES["vgg"],
                        help="the VGG cells folder (default: ../shared/data/vgg_cells_train)")
    args = parser.parse_args()
    if not args.source.is_dir():
        print(f"skipped: {args.source} is not there")
        return

    work = args.work or Path(tempfile.mkdtemp(prefix="crowdgui-partial-"))
    full_dir = prepare(args.source, work / "full" / "vgg")
    half_dir = work / "left_half" / "vgg"
    shutil.copytree(full_dir, half_dir, symlinks=True)
    dropped = keep_left_half(half_dir)
    print(f"left half: {dropped} points of the right halves of the train and val images dropped", flush=True)
    found: dict = {}
    arms = [threading.Thread(target=train_and_test, args=(name, folder, work / f"run-{name}", args.minutes,
                                                          args.threads, args.seed, found))
            for name, folder in (("full", full_dir), ("left_half", half_dir))]
    for arm in arms:
        arm.start()
    for arm in arms:
        arm.join()
    print(json.dumps({"minutes": args.minutes, "threads_each": args.threads, "seed": args.seed, **found}, indent=1))
    if "full" in found and "left_half" in found:
        gap = found["left_half"]["mae"] - found["full"]["mae"]
        print(f"test MAE: full {found['full']['mae']:.2f}, left half {found['left_half']['mae']:.2f} "
              f"(gap {gap:+.2f}; goal: within 1.0)")
    print(f"work folder: {work} (engine run from {ROOT})")


if __name__ == "__main__":
    main()
