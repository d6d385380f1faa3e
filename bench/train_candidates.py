"""Which training defaults count best at equal time: every candidate trains AT THE SAME TIME, then counts held-out images.

    python bench/train_candidates.py --seeds 0 1                  # today vs default: VGG cells 10 min, ShanghaiTech B 20
    python bench/train_candidates.py --only vgg --candidates mse bayesian dmcount
    python bench/train_candidates.py --only shb --candidates today --try lr1e-3 "--lr 1e-3"
    python bench/train_candidates.py --quick                      # half a minute each: does it all run?

A candidate is a set of ``engine train`` flags (CANDIDATES, or ``--try NAME FLAGS``). ``today`` spells out the
defaults of the day issue #19 was filed (density MSE, U-Net lr 3e-4, validation up to a quarter of the time);
``default`` gives no flags, so it is whatever the defaults are now; ``mse``, ``bayesian`` and ``dmcount`` are the
losses (engine/training/point_losses.py) with the other defaults. For each data set and seed the candidates run
as parallel subprocesses, ``python -m engine train DATASET FLAGS --threads 1 --minutes M``, so they all see the
same load of a shared, noisy machine; each then counts the test images with its best.pt (``python -m engine
evaluate --split test``, one after the other). The table gives the training steps each managed, and the test
MAE and RMSE.

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

# Each candidate is a set of `engine train` flags. "today" spells out the defaults of the day issue #19 was
# filed (U-Net, density MSE, lr 3e-4, validation up to a quarter of the time): the baseline the default must beat.
# "default" gives no flags: whatever the defaults are now.
CANDIDATES = {
    "today": ["--loss", "mse", "--lr", "3e-4", "--val-time", "0.25"],
    "default": [],
    "mse": ["--loss", "mse"],
    "bayesian": ["--loss", "bayesian"],
    "dmcount": ["--loss", "dmcount"],
}
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
                   candidates: dict[str, list[str]]) -> dict:
    """Train every candidate ({name: its flags}) at once, one thread each; {name: its "done" event}."""
    processes = {}
    for name, flags in candidates.items():
        log = (runs / f"{name}.jsonl").open("w")
        command = [sys.executable, "-m", "engine", "train", str(dataset_dir), "--out", str(runs / name), *flags,
                   "--threads", "1", "--minutes", str(minutes), "--seed", str(seed), "--device", "cpu",
                   *extra, "--events", "jsonl"]
        processes[name] = (subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT), log)
    finished = {}
    try:
        for name, (process, log) in processes.items():
            process.wait()
            log.close()
            events = _events((runs / f"{name}.jsonl").read_text())
            done = [e for e in events if e["type"] == "done"]
            if process.returncode != 0 or not done:
                errors = [e.get("message") for e in events if e["type"] == "error"]
                raise SystemExit(f"training candidate {name} failed: {errors}")
            finished[name] = {**done[-1], "loss": _trained_loss(events)}
    finally:  # a failed (or interrupted) candidate stops the others: no run outlives the bench
        for process, _ in processes.values():
            if process.poll() is None:
                process.terminate()
                process.wait()
    return finished


def _trained_loss(events: list[dict]) -> str | None:
    """The loss a run trained with (``--loss auto`` names its choice in the start event)."""
    return next((e.get("loss") for e in events if e["type"] == "start"), None)


def bench(kind: str, data: Path, work: Path, minutes: float, seed: int, extra: list[str],
          candidates: dict[str, list[str]]) -> list[dict]:
    dataset_dir = prepare(kind, data, work)
    runs = work / f"runs-{kind}-seed{seed}"
    runs.mkdir(parents=True, exist_ok=True)
    print(f"training {', '.join(candidates)} side by side for {minutes:g} min (seed {seed}) ...", flush=True)
    trained = train_together(dataset_dir, runs, minutes, seed, extra, candidates)
    rows = []
    for name, flags in candidates.items():
        result = [e for e in engine(["evaluate", str(dataset_dir), "--checkpoint", str(runs / name / "best.pt"),
                                     "--split", "test", "--device", "cpu"]) if e["type"] == "done"][-1]
        rows.append({"data": NAMES[kind], "candidate": name, "flags": " ".join(flags) or "(none)",
                     "loss": trained[name]["loss"], "seed": seed, "minutes": minutes,
                     "steps": trained[name].get("steps"), "best_val_mae": trained[name].get("best_val_mae"),
                     "test_images": result.get("images"), "mae": result.get("mae"), "rmse": result.get("rmse")})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = [("| data | candidate | flags | loss | seed | minutes | steps | val MAE (best.pt) | test images | "
              "test MAE | test RMSE |"), "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        val = f"{row['best_val_mae']:.2f}" if row["best_val_mae"] is not None else "-"
        lines.append(f"| {row['data']} | {row['candidate']} | {row['flags']} | {row['loss']} | {row['seed']} | "
                     f"{row['minutes']:g} | {row['steps']} | {val} | {row['test_images']} | {row['mae']:.2f} | "
                     f"{row['rmse']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes-vgg", type=float, default=10.0)
    parser.add_argument("--minutes-shb", type=float, default=20.0)
    parser.add_argument("--only", choices=sorted(SOURCES), help="one data set only")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_MINUTES} min of training each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--candidates", nargs="+", choices=CANDIDATES, default=["today", "default"],
                        help="the flag sets to compare (fewer side by side: each gets more of the CPU)")
    parser.add_argument("--try", nargs=2, action="append", default=[], metavar=("NAME", "FLAGS"), dest="tries",
                        help='one more candidate, e.g. --try lr1e-3 "--lr 1e-3" (repeatable)')
    parser.add_argument("--seeds", type=int, nargs="+", help="run every data set once per seed (default: --seed)")
    parser.add_argument("--data", type=Path, help="the folder holding vgg_cells_train and shanghaitech_B_train")
    parser.add_argument("--work", type=Path, help="keep the imported data and the runs here (default: a temp dir)")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more `engine train` flags")
    args = parser.parse_args()

    data = data_folder(args.data)
    work = args.work or Path(tempfile.mkdtemp(prefix="crowdgui-losses-"))
    work.mkdir(parents=True, exist_ok=True)
    minutes = {"vgg": args.minutes_vgg, "shb": args.minutes_shb}
    candidates = {name: CANDIDATES[name] for name in args.candidates}
    candidates.update({name: flags.split() for name, flags in args.tries})
    rows = []
    for kind in ([args.only] if args.only else ["vgg", "shb"]):
        for seed in args.seeds or [args.seed]:
            rows += bench(kind, data, work, QUICK_MINUTES if args.quick else minutes[kind], seed, args.extra,
                          candidates)
    print(table(rows))
    print(f"work folder: {work}")


if __name__ == "__main__":
    main()
