"""Speed of every architecture on this machine: training and counting images per second.

    python bench/models.py          # full: every model; 256x256 training crops; counting 256x256 and 1024x768
    python bench/models.py --quick  # a check that it runs: one timed repeat each, small batches

Training: Adam steps on batches of random 256x256 crops with the engine's loss, in the channels_last memory
layout training uses and, for comparison, in the default layout (the "cl gain" column: how much faster
channels_last trains).
Counting: what ``count`` runs for one whole image, ``engine.counting.infer.predict_density`` (mirrored margin,
normalisation, forward pass, copying the map back), on a 256x256 image (a VGG cells frame) and a 1024x768 image
(a ShanghaiTech B frame), in the layout counting uses on this device. Each figure is the median of the timed
repeats. Prints a table; numbers depend on what else the machine is doing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import numpy as np  # noqa: E402

from engine.counting.infer import predict_density, prefers_channels_last  # noqa: E402
from engine.models import get_model, list_models  # noqa: E402
from engine.models.contract import DEFAULT_DENSITY_SCALE, DEFAULT_NORMALIZATION  # noqa: E402
from engine.models.device import pick_device  # noqa: E402
from engine.training.loop import density_loss  # noqa: E402

# (name, config) pairs measured by default: every model at its default width, U-Net also narrower and wider.
DEFAULT_CASES = [("fcrn_a", {}), ("unet", {"width": 8}), ("unet", {}), ("unet", {"width": 32}), ("cmtl", {}),
                 ("csrnet", {}), ("csrnet", {"width": 32})]


def _timed(function, repeats: int) -> float:
    """Median seconds per call, after one untimed warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def training_speed(model, device, batch: int, crop: int, repeats: int, channels_last: bool = True) -> float:
    """Training images (crops) per second."""
    memory = torch.channels_last if channels_last else torch.contiguous_format
    model.train().to(device).to(memory_format=memory)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    images = torch.randn(batch, 3, crop, crop, device=device).contiguous(memory_format=memory)
    out_side = crop // type(model).stride
    targets = torch.rand(batch, 1, out_side, out_side, device=device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        density_loss(model(images), targets).backward()
        optimizer.step()
        _sync(device)

    return batch / _timed(step, repeats)


def counting_speed(model, device, height: int, width: int, repeats: int) -> float:
    """Whole images counted per second, as count_images counts one image on this device."""
    channels_last = prefers_channels_last(device)  # count_images' default layout
    model.eval().to(device).to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    record = {"normalization": DEFAULT_NORMALIZATION, "density_scale": DEFAULT_DENSITY_SCALE}
    image = (np.random.default_rng(0).random((height, width, 3)) * 255).astype(np.uint8)

    def count():
        predict_density(model, record, image, channels_last=channels_last)

    return 1.0 / _timed(count, repeats)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one repeat, batch 2, a check that it runs")
    parser.add_argument("--models", nargs="*", help=f"only these ({', '.join(list_models())})")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, mps or auto")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--batch", type=int, default=8, help="training batch (default 8)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    repeats, batch = (1, 2) if args.quick else (5, args.batch)
    cases = [case for case in DEFAULT_CASES if not args.models or case[0] in args.models]
    print(f"device {device}, {torch.get_num_threads()} CPU threads, torch {torch.__version__}, "
          f"training batch {batch} of 256x256 crops, {repeats} timed repeat(s)")
    header = (f"{'model':<16}{'params':>9}{'train img/s':>13}{'cl gain':>9}{'count 256² /s':>15}"
              f"{'count 1024x768 /s':>19}")
    print(header)
    print("-" * len(header))
    for name, config in cases:
        model = get_model(name, **config)
        label = name + (f" w{config['width']}" if "width" in config else "")
        params = sum(p.numel() for p in model.parameters()) / 1e6
        train = training_speed(model, device, batch, 256, repeats)
        plain = training_speed(model, device, batch, 256, repeats, channels_last=False)
        small = counting_speed(model, device, 256, 256, repeats)
        large = counting_speed(model, device, 768, 1024, max(1, repeats // 2))
        print(f"{label:<16}{params:>8.2f}M{train:>13.2f}{train / plain:>8.2f}x{small:>15.2f}{large:>19.2f}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
