"""How many clicks model-proposed points save: propose on held-out VGG cell images, count the fixes.

    python bench/proposals.py --checkpoint RUN/best.pt --work DIR     # a model trained on DIR/vgg's train split
    python bench/proposals.py --minutes 10                             # train one first (bench/train_real.py's way)

The dataset and its split come from bench/train_real.py (images 1-64 train, 65-80 val, 81-100 test); only the
test images are proposed on, so the model never saw them. For each test image the model proposes points the way
``python -m engine propose`` does (engine.counting.propose.propose_points, no confirmed points yet), the proposals are
matched one-to-one to the true points within the cancel radius (engine.metrics.match_points), and:

    deletes  = proposals matched to no true point (false positives: one click each to remove)
    adds     = true points matched to no proposal (false negatives: one click each to place)
    clicks   = deletes + adds            versus   from scratch = one click per true point

A proposal farther than the radius from its object counts as one delete and one add (a drag would do, so this
slightly overstates the fixing cost). Prints per-image lines, localisation precision/recall/F1 at that radius
and the totals with the ratio clicks / from-scratch, and the same totals for the density peaks alone (before
engine.counting.blob_split splits merged blobs).

``--confirmed F``: a random fraction F of each image's objects is confirmed first (clicked within 2 px of the
true point); the proposals must then cover only the others, and the figures are about those.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from train_real import prepare, run_engine

from engine.dataset import Dataset, read_image
from engine.metrics import LocalizationScore, localization_score


def trained_checkpoint(dataset_dir: Path, work: Path, minutes: float, threads: int) -> Path:
    """Train the default model on the dataset's train split (val picks the best epoch), as train_real does."""
    run_dir = work / f"run-default-{minutes:g}min-{int(time.time())}"
    run_engine(["train", str(dataset_dir), "--out", str(run_dir), "--minutes", str(minutes),
                "--threads", str(threads)])
    return run_dir / "best.pt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="a model trained on WORK/vgg's train split (default: train one for --minutes)")
    parser.add_argument("--work", type=Path, default=None,
                        help="holds (or receives) the imported vgg dataset and the training run")
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget without --checkpoint")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (training and proposing)")
    parser.add_argument("--confirmed", type=float, default=0.0,
                        help="fraction of each image's objects already confirmed (default 0)")
    args = parser.parse_args()

    import numpy as np
    import torch

    from engine.counting.infer import load_counter, model_stride, predict_density
    from engine.counting.localize import find_points
    from engine.counting.propose import cancel_radius, proposals_from_density

    torch.set_num_threads(args.threads)
    work = args.work or Path(tempfile.mkdtemp(prefix="crowdgui-proposals-"))
    work.mkdir(parents=True, exist_ok=True)
    dataset_dir = work / "vgg" if (work / "vgg").is_dir() else prepare("vgg", work)
    checkpoint = args.checkpoint or trained_checkpoint(dataset_dir, work, args.minutes, args.threads)
    model, record = load_counter(checkpoint, "cpu")
    summary = record.get("train_summary") or {}
    print(f"checkpoint {checkpoint}: {record.get('arch')} {record.get('model_config')}, trained on "
          f"{summary.get('dataset')} ({summary.get('train_images')} train images, {summary.get('seconds')} s)")

    dataset = Dataset(dataset_dir)
    test = dataset.images_in("test")
    stride = model_stride(model, record)
    radius = cancel_radius(record, stride)
    rng = np.random.default_rng(0)
    total, peaks_only, clicks, scratch, seconds = LocalizationScore(), LocalizationScore(), 0, 0, 0.0
    print(f"{'image':<12} {'true':>5} {'conf.':>5} {'count':>7} {'proposed':>8} {'deletes':>7} {'adds':>5} "
          f"{'clicks':>6}")
    for name in test:
        truth = dataset.load_points(name)
        chosen = rng.random(len(truth)) < args.confirmed
        confirmed = truth[chosen] + rng.uniform(-2, 2, size=(int(chosen.sum()), 2))
        missing = truth[~chosen]
        image = read_image(dataset.entry(name).path)
        started = time.perf_counter()
        density = predict_density(model, record, image)
        proposal = proposals_from_density(density, stride, (image.shape[1], image.shape[0]), confirmed, radius)
        seconds += time.perf_counter() - started
        score = localization_score(proposal.points, missing, radius)
        total += score
        peaks = find_points(density, stride, image_size=(image.shape[1], image.shape[0]))
        peaks_only += localization_score(peaks, truth, radius) if not args.confirmed else LocalizationScore()
        clicks += score.fp + score.fn
        scratch += len(missing)
        print(f"{name:<12} {len(truth):5d} {len(confirmed):5d} {proposal.count:7.1f} {len(proposal.points):8d} "
              f"{score.fp:7d} {score.fn:5d} {score.fp + score.fn:6d}")
    print(f"\n{len(test)} test images, radius {radius:g} px (max(2 x sigma, stride)), "
          f"{seconds / max(1, len(test)):.2f} s per image to propose; {args.confirmed:.0%} confirmed beforehand")
    print(f"localisation: precision {total.precision:.3f}  recall {total.recall:.3f}  F1 {total.f1:.3f}  "
          f"(TP {total.tp}, FP {total.fp}, FN {total.fn})")
    print(f"clicks to fix the proposals: {clicks} ({total.fp} deletes + {total.fn} adds) versus {scratch} from "
          f"scratch: ratio {clicks / scratch:.3f} ({scratch / max(1, clicks):.1f}x fewer)")
    if not args.confirmed:
        print(f"density peaks alone (no blob splitting): precision {peaks_only.precision:.3f}  recall "
              f"{peaks_only.recall:.3f}  F1 {peaks_only.f1:.3f}, clicks {peaks_only.fp + peaks_only.fn}")


if __name__ == "__main__":
    main()
