"""Benchmark: engine.density.density_map against the CSRNet-notebook method.

The reference (only here, never in the engine) is the way the CSRNet tutorial notebook builds ground truth:
for each point a delta image, ``scipy.ndimage.gaussian_filter(delta, sigma, mode='constant')`` over the whole
image, summed into a float32 map; adaptive sigma is 0.1 x the sum of the distances to the 3 nearest
neighbours (= beta 0.3 x their mean), a lone point gets a quarter of the mean image side.

Both methods run on the same random points, alternately (side by side, so machine load hits both alike); the
median of the repeats is printed with the ratio and each method's count error |sum - N| / N. Points are
uniform over the whole image, so many lie near the border, where the reference loses mass and ours does not.

    python bench/density.py            # 1024x768, 1000 points (the reference takes ~20-30 s per repeat)
    python bench/density.py --quick    # 320x240, 100 points, to check the script works
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# Run as a script from a clone (python bench/density.py): the engine is found without installing it;
# engine imports are therefore inside the functions, after this line.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def reference_density(points: np.ndarray, shape: tuple[int, int], sigma: float | None) -> np.ndarray:
    """The CSRNet-notebook method; ``sigma=None`` means its geometry-adaptive sigma."""
    from scipy.ndimage import gaussian_filter
    from scipy.spatial import KDTree

    density = np.zeros(shape, dtype=np.float32)
    if not len(points):
        return density
    if sigma is None:
        distances, _ = KDTree(points.copy(), leafsize=2048).query(points, k=4)
    for index, (x, y) in enumerate(points):
        delta = np.zeros(shape, dtype=np.float32)
        delta[int(y), int(x)] = 1.0
        if sigma is not None:
            point_sigma = sigma
        elif len(points) > 1:
            point_sigma = float(distances[index][1:4].sum()) * 0.1
        else:
            point_sigma = float(np.mean(shape)) / 4.0
        density += gaussian_filter(delta, point_sigma, mode="constant")
    return density


def _timed(function) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def _count_error(density: np.ndarray, count: int) -> float:
    return abs(float(density.sum(dtype=np.float64)) - count) / max(count, 1)


def side_by_side(points, shape, settings, repeats: int) -> dict:
    """Median times and count errors of ours and the reference, run alternately."""
    from engine.density import density_map

    reference_sigma = settings.sigma if settings.mode == "fixed" else None
    density_map(points, shape, settings)  # warm-up: imports and first calls are not what we measure
    ours, theirs = [], []
    for _ in range(repeats):
        seconds, our_map = _timed(lambda: density_map(points, shape, settings))
        ours.append(seconds)
        seconds, their_map = _timed(lambda: reference_density(points, shape, reference_sigma))
        theirs.append(seconds)
    return {"ours": statistics.median(ours), "reference": statistics.median(theirs),
            "ours_error": _count_error(our_map, len(points)),
            "reference_error": _count_error(their_map, len(points))}


def ours_only(points, shape, settings, repeats: int, stride: int = 1) -> dict:
    from engine.density import density_map

    density_map(points, shape, settings, stride)
    times, result = [], None
    for _ in range(repeats):
        seconds, result = _timed(lambda: density_map(points, shape, settings, stride))
        times.append(seconds)
    return {"ours": statistics.median(times), "ours_error": _count_error(result, len(points))}


def _points(count: int, height: int, width: int, rng) -> np.ndarray:
    return np.column_stack([rng.uniform(0, width, count), rng.uniform(0, height, count)])


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:10.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small image and few points: checks the script")
    parser.add_argument("--size", default=None, help="WIDTHxHEIGHT (default 1024x768, quick 320x240)")
    parser.add_argument("--points", type=int, default=None, help="points for the side-by-side runs (1000)")
    parser.add_argument("--many", type=int, default=None, help="points for the ours-only runs (10000)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per measurement; the median is shown")
    parser.add_argument("--sigma", type=float, default=4.0, help="fixed sigma in pixels (4)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from engine.density import DensitySettings

    width, height = map(int, (args.size or ("320x240" if args.quick else "1024x768")).lower().split("x"))
    count = args.points or (100 if args.quick else 1000)
    many = args.many or (1000 if args.quick else 10000)
    shape = (height, width)
    rng = np.random.default_rng(args.seed)
    fixed = DensitySettings(mode="fixed", sigma=args.sigma)
    adaptive = DensitySettings(mode="adaptive", sigma=args.sigma, beta=0.3, k=3)

    print(f"density_map vs CSRNet-notebook reference: {width}x{height}, median of {args.repeats} repeats")
    print(f"{'case':42s} {'ours':>13s} {'reference':>13s} {'ratio':>9s}  {'sum error ours / ref':>22s}")
    points = _points(count, height, width, rng)
    for label, settings in ((f"fixed sigma {args.sigma:g}, {count} points", fixed),
                            (f"adaptive (beta 0.3, k 3), {count} points", adaptive)):
        row = side_by_side(points, shape, settings, args.repeats)
        print(f"{label:42s} {_ms(row['ours'])} {_ms(row['reference'])} {row['reference'] / row['ours']:8.0f}x"
              f"  {row['ours_error']:10.1e} / {row['reference_error']:8.1e}")

    many_points = _points(many, height, width, rng)
    for label, settings, stride in ((f"fixed, {many} points", fixed, 1),
                                    (f"adaptive, {many} points", adaptive, 1),
                                    (f"fixed, {many} points, stride 8", fixed, 8)):
        row = ours_only(many_points, shape, settings, args.repeats, stride)
        print(f"{label:42s} {_ms(row['ours'])} {'-':>13s} {'':9s}  {row['ours_error']:10.1e}")

    crop = _points(100, 256, 256, rng)
    for label, settings in (("training crop 256x256, 100 points, stride 8", fixed),
                            ("same, adaptive", adaptive)):
        row = ours_only(crop, (256, 256), settings, max(args.repeats, 20), 8)
        print(f"{label:42s} {_ms(row['ours'])} {'-':>13s} {'':9s}  {row['ours_error']:10.1e}")
    if args.quick:
        print("(quick mode: a small image makes the reference cheaper per point, so the ratio is lower "
              "than at 1024x768)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
