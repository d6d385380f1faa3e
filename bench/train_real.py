"""Accuracy on real data: train within a time budget, then count held-out test images.

    python bench/train_real.py vgg --minutes 10          # VGG cells, default model
    python bench/train_real.py shb --minutes 20 --model unet
    python bench/train_real.py vgg --minutes 10 --model fcrn_a --extra --width 16

The data comes from ../shared/data (see its README); this script skips when it is absent. It imports the
source into a temporary CrowdGUI dataset, writes an explicit three-way split into the sidecars (train / val for
choosing the best epoch / test for the figure reported: the test images are never seen during training), runs
``python -m engine train`` and then ``python -m engine evaluate --split test`` exactly as a user would.

Splits (deterministic, by natural file order):
  vgg: images 1-64 train, 65-80 val, 81-100 test (the official 101-200 test images are not in ../shared).
  shb: every 5th image test (80), every 5th of the rest val (64), the remaining 256 train.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.dataset import Dataset, read_sidecar, write_sidecar  # noqa: E402
from engine.dataset.importers import import_dataset  # noqa: E402

SOURCES = {"vgg": "vgg_cells_train", "shb": "shanghaitech_B_train"}


def split_for(kind: str, index: int, total: int) -> str:
    if kind == "vgg":
        return "train" if index < 64 else ("val" if index < 80 else "test")
    if index % 5 == 4:
        return "test"
    return "val" if (index // 5) % 5 == 4 else "train"


def prepare(kind: str, work: Path) -> Path:
    source = ROOT.parent / "shared" / "data" / SOURCES[kind]
    if not source.is_dir():
        print(f"skipped: {source} is not there")
        sys.exit(0)
    dataset_dir = work / kind
    import_dataset(source, dataset_dir)
    dataset = Dataset(dataset_dir)
    for index, entry in enumerate(dataset.entries):
        annotation = read_sidecar(entry.sidecar)
        annotation.split = split_for(kind, index, len(dataset))
        write_sidecar(entry.sidecar, annotation)
    dataset.rescan()
    print(f"{kind}: " + ", ".join(f"{s} {len(dataset.images_in(s))}" for s in ("train", "val", "test")))
    return dataset_dir


def run_engine(arguments: list[str]) -> list[dict]:
    """Run ``python -m engine`` with JSON events; echo epochs and errors; return all events."""
    process = subprocess.Popen([sys.executable, "-m", "engine", *arguments, "--events", "jsonl"],
                               cwd=ROOT, stdout=subprocess.PIPE, text=True)
    events = []
    for line in process.stdout:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        events.append(event)
        if event["type"] == "epoch" and event.get("val_mae") is not None:
            print(f"  epoch {event['epoch']}: loss {event['loss']:.4g}  val MAE {event['val_mae']:.2f}", flush=True)
        elif event["type"] in ("error", "warning"):
            print(f"  {event['type']}: {event.get('message')}", flush=True)
    if process.wait() != 0:
        raise SystemExit(f"engine {arguments[0]} failed")
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", choices=sorted(SOURCES))
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--model", default=None, help="default: the engine's default model")
    parser.add_argument("--work", type=Path, default=None, help="keep the dataset and run here")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more `engine train` flags")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="crowdgui-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    dataset_dir = work / args.data if (work / args.data).is_dir() else prepare(args.data, work)
    run_dir = work / f"run-{args.model or 'default'}-{int(args.minutes)}min-{int(time.time())}"
    train = ["train", str(dataset_dir), "--out", str(run_dir), "--minutes", str(args.minutes)]
    if args.model:
        train += ["--model", args.model]
    started = time.time()
    done = [e for e in run_engine(train + list(args.extra)) if e["type"] == "done"][-1]
    trained_s = time.time() - started
    evaluation = [e for e in run_engine(["evaluate", str(dataset_dir), "--checkpoint",
                                         str(run_dir / "best.pt"), "--split", "test"]) if e["type"] == "done"][-1]
    print(json.dumps({"data": args.data, "model": args.model or "default", "minutes": args.minutes,
                      "extra": args.extra, "train_wall_s": round(trained_s), "steps": done.get("steps"),
                      "best_val_mae": done.get("best_val_mae"),
                      **{k: evaluation.get(k) for k in ("images", "mae", "rmse", "game1", "game2", "game3",
                                                        "precision", "recall", "f1") if k in evaluation}}, indent=1))
    print(f"run folder: {run_dir}")


if __name__ == "__main__":
    main()
