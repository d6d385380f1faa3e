"""Fault runs for annotation saves: kill -9 a process saving a big sidecar, hundreds of times.

    python bench/fault_annotation.py [--kills 300] [--points 50000] [--max-delay 0.35]

Each round starts a fresh writer process that saves version A and version B of one image's points in turn
(half the rounds through Dataset.save_points, half through atomic_write_bytes with the texts ready, so that
nearly every kill of those lands in the file-system calls), kills it with SIGKILL after a random delay, and
reads the sidecar back. Prints how many kills were tried, how often the complete version A or B was found,
and how often the file was corrupt (must be 0), how many kills interrupted a save, and whether the folder
still scanned cleanly. The harness is tests/robustness/annotation_kill_harness.py (the test runs 20 kills).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "robustness"))

import annotation_kill_harness as harness


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=300)
    parser.add_argument("--points", type=int, default=50_000)
    parser.add_argument("--max-delay", type=float, default=0.35, help="seconds; each kill waits uniform(0, this)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fault-annotation-") as work:
        folder = harness.make_dataset(Path(work) / "data", args.points)
        size = harness.sidecar_size(folder)
        print(f"sidecar: {args.points} points, {size / 1e6:.2f} MB; {args.kills} kills, delay uniform(0, "
              f"{args.max_delay}) s after the writer is ready")
        started = time.perf_counter()
        counts = harness.run_kills(folder, args.kills, args.points, args.max_delay, args.seed, log=print)
        elapsed = time.perf_counter() - started
    print(counts.line())
    print(f"by mode: {counts.by_mode}; {elapsed:.0f} s")
    for problem in counts.problems[:20]:
        print("  PROBLEM", problem)
    return 1 if counts.corrupt or counts.scan_broken else 0


if __name__ == "__main__":
    sys.exit(main())
