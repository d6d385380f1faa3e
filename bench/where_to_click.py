"""Where to click next, measured on held-out annotated images a model has not seen.

    python bench/where_to_click.py --checkpoint RUN/best.pt --dataset DATASET [--other RUN/last.pt]

For every image of DATASET's test split (its annotations play the person who has not clicked yet):

1. Uncertainty. The flip spread (engine.counting.uncertainty) of each image against its real count error:
   the mean error of the top 10 images by score versus the mean over all, and the rank correlation. With
   ``--other`` a second checkpoint gives the alternative score |count(A) - count(B)| for comparison.
2. Missed-object hints. A tenth of each image's points are removed (seeded); the hints are the model's
   objects that no remaining point covers (engine.counting.propose.proposals_from_density). Recall: the
   removed points a hint lands on (within the matching radius); precision: the hints that land on one.
3. One stated region. A random quarter of the image (a rectangle of half its width and height) gets its true
   count stated; the image's count then honours it, alone and with the rest of the image corrected
   (engine.counting.stated). Reported: how many images' errors went down, and the median errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.counting.infer import load_counter, model_stride, predict_density
from engine.counting.propose import cancel_radius, proposals_from_density
from engine.counting.stated import honour_stated_counts
from engine.counting.uncertainty import count_spread
from engine.dataset import Dataset, read_image
from engine.dataset.regions import polygon_mask, rectangle
from engine.metrics import match_points


def spearman(a, b) -> float:
    rank = lambda values: np.argsort(np.argsort(values))
    return float(np.corrcoef(rank(np.asarray(a)), rank(np.asarray(b)))[0, 1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, required=True, help="a dataset whose test split is held out")
    parser.add_argument("--other", type=Path, help="a second checkpoint for the disagreement score")
    parser.add_argument("--split", default="test")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    model, record = load_counter(args.checkpoint, "cpu")
    other = load_counter(args.other, "cpu") if args.other else None
    stride = model_stride(model, record)
    radius = cancel_radius(record, stride)
    dataset = Dataset(args.dataset)
    names = dataset.images_in(args.split)
    rng = np.random.default_rng(args.seed)
    rows = []
    hits = removed_total = hint_total = hint_hits = 0
    for name in names:
        image = read_image(dataset.entry(name).path)
        height, width = image.shape[:2]
        truth = dataset.load_points_inside(name)
        density = predict_density(model, record, image)
        count = float(density.sum())
        spread = count_spread(model, record, image)
        if other:
            other_spread = count_spread(*other, image)
            disagreement = abs(count - float(predict_density(*other, image).sum()))
            both = float(np.std(spread.counts + other_spread.counts))
        else:
            disagreement = both = np.nan
        # 2. Hints for a tenth of the points removed.
        removed = rng.random(len(truth)) < 0.1
        hints = proposals_from_density(density, stride, (width, height), truth[~removed], radius).points
        matched_hints, matched_removed = match_points(hints, truth[removed], radius)
        hits += len(matched_removed)
        removed_total += int(removed.sum())
        hint_total += len(hints)
        hint_hits += len(matched_hints)
        # 3. One stated quarter.
        x0, y0 = rng.uniform(0, width / 2), rng.uniform(0, height / 2)
        region = rectangle("count", x0, y0, x0 + width / 2, y0 + height / 2)
        inside = polygon_mask([region.polygon], width, height)
        truth_inside = int(inside[truth[:, 1].astype(int), truth[:, 0].astype(int)].sum()) if len(truth) else 0
        mask = polygon_mask([region.polygon], width, height, stride)[:density.shape[0], :density.shape[1]]
        honoured = honour_stated_counts(density, [(mask, truth_inside)], correct=False).count
        corrected = honour_stated_counts(density, [(mask, truth_inside)], correct=True).count
        rows.append((name, len(truth), count, spread.spread, disagreement, honoured, corrected, both))
    true = np.array([r[1] for r in rows], dtype=float)
    error = np.abs(np.array([r[2] for r in rows]) - true)
    spreads = np.array([r[3] for r in rows])
    print(f"{len(rows)} held-out images of {args.dataset.name} ({args.split}), checkpoint {args.checkpoint}")
    print(f"count MAE {error.mean():.2f}")
    top = np.argsort(-spreads)[:10]
    print(f"1. flip spread: top-10 images' mean error {error[top].mean():.2f} vs all {error.mean():.2f} "
          f"({error[top].mean() / error.mean():.2f}x); Spearman(spread, error) {spearman(spreads, error):.2f}")
    if other:
        disagreement = np.array([r[4] for r in rows])
        top_d = np.argsort(-disagreement)[:10]
        print(f"   checkpoint disagreement: top-10 mean error {error[top_d].mean():.2f} "
              f"({error[top_d].mean() / error.mean():.2f}x); Spearman {spearman(disagreement, error):.2f}")
        both = np.array([r[7] for r in rows])
        top_b = np.argsort(-both)[:10]
        print(f"   flip spread over both checkpoints (8 views): top-10 mean error {error[top_b].mean():.2f} "
              f"({error[top_b].mean() / error.mean():.2f}x); Spearman {spearman(both, error):.2f}")
    print(f"2. missed-object hints: recall {hits / max(1, removed_total):.3f} of {removed_total} removed points, "
          f"precision {hint_hits / max(1, hint_total):.3f} of {hint_total} hints (radius {radius:g} px)")
    honoured = np.abs(np.array([r[5] for r in rows]) - true)
    corrected = np.abs(np.array([r[6] for r in rows]) - true)
    for label, after in (("stated count honoured", honoured), ("and the rest corrected", corrected)):
        lower = int(np.sum(after < error))
        print(f"3. one stated quarter, {label}: error lower in {lower} of {len(rows)} images "
              f"({lower / len(rows):.0%}), median error {np.median(error):.2f} -> {np.median(after):.2f}, "
              f"MAE {error.mean():.2f} -> {after.mean():.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
