"""Benchmark: does averaging flipped views (test-time flips, ``count --flips``) lower the count error?

Counts every image of a dataset's test split four ways (as is, mirrored left-right, upside down, both; the
views of engine.counting.uncertainty) and prints the MAE/RMSE of the plain count, of the mean with the
left-right mirror (what ``--flips`` does), with the upside-down view, and of all four, with how many images
each helps and the paired difference in absolute error (mean ± standard error).

    python bench/flips.py --dataset DS --checkpoint RUN/best.pt
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    from engine.counting.infer import load_counter
    from engine.counting.uncertainty import count_spread
    from engine.dataset import Dataset, read_image

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    dataset = Dataset(args.dataset)
    model, record = load_counter(args.checkpoint, "cpu")
    names = [n for n in dataset.images_in(args.split) if dataset.entry(n).count is not None]
    if not names:
        raise SystemExit(f"no annotated {args.split} images in {args.dataset}")
    started = time.perf_counter()
    views = np.array([count_spread(model, record, read_image(dataset.entry(n).path)).counts for n in names])
    seconds = time.perf_counter() - started
    truth = np.array([dataset.entry(n).count for n in names], float)
    plain_error = np.abs(views[:, 0] - truth)
    print(f"{len(names)} {args.split} images, {seconds / len(names) / 4:.3f} s per view")
    for label, columns in (("plain", [0]), ("left-right (--flips)", [0, 1]), ("upside-down", [0, 2]),
                           ("all four", [0, 1, 2, 3])):
        predicted = views[:, columns].mean(axis=1)
        error = np.abs(predicted - truth)
        change = error - plain_error
        print(f"  {label:22s} MAE {error.mean():.3f}  RMSE {np.sqrt(np.mean((predicted - truth) ** 2)):.3f}  "
              f"better on {int((change < 0).sum())} of {len(names)}, "
              f"{change.mean():+.3f} ± {change.std() / np.sqrt(len(change)):.3f}  ({len(columns)}x the time)")


if __name__ == "__main__":
    main()
