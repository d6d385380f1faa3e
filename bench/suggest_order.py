"""Annotate in the suggested order or at random: test MAE after adding k more annotated images.

    OMP_NUM_THREADS=1 python bench/suggest_order.py --checkpoint /tmp/work/vgg/run/best.pt --epochs 80

VGG cells (../shared/data/vgg_cells_train, natural file order): images 1-20 train and 21-30 val, as the
checkpoint was trained; 31-60 are the pool a person has not annotated yet; 61-100 the fixed test set (neither
the checkpoint nor any run here sees it). The checkpoint must not have seen the pool or the test images.

1. The pool's annotations are set aside and ``python -m engine suggest`` ranks the pool with the checkpoint,
   exactly as the window's "Next image to annotate" does.
2. Two datasets: the 20 training images plus the top ``k`` of the ranking (suggested), or plus ``k`` pool
   images drawn with ``--seed`` (random); their annotations come back, the rest of the pool stays unlabeled.
3. Each trains from scratch for the same ``--epochs`` (same seed, one thread) and is evaluated with
   ``python -m engine evaluate --split test``.

Also printed: the checkpoint's own count error on the suggested images against the pool's mean (the
ranking should pick images the model gets wrong).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.dataset import Dataset, read_sidecar, write_sidecar
from engine.dataset.importers import import_dataset

SOURCE = Path("/work/shared/data/vgg_cells_train")
TRAIN, VAL, POOL = 20, 30, 60  # natural-order index bounds: [0, 20) train, [20, 30) val, [30, 60) pool


def split_for(index: int) -> str:
    if index < TRAIN:
        return "train"
    if index < VAL:
        return "val"
    return "pool" if index < POOL else "test"


def prepare(work: Path) -> tuple[Path, dict[str, Path]]:
    """The dataset with the pool unlabeled, and where each pool image's annotation was set aside."""
    dataset_dir = work / "base"
    import_dataset(SOURCE, dataset_dir, link=False)
    aside = work / "pool-annotations"
    aside.mkdir()
    kept = {}
    for index, entry in enumerate(Dataset(dataset_dir).entries):
        annotation = read_sidecar(entry.sidecar)
        split = split_for(index)
        if split == "pool":
            annotation.split = "train"
            kept[entry.name] = aside / entry.sidecar.name
            write_sidecar(kept[entry.name], annotation)
            entry.sidecar.unlink()
        else:
            annotation.split = split
            write_sidecar(entry.sidecar, annotation)
    return dataset_dir, kept


def run_engine(arguments: list[str]) -> list[dict]:
    """``python -m engine`` with JSON events; warnings and errors echoed; all events returned."""
    process = subprocess.run([sys.executable, "-m", "engine", *arguments, "--events", "jsonl"], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True, check=False)
    events = []
    for line in process.stdout.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
        if events[-1]["type"] in ("error", "warning"):
            print(f"  {events[-1]['type']}: {events[-1].get('message')}", flush=True)
    if process.returncode != 0:
        raise SystemExit(f"engine {arguments[0]} failed")
    return events


def with_annotated(base: Path, out: Path, chosen: list[str], kept: dict[str, Path]) -> Path:
    """A copy of ``base`` where the ``chosen`` pool images got their annotations back (as training images)."""
    shutil.copytree(base, out)
    for name in chosen:
        shutil.copyfile(kept[name], out / kept[name].name)
    return out


def train_and_test(dataset_dir: Path, run_dir: Path, epochs: int, seed: int) -> dict:
    started = time.time()
    run_engine(["train", str(dataset_dir), "--out", str(run_dir), "--epochs", str(epochs), "--seed", str(seed),
                "--threads", "1"])
    trained_s = time.time() - started
    done = [e for e in run_engine(["evaluate", str(dataset_dir), "--checkpoint", str(run_dir / "best.pt"),
                                   "--split", "test"]) if e["type"] == "done"][-1]
    return {"mae": round(done["mae"], 3), "rmse": round(done["rmse"], 3), "test_images": done["images"],
            "train_minutes": round(trained_s / 60, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True, help="a model trained on images 1-20")
    parser.add_argument("--k", type=int, default=10, help="pool images annotated next")
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0, help="draws the random images and seeds training")
    parser.add_argument("--work", type=Path, default=None, help="keep the datasets and runs here")
    args = parser.parse_args()
    if not SOURCE.is_dir():
        print(f"skipped: {SOURCE} is not there")
        return
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    work = args.work or Path(tempfile.mkdtemp(prefix="crowdgui-suggest-order-"))
    work.mkdir(parents=True, exist_ok=True)
    base, kept = prepare(work)
    ranked_csv = work / "ranked.csv"
    suggest_events = run_engine(["suggest", str(base), "--checkpoint", str(args.checkpoint), "--out",
                                 str(ranked_csv)])
    with open(ranked_csv, newline="", encoding="utf-8") as handle:
        ranking = [row["image"] for row in csv.DictReader(handle)]
    suggested = ranking[:args.k]
    drawn = random.Random(args.seed).sample(sorted(kept), args.k)

    true_counts = {name: len(read_sidecar(path).points) for name, path in kept.items()}
    model_error = {e["image"]: abs(e["count"] - true_counts[e["image"]])
                   for e in suggest_events if e["type"] == "result"}
    mean = lambda names: round(sum(model_error[n] for n in names) / len(names), 2)
    print(f"checkpoint's count error: top {args.k} suggested {mean(suggested)}, random {args.k} {mean(drawn)}, "
          f"pool of {len(kept)} {mean(list(kept))}", flush=True)

    results = {}
    for order, chosen in (("suggested", suggested), ("random", drawn)):
        dataset_dir = with_annotated(base, work / f"data-{order}", chosen, kept)
        results[order] = train_and_test(dataset_dir, work / f"run-{order}", args.epochs, args.seed)
        print(f"{order}: {json.dumps(results[order])}", flush=True)
    print(json.dumps({"k": args.k, "epochs": args.epochs, "seed": args.seed, "suggested_images": suggested,
                      "random_images": drawn, **results}, indent=1))
    print(f"work folder: {work}")


if __name__ == "__main__":
    main()
