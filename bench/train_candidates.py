"""Which training loss counts best at equal time: every candidate trains AT THE SAME TIME, then counts held-out images.

    python bench/train_candidates.py                              # VGG cells 10 min, then ShanghaiTech B 20 min
    python bench/train_candidates.py --only vgg --minutes-vgg 10
    python bench/train_candidates.py --quick                      # half a minute each: does it all run?

Candidates: ``--loss mse`` (the default until this bench says otherwise: the baseline), ``bayesian`` and
``dmcount`` (engine/training/point_losses.py). For each data set the candidates run as parallel subprocesses,
``python -m engine train DATASET --loss L --threads 1 --minutes M``, so they all see the same load of a shared,
noisy machine; each then counts the test images with its best.pt (``python -m engine evaluate --split test``,
one after the other). The table gives the training steps each managed, and the test MAE and RMSE.

The data comes from ../shared/data (``--data``); it is imported with ``python -m engine import`` into a
temporary folder (``--work`` to keep it), never into the repository. Splits are those of bench/train_real.py:
VGG cells images 1-64 train, 65-80 val (choosing best.pt), 81-100 test; ShanghaiTech B (its 400 training
images): every 5th image test (80), every 5th of the rest val (64), the remaining 256 train.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from train_real import SOURCES, split_for

from engine.dataset import Dataset, read_sidecar, write_sidecar

CANDIDATES = ("mse", "bayesian", "dmcount")
NAMES = {"vgg": "VGG cells", "shb": "ShanghaiTech B"}
QUICK_MINUTES = 0.5


def data_folder(given: Path | None) -> Path:
    """../shared/data seen from the main checkout (/work/main) or from a worktree (/work/wt/NAME)."""
    if given is not None:
        return given
    for folder in (ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data"):
        if folder.is_dir():
            return folder
    raise SystemExit("no ../shared/data: give --data")


def prepare(kind: str, data: Path, work: Path) -> Path:
    """Import the source into ``work/kind`` with the engine's importer and write the bench's split."""
    dataset_dir = work / kind
    if not dataset_dir.is_dir():
        engine(["import", str(data / SOURCES[kind]), "--out", str(dataset_dir)], quiet=True)
        dataset = Dataset(dataset_dir)
        for index, entry in enumerate(dataset.entries):
            annotation = read_sidecar(entry.sidecar)
            annotation.split = split_for(kind, index, len(dataset))
            write_sidecar(entry.sidecar, annotation)
    dataset = Dataset(dataset_dir)
    print(f"{NAMES[kind]}: " + ", ".join(f"{s} {len(dataset.images_in(s))}" for s in ("train", "val", "test")),
          flush=True)
    return dataset_dir


def engine(arguments: list[str], quiet: bool = False) -> list[dict]:
    """Run ``python -m engine ARGUMENTS --events jsonl``; its events (a failure ends the bench)."""
    done = subprocess.run([sys.executable, "-m", "engine", *arguments, "--events", "jsonl"], cwd=ROOT, check=False,
                          capture_output=True, text=True)
    events = _events(done.stdout)
    if done.returncode != 0:
        errors = [e.get("message") for e in events if e["type"] == "error"]
        raise SystemExit(f"engine {arguments[0]} failed: {errors or done.stderr[-2000:]}")
    if not quiet:
        for event in events:
            if event["type"] == "warning":
                print(f"  warning: {event.get('message')}", flush=True)
    return events


def _events(text: str) -> list[dict]:
    events = []
    for line in text.splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def train_together(dataset_dir: Path, runs: Path, minutes: float, seed: int, extra: list[str],
                   candidates: list[str]) -> dict:
    """Train every candidate at once (one thread each); {candidate: its "done" event}."""
    processes = {}
    for loss in candidates:
        log = (runs / f"{loss}.jsonl").open("w")
        command = [sys.executable, "-m", "engine", "train", str(dataset_dir), "--out", str(runs / loss), "--loss",
                   loss, "--threads", "1", "--minutes", str(minutes), "--seed", str(seed), "--device", "cpu",
                   *extra, "--events", "jsonl"]
        processes[loss] = (subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT), log)
    finished = {}
    try:
        for loss, (process, log) in processes.items():
            process.wait()
            log.close()
            events = _events((runs / f"{loss}.jsonl").read_text())
            done = [e for e in events if e["type"] == "done"]
            if process.returncode != 0 or not done:
                errors = [e.get("message") for e in events if e["type"] == "error"]
                raise SystemExit(f"training with --loss {loss} failed: {errors}")
            finished[loss] = done[-1]
    finally:  # a failed (or interrupted) candidate stops the others: no run outlives the bench
        for process, _ in processes.values():
            if process.poll() is None:
                process.terminate()
                process.wait()
    return finished


def bench(kind: str, data: Path, work: Path, minutes: float, seed: int, extra: list[str],
          candidates: list[str]) -> list[dict]:
    dataset_dir = prepare(kind, data, work)
    runs = work / f"runs-{kind}"
    runs.mkdir(parents=True, exist_ok=True)
    print(f"training {', '.join(candidates)} side by side for {minutes:g} min ...", flush=True)
    trained = train_together(dataset_dir, runs, minutes, seed, extra, candidates)
    rows = []
    for loss in candidates:
        result = [e for e in engine(["evaluate", str(dataset_dir), "--checkpoint", str(runs / loss / "best.pt"),
                                     "--split", "test", "--device", "cpu"]) if e["type"] == "done"][-1]
        rows.append({"data": NAMES[kind], "loss": loss, "minutes": minutes, "steps": trained[loss].get("steps"),
                     "best_val_mae": trained[loss].get("best_val_mae"), "test_images": result.get("images"),
                     "mae": result.get("mae"), "rmse": result.get("rmse")})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| data | loss | minutes | steps | val MAE (best.pt) | test images | test MAE | test RMSE |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        val = f"{row['best_val_mae']:.2f}" if row["best_val_mae"] is not None else "-"
        lines.append(f"| {row['data']} | {row['loss']} | {row['minutes']:g} | {row['steps']} | {val} | "
                     f"{row['test_images']} | {row['mae']:.2f} | {row['rmse']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes-vgg", type=float, default=10.0)
    parser.add_argument("--minutes-shb", type=float, default=20.0)
    parser.add_argument("--only", choices=sorted(SOURCES), help="one data set only")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_MINUTES} min of training each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--candidates", nargs="+", choices=CANDIDATES, default=list(CANDIDATES),
                        help="the losses to compare (fewer side by side: each gets more of the CPU)")
    parser.add_argument("--data", type=Path, help="the folder holding vgg_cells_train and shanghaitech_B_train")
    parser.add_argument("--work", type=Path, help="keep the imported data and the runs here (default: a temp dir)")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more `engine train` flags")
    args = parser.parse_args()

    data = data_folder(args.data)
    work = args.work or Path(tempfile.mkdtemp(prefix="crowdgui-losses-"))
    work.mkdir(parents=True, exist_ok=True)
    minutes = {"vgg": args.minutes_vgg, "shb": args.minutes_shb}
    rows = []
    for kind in ([args.only] if args.only else ["vgg", "shb"]):
        rows += bench(kind, data, work, QUICK_MINUTES if args.quick else minutes[kind], args.seed, args.extra,
                      args.candidates)
    print(table(rows))
    print(f"work folder: {work}")


if __name__ == "__main__":
    main()
