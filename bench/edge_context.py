"""How wide a mirrored margin should counting put around an image? Same checkpoint, same images, side by side.

    python bench/edge_context.py --checkpoint RUN/best.pt --work DIR      # DIR/vgg as bench/train_real.py made it
    python bench/edge_context.py --checkpoint RUN/best.pt --work DIR --margins 0 8 16 32 64

Near an image's edge a convolution reads zeros unless the image is extended; engine.models.contract.with_context
extends it by mirroring (CONTEXT_PIXELS, rounded up to the model's alignment). For each margin this counts the
VGG test images (81-100) with the same checkpoint and prints MAE/RMSE, the localisation of the proposed points
(precision, recall, F1 at the proposal radius, as bench/proposals.py scores them), how many false positives lie
within --band pixels of the image edge, the clicks to correct the proposals (deletes + adds) and the time per
image. Margin 0 is counting as it was before the margin existed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from train_real import prepare

from engine.dataset import Dataset, read_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True, help="a model trained on WORK/vgg's train split")
    parser.add_argument("--work", type=Path, required=True, help="holds (or receives) the imported vgg dataset")
    parser.add_argument("--margins", type=int, nargs="+", default=[0, 16, 32], help="mirrored pixels to compare")
    parser.add_argument("--band", type=int, default=8, help="false positives this close to the edge are counted")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import numpy as np
    import torch

    from engine.models import contract as preprocess
    from engine.counting.infer import load_counter, model_stride, predict_density
    from engine.metrics import LocalizationScore, localization_score, match_points
    from engine.counting.propose import cancel_radius, proposals_from_density

    torch.set_num_threads(args.threads)
    dataset_dir = args.work / "vgg" if (args.work / "vgg").is_dir() else prepare("vgg", args.work)
    model, record = load_counter(args.checkpoint, "cpu")
    stride = model_stride(model, record)
    radius = cancel_radius(record, stride)
    dataset = Dataset(dataset_dir)
    names = dataset.images_in("test")
    images = {name: read_image(dataset.entry(name).path) for name in names}
    truths = {name: dataset.load_points(name) for name in names}
    print(f"checkpoint {args.checkpoint}, {len(names)} test images, proposal radius {radius:g} px")

    for margin in args.margins:
        preprocess.CONTEXT_PIXELS = margin
        errors, score, edge_fp, seconds = [], LocalizationScore(), 0, 0.0
        for name in names:
            image, truth = images[name], truths[name]
            height, width = image.shape[:2]
            started = time.perf_counter()
            density = predict_density(model, record, image)
            seconds += time.perf_counter() - started
            errors.append(float(density.sum(dtype=np.float64)) - len(truth))
            points = proposals_from_density(density, stride, (width, height), None, radius).points
            score += localization_score(points, truth, radius)
            matched, _ = match_points(points, truth, radius)
            false = np.ones(len(points), dtype=bool)
            false[matched] = False
            x, y = points[:, 0], points[:, 1]
            near = (x < args.band) | (y < args.band) | (x >= width - args.band) | (y >= height - args.band)
            edge_fp += int((false & near).sum())
        errors = np.array(errors)
        print(f"margin {margin:3d} px: MAE {np.abs(errors).mean():.2f}  RMSE {np.sqrt((errors ** 2).mean()):.2f} | "
              f"P {score.precision:.3f} R {score.recall:.3f} F1 {score.f1:.3f} | false positives {score.fp} "
              f"({edge_fp} within {args.band} px of the edge), misses {score.fn}, clicks {score.fp + score.fn} | "
              f"{seconds / len(names) * 1000:.0f} ms/image", flush=True)


if __name__ == "__main__":
    main()
