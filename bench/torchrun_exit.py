"""Benchmark: how often a finished two-process torchrun training dies at exit instead of ending cleanly.

Each run is ``torchrun --standalone --nproc-per-node=2 -m engine train`` on a 6-image synthetic dataset (a
width-4 U-Net, 3 epochs, Gloo on the CPU), as a user's ``--device cpu`` job would start. A run counts as
aborted when a rank died by SIGABRT (its stderr says so): that is the Gloo group being freed at interpreter
exit with its threads still joinable (see ``World.close`` in engine/training/distributed.py). A run that ends
any other way with a non-zero status is reported too, with the end of its stderr.

``--lr 1e12`` makes every run fail with a non-finite loss, to check the error path exits cleanly (status 1).

    python bench/torchrun_exit.py                 # 20 runs
    python bench/torchrun_exit.py --runs 40 --lr 1e12
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from engine.dataset.synthetic import write_synthetic_dataset

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--lr", default="0.01", help="1e12 makes the runs fail (the error path)")
    args = parser.parse_args()
    expected = 1 if float(args.lr) > 1e6 else 0
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(PROJECT))
    with tempfile.TemporaryDirectory() as work:
        cells = write_synthetic_dataset(Path(work) / "cells", images=6, size=(64, 64), counts=(5, 15), seed=1)
        aborted, other, seconds = 0, 0, []
        for index in range(args.runs):
            command = [*TORCHRUN, "-m", "engine", "train", str(cells), "--out", str(Path(work) / f"run{index}"),
                       "--model", "unet", "--device", "cpu", "--events", "jsonl", "--epochs", "3", "--crop", "32",
                       "--width", "4", "--val-fraction", "0.34", "--seed", "0", "--lr", args.lr, "--batch", "2"]
            started = time.perf_counter()
            result = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True, check=False)
            seconds.append(time.perf_counter() - started)
            if "SIGABRT" in result.stderr:
                aborted += 1
                verdict = "SIGABRT"
            elif result.returncode != expected:
                other += 1
                verdict = f"exit {result.returncode}:\n{result.stderr[-1500:]}"
            else:
                verdict = f"exit {result.returncode} (as expected)"
            print(f"run {index + 1:3d}/{args.runs}: {seconds[-1]:5.1f} s, {verdict}", flush=True)
    print(f"\n{aborted} of {args.runs} runs aborted (SIGABRT), {other} ended otherwise than expected "
          f"(expected exit status {expected}); median run {sorted(seconds)[len(seconds) // 2]:.1f} s")


if __name__ == "__main__":
    main()
