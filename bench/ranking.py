"""Does learning from unlabeled images by ranking help when few images are annotated? Paired runs on VGG cells.

    python bench/ranking.py                                  # 3 seeds x 2 arms, 15 min each, 2 runs at a time
    python bench/ranking.py --minutes 5 --seeds 0 1          # a quicker look
    python bench/ranking.py --rank-weight 0.3 --extra --model fcrn_a
    python bench/ranking.py --epochs 300                     # equal supervised steps instead of equal time

The VGG cells data is imported as bench/train_real.py does (its helpers are imported, not copied), with the
same validation (images 65-80) and test (81-100) images; of the training images 1-64 only the first
``--annotated`` (10) keep their annotations, the others become unlabeled images (their sidecars are removed in
the temporary copy). Two arms are trained for the same time budget and seed, side by side (both at
``--threads 1``, at the same time, so they share whatever load the machine has):

  plain:   python -m engine train DATASET --out RUN --minutes M --seed S --threads 1
  ranking: the same + --unlabeled [--rank-weight L]

Each run's best.pt (lowest validation MAE) is then evaluated on the test images with
``python -m engine evaluate DATASET --checkpoint RUN/best.pt --split test``. The table gives MAE/RMSE per seed
and arm, their medians, and the paired difference ranking - plain (negative: ranking is better). Equal time, not
equal steps: a ranking step also runs the unlabeled crops, so that arm makes fewer supervised steps; that is
the trade a user makes when ticking the box. ``--epochs N`` instead gives both arms the same number of epochs,
hence the same supervised steps on the same crops (the ranking arm takes longer): it separates what the ranking
term does to the model from what it costs in time.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from train_real import prepare, run_engine

from engine.dataset import Dataset


def leave_unannotated(dataset_dir: Path, annotated: int) -> tuple[int, int]:
    """Remove the sidecars of all training images but the first ``annotated`` ones (natural order)."""
    dataset = Dataset(dataset_dir)
    train = dataset.images_in("train")
    for name in train[annotated:]:
        dataset.delete_annotation(name)
    dataset.rescan()
    return len(dataset.images_in("train")), len(dataset.images_in("unlabeled"))


def train_arms(dataset_dir: Path, work: Path, seed: int, args) -> dict[str, Path]:
    """Start both arms of one seed at the same time; wait for both. Returns the run folders."""
    runs, processes = {}, []
    for arm in ("plain", "ranking"):
        run_dir = work / f"{arm}-seed{seed}"
        budget = ["--epochs", str(args.epochs)] if args.epochs else ["--minutes", f"{args.minutes:g}"]
        command = ["train", str(dataset_dir), "--out", str(run_dir), *budget,
                   "--seed", str(seed), "--threads", "1", *args.extra]
        if arm == "ranking":
            command.append("--unlabeled")
            if args.rank_weight is not None:
                command += ["--rank-weight", f"{args.rank_weight:g}"]
        print("  $ python -m engine " + shlex.join(command), flush=True)
        log = open(work / f"{arm}-seed{seed}.jsonl", "w", encoding="utf-8")  # noqa: SIM115 - closed below
        processes.append((arm, log, subprocess.Popen([sys.executable, "-m", "engine", *command, "--events",
                                                      "jsonl"], cwd=ROOT, stdout=log)))
        runs[arm] = run_dir
    for arm, log, process in processes:
        if process.wait() != 0:
            raise SystemExit(f"training {arm} seed {seed} failed: see {log.name}")
        log.close()
    return runs


def summary_of(run_dir: Path) -> dict:
    """Steps, epochs and the last ranking loss of a run, from its metrics.jsonl."""
    events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    done = [e for e in events if e["type"] == "done"][-1]
    ranks = [e["rank_loss"] for e in events if e["type"] == "epoch" and "rank_loss" in e]
    return {"steps": done["steps"], "epochs": done["epochs"], "best_val_mae": done["best_val_mae"],
            "rank_loss_last": ranks[-1] if ranks else None}


def test_error(dataset_dir: Path, run_dir: Path) -> dict:
    command = ["evaluate", str(dataset_dir), "--checkpoint", str(run_dir / "best.pt"), "--split", "test"]
    print("  $ python -m engine " + shlex.join(command), flush=True)
    done = [e for e in run_engine(command) if e["type"] == "done"][-1]
    return {"mae": done["mae"], "rmse": done["rmse"], "images": done["images"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, default=15.0, help="training time of every run (equal time)")
    budget.add_argument("--epochs", type=int, default=None, help="epochs of every run instead (equal steps)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--annotated", type=int, default=10, help="training images that keep their points")
    parser.add_argument("--rank-weight", type=float, default=None, help="default: the engine's")
    parser.add_argument("--work", type=Path, default=None, help="keep the dataset and runs here")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more `engine train` flags")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="crowdgui-ranking-"))
    work.mkdir(parents=True, exist_ok=True)
    dataset_dir = prepare("vgg", work)
    train, unlabeled = leave_unannotated(dataset_dir, args.annotated)
    print(f"kept {train} annotated training images, {unlabeled} unlabeled; work folder {work}", flush=True)

    rows = []
    started = time.time()
    for seed in args.seeds:
        print(f"seed {seed}:", flush=True)
        runs = train_arms(dataset_dir, work, seed, args)
        row = {"seed": seed}
        for arm, run_dir in runs.items():
            row[arm] = {**summary_of(run_dir), **test_error(dataset_dir, run_dir)}
        print("  " + json.dumps(row), flush=True)
        rows.append(row)

    print(f"\nVGG cells, {train} annotated + {unlabeled} unlabeled training images, "
          f"{f'{args.epochs} epochs' if args.epochs else f'{args.minutes:g} min'} per run at 1 thread, "
          f"test images 81-100 "
          f"(total wall time {(time.time() - started) / 60:.0f} min)")
    header = (f"{'seed':>4} | {'plain MAE':>9} {'RMSE':>6} {'steps':>6} | {'rank MAE':>8} {'RMSE':>6} "
              f"{'steps':>6} {'rankloss':>8} | {'dMAE':>6} {'dRMSE':>6}")
    print(header)
    print("-" * len(header))
    for row in rows:
        plain, rank = row["plain"], row["ranking"]
        last = rank["rank_loss_last"]
        print(f"{row['seed']:>4} | {plain['mae']:>9.2f} {plain['rmse']:>6.2f} {plain['steps']:>6} | "
              f"{rank['mae']:>8.2f} {rank['rmse']:>6.2f} {rank['steps']:>6} "
              f"{'-' if last is None else f'{last:.3f}':>8} | {rank['mae'] - plain['mae']:>+6.2f} "
              f"{rank['rmse'] - plain['rmse']:>+6.2f}")

    def median(arm, key):
        return statistics.median(r[arm][key] for r in rows)

    d_mae = [r["ranking"]["mae"] - r["plain"]["mae"] for r in rows]
    d_rmse = [r["ranking"]["rmse"] - r["plain"]["rmse"] for r in rows]
    print(f"{'med':>4} | {median('plain', 'mae'):>9.2f} {median('plain', 'rmse'):>6.2f} "
          f"{median('plain', 'steps'):>6.0f} | {median('ranking', 'mae'):>8.2f} {median('ranking', 'rmse'):>6.2f} "
          f"{median('ranking', 'steps'):>6.0f} {'':>8} | {statistics.median(d_mae):>+6.2f} "
          f"{statistics.median(d_rmse):>+6.2f}")
    better = sum(d < 0 for d in d_mae)
    print(f"ranking has the lower test MAE in {better} of {len(rows)} seeds (d = ranking - plain)")
    (work / "results.json").write_text(json.dumps(rows, indent=1))
    print(f"results: {work / 'results.json'}")


if __name__ == "__main__":
    main()
