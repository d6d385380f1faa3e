"""Benchmark: end-to-end `count` on a folder, where its time goes, the bare model vs the pipeline, tiled memory.

0. End to end. ``python -m engine count FOLDER --checkpoint CK --out counts.csv`` (and with ``--density-dir``)
   run as a user runs it, ``--repeats`` times: seconds per image (wall time of the whole command / images,
   median), the part of it that is startup (import, checkpoint load) rather than counting, and the command's
   CPU time per image (user + system; on a shared machine it moves far less than the wall time). Then one
   image at a time, each stage timed: decode, mirrored margin, network input, model, cropping, writing the map.
   And the model with its batch norms folded (what counting loads, engine/counting/folded.py) against the
   plain eval-mode model, alternately, in the same pipeline.
1. Throughput. The same images are counted two ways, alternately (so machine load hits both alike):
   - bare model: images decoded and normalised beforehand, only the forward passes are timed;
   - pipeline: ``engine.counting.infer.count_images`` on the files - decoding (in its background thread), moving the
     pixels to the device and normalising there, batching, forward passes and cropping all included.
   The ratio pipeline / bare shows what decoding costs once it overlaps the model (the goal is >= 90 %).
   The best of ``--repeats`` runs is kept for each (the least disturbed by other work on the machine).
2. Memory. A fresh child process counts one huge image (8000x6000 by default) with tiling and reports its peak
   resident memory (getrusage) next to what it held before counting (torch and the model loaded).

    python bench/count_speed.py                      # 8 generated 1024x768 JPEGs, the default model (U-Net), 8000x6000
    python bench/count_speed.py --folder DIR --checkpoint best.pt
    python bench/count_speed.py --quick              # small and fast: checks the script works
    python bench/count_speed.py --folder DIR --checkpoint best.pt --images 20 --skip-memory
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# Run as a script from a clone: the engine is found without installing it (engine imports come after this).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def make_checkpoint(folder: Path, arch: str, width: int) -> Path:
    """An untrained model saved as a real checkpoint (speed and memory do not depend on the weights)."""
    import torch

    from engine.models.checkpoint import save_checkpoint
    from engine.models import get_model
    from engine.models.contract import DEFAULT_DENSITY_SCALE, DEFAULT_NORMALIZATION

    torch.manual_seed(0)
    model = get_model(arch) if width is None else get_model(arch, width=width)
    return save_checkpoint(folder / f"{arch}_w{width or 'default'}.pt", {
        "arch": arch, "model_config": model.config, "stride": model.stride,
        "input_multiple": model.input_multiple, "normalization": DEFAULT_NORMALIZATION,
        "density_scale": DEFAULT_DENSITY_SCALE, "state_dict": model.state_dict(),
    })


def make_images(folder: Path, count: int, size: tuple[int, int]) -> list[Path]:
    """Synthetic cell pictures saved as JPEG (photos are usually JPEG, and JPEG decoding is the usual cost)."""
    from PIL import Image

    from engine.dataset.synthetic import synthetic_cells

    width, height = size
    paths = []
    for index in range(count):
        image, _ = synthetic_cells(height, width, count=300, seed=index)
        path = folder / f"bench_{index:03d}.jpg"
        Image.fromarray(image).save(path, quality=90)
        paths.append(path)
    return paths


def bare_model_seconds(model, record, paths: list[Path], batch: int, max_pixels: int) -> float:
    """Forward passes only, on input batches already normalised on the device, grouped as count_images
    groups them (same padded size, at most ``batch`` images and ``max_pixels`` pixels), each image inside the
    same mirrored margin (engine.models.contract.with_context): the model's work is exactly the pipeline's."""
    import torch

    from engine.dataset import read_image
    from engine.counting.infer import forward, input_alignment, model_device, network_input, prefers_channels_last
    from engine.models.contract import context_margin, with_context

    align, device = input_alignment(model, record), model_device(model)
    margin = context_margin(align)
    groups: list[tuple[tuple[int, int], list[np.ndarray]]] = []
    for path in paths:
        image = with_context(read_image(path), margin, align)
        shape = image.shape[:2]  # already the network input size
        per_pass = max(1, min(batch, max_pixels // (shape[0] * shape[1])))
        if groups and groups[-1][0] == shape and len(groups[-1][1]) < per_pass:
            groups[-1][1].append(image)
        else:
            groups.append((shape, [image]))
    # The same memory layout as count_images on this device (channels_last on the CPU and CUDA).
    channels_last = prefers_channels_last(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    with torch.inference_mode():
        batches = [network_input(images, record, shape, device, channels_last) for shape, images in groups]
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for inputs in batches:
        forward(model, record, inputs)  # includes copying the result back, as counting must
    return time.perf_counter() - started


def pipeline_seconds(model, record, paths: list[Path], batch: int, max_pixels: int) -> float:
    from engine.counting.infer import count_images

    started = time.perf_counter()
    results = list(count_images(paths, (model, record), batch_size=batch, max_pixels=max_pixels))
    elapsed = time.perf_counter() - started
    failed = [r for r in results if not r.ok]
    if failed:
        raise SystemExit(f"{len(failed)} image(s) failed: {failed[0].path.name}: {failed[0].error}")
    return elapsed


def decode_seconds(paths: list[Path]) -> float:
    from engine.dataset import read_image

    started = time.perf_counter()
    for path in paths:
        read_image(path)
    return time.perf_counter() - started


def throughput(args, checkpoint: Path, paths: list[Path]) -> None:
    import torch

    from engine.models.device import pick_device
    from engine.counting.infer import load_counter

    model, record = load_counter(checkpoint, pick_device(args.device))
    # Warm-up, untimed: the first pass of each batch shape pays for kernel selection and allocations.
    bare_model_seconds(model, record, paths, args.batch, args.max_pixels)
    pipeline_seconds(model, record, paths, args.batch, args.max_pixels)
    bare, piped = [], []
    for repeat in range(args.repeats):  # alternate which goes first, so neither always follows the other
        for which in ((0, 1) if repeat % 2 == 0 else (1, 0)):
            if which == 0:
                bare.append(bare_model_seconds(model, record, paths, args.batch, args.max_pixels))
            else:
                piped.append(pipeline_seconds(model, record, paths, args.batch, args.max_pixels))
    bare_s, piped_s = min(bare), min(piped)
    count = len(paths)
    decode_s = decode_seconds(paths)
    print(f"model {record['arch']} {record.get('model_config')} on {pick_device(args.device)} "
          f"({torch.get_num_threads()} threads); {count} images; batch {args.batch}; best of {args.repeats}")
    print(f"  decoding alone {decode_s / count * 1000:.1f} ms/image (done in the background thread)")
    print(f"  bare model   {count / bare_s:8.2f} images/s   ({bare_s / count * 1000:7.1f} ms/image)")
    print(f"  count_images {count / piped_s:8.2f} images/s   ({piped_s / count * 1000:7.1f} ms/image)")
    print(f"  ratio        {bare_s / piped_s:8.1%} of the bare model's throughput")


def end_to_end(args, checkpoint: Path, paths: list[Path], scratch: Path) -> None:
    """The count command on a folder holding exactly ``paths``, as a fresh process each time."""
    import os
    import statistics

    folder = scratch / "e2e"
    folder.mkdir(exist_ok=True)
    for path in paths:
        link = folder / path.name
        if not link.exists():
            link.symlink_to(path.resolve())
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for label, extra in (("count", []), ("count --density-dir", ["--density-dir", str(scratch / "maps")])):
        walls, counting, cpu = [], [], []
        for _ in range(args.repeats):
            command = [sys.executable, "-m", "engine", "count", str(folder), "--checkpoint", str(checkpoint),
                       "--out", str(scratch / "counts.csv"), "--device", args.device, "--events", "jsonl", *extra]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            completed = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
            walls.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            # The child's CPU time (user + system): unlike its wall time, barely moved by other work on the machine.
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            if completed.returncode != 0:
                raise SystemExit(f"count failed:\n{completed.stderr[-2000:]}")
            done = [json.loads(line) for line in completed.stdout.splitlines() if '"type": "done"' in line][-1]
            counting.append(done["seconds"])
        wall, inside = statistics.median(walls), statistics.median(counting)
        print(f"  {label:20s} {wall / len(paths):6.3f} s/image end to end (median of {args.repeats}: "
              f"{wall:.1f} s for {len(paths)} images; startup and checkpoint {wall - inside:.1f} s, "
              f"counting {inside / len(paths):.3f} s/image); CPU time {statistics.median(cpu) / len(paths):.3f} "
              f"s/image")


def stage_breakdown(model, record, paths: list[Path], scratch: Path) -> None:
    """Median milliseconds per image of each stage of counting, run one after the other (no overlap)."""
    import statistics

    import torch

    from engine.counting.infer import forward, image_cells, input_alignment, model_device, network_input
    from engine.counting.outputs import save_density
    from engine.dataset import read_image
    from engine.models.contract import context_margin, with_context

    align, device = input_alignment(model, record), model_device(model)
    margin = context_margin(align)
    model = model.to(memory_format=torch.channels_last)
    stages: dict[str, list[float]] = {name: [] for name in
                                      ("decode", "margin", "input", "model", "crop", "write map")}
    for path in paths:
        marks = [time.perf_counter()]
        image = read_image(path)
        marks.append(time.perf_counter())
        padded = with_context(image, margin, align)
        marks.append(time.perf_counter())
        with torch.inference_mode():
            inputs = network_input([padded], record, padded.shape[:2], device, channels_last=True)
        marks.append(time.perf_counter())
        output = forward(model, record, inputs)[0]
        marks.append(time.perf_counter())
        density = image_cells(output, image.shape[0], image.shape[1], int(record.get("stride") or 1), margin)
        marks.append(time.perf_counter())
        save_density(scratch / "stage_maps", path.name, density)
        marks.append(time.perf_counter())
        for name, start, end in zip(stages, marks, marks[1:]):
            stages[name].append(end - start)
    total = sum(statistics.median(v) for v in stages.values())
    print("  stages, one image at a time (median ms/image, share):")
    for name, values in stages.items():
        median = statistics.median(values)
        print(f"    {name:10s} {median * 1000:8.1f} ms  {median / total:6.1%}")


def folded_vs_plain(args, checkpoint: Path, paths: list[Path]) -> None:
    """count_images with the folded model (what counting loads) and with the plain eval-mode model, alternately."""
    import statistics

    from engine.counting.folded import fold_batch_norms
    from engine.models.checkpoint import load_model
    from engine.models.device import pick_device

    plain, record = load_model(checkpoint, pick_device(args.device))
    plain.eval()
    models = {"plain": plain, "folded": fold_batch_norms(plain)}
    times: dict[str, list[float]] = {name: [] for name in models}
    counts: dict[str, list[float]] = {}
    for repeat in range(args.repeats + 1):  # the first round warms up, untimed
        for name in (("plain", "folded") if repeat % 2 == 0 else ("folded", "plain")):
            seconds = pipeline_seconds(models[name], record, paths, args.batch, args.max_pixels)
            if repeat:
                times[name].append(seconds / len(paths))
            if name not in counts:
                from engine.counting.infer import count_images
                counts[name] = [r.count for r in count_images(paths, (models[name], record),
                                                              batch_size=args.batch, max_pixels=args.max_pixels)]
    plain_s, folded_s = statistics.median(times["plain"]), statistics.median(times["folded"])
    worst = max(abs(a - b) / max(abs(a), 1e-9) for a, b in zip(counts["plain"], counts["folded"]))
    print(f"  count_images, plain eval model {plain_s:.3f} s/image, batch norms folded {folded_s:.3f} s/image "
          f"(ratio {folded_s / plain_s:.2f}, medians of {args.repeats} alternated runs); "
          f"largest relative count difference {worst:.1e}")


def memory(args, checkpoint: Path, folder: Path) -> None:
    from PIL import Image

    width, height = args.memory_size
    rng = np.random.default_rng(0)
    small = (rng.random((height // 16, width // 16, 3)) * 255).astype(np.uint8)
    path = folder / f"huge_{width}x{height}.jpg"
    Image.fromarray(small).resize((width, height), Image.BILINEAR).save(path, quality=90)
    # A fresh interpreter: getrusage's peak then belongs to this one count alone (and no fork after torch).
    command = [sys.executable, str(Path(__file__).resolve()), "--memory-child", str(path),
               "--checkpoint", str(checkpoint), "--device", args.device, "--max-pixels", str(args.max_pixels),
               "--batch", str(args.batch)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"memory child failed:\n{completed.stderr}")
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    image_mb = width * height * 3 / 2**20
    print(f"memory on one {width}x{height} image ({image_mb:.0f} MB as uint8 RGB; the float32 network input alone "
          f"would be {image_mb * 4:.0f} MB):")
    print(f"  before counting {report['before_mb']:8.0f} MB resident (Python, torch, the model)")
    print(f"  peak            {report['peak_mb']:8.0f} MB resident  (+{report['peak_mb'] - report['before_mb']:.0f} MB"
          f" for decoding, {report['tiles']} tiles of <= {args.max_pixels} px, the density map)")
    print(f"  time            {report['seconds']:8.1f} s  ({width * height / 1e6 / report['seconds']:.2f} Mpx/s), "
          f"count {report['count']:.1f}")


def memory_child(args) -> None:
    from engine.dataset import image_size
    from engine.models.device import pick_device
    from engine.counting.infer import count_images, input_alignment, load_counter, receptive_margin
    from engine.counting.tiles import plan_tiles

    model, record = load_counter(args.checkpoint, pick_device(args.device))
    margin = receptive_margin(model, record)  # measured on a small probe, before the baseline
    before = _peak_mb()
    width, height = image_size(args.memory_child)
    tiles = plan_tiles(height, width, args.max_pixels, margin, input_alignment(model, record))
    started = time.perf_counter()
    (result,) = count_images([args.memory_child], (model, record), batch_size=args.batch,
                             max_pixels=args.max_pixels)
    if not result.ok:
        raise SystemExit(result.error)
    print(json.dumps({"before_mb": before, "peak_mb": _peak_mb(), "tiles": len(tiles),
                      "seconds": time.perf_counter() - started, "count": result.count}))


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux, bytes on macOS
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def main() -> None:
    from engine.counting.tiles import DEFAULT_BATCH, DEFAULT_MAX_PIXELS
    from engine.training.config import DEFAULT_MODEL

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="a trained checkpoint (default: an untrained model)")
    parser.add_argument("--arch", default=DEFAULT_MODEL,
                        help=f"model to build when no checkpoint is given (default: the engine's, {DEFAULT_MODEL})")
    parser.add_argument("--width", type=int, default=None, help="its width (default: the model's)")
    parser.add_argument("--folder", type=Path, help="count these images instead of generated ones")
    parser.add_argument("--images", type=int, default=8, help="how many images (generated or from --folder)")
    parser.add_argument("--size", type=_size, default=(1024, 768), help="generated image size WxH")
    parser.add_argument("--memory-size", type=_size, default=(8000, 6000), help="the huge image for memory")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="4 small images, width 8, a 3000x2000 image")
    parser.add_argument("--skip-memory", action="store_true", help="skip the tiled-memory measurement")
    parser.add_argument("--memory-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args)
        return
    if args.quick:
        args.images, args.size, args.width, args.repeats = 4, (512, 384), 8, 2
        args.memory_size = (3000, 2000)
    with tempfile.TemporaryDirectory(prefix="count_speed_") as scratch:
        scratch = Path(scratch)
        checkpoint = args.checkpoint or make_checkpoint(scratch, args.arch, args.width)
        if args.folder:
            from engine.dataset import is_image_file

            paths = sorted(p for p in args.folder.iterdir() if is_image_file(p))[:args.images]
            if not paths:
                raise SystemExit(f"no images in {args.folder}")
        else:
            paths = make_images(scratch, args.images, args.size)
        print(f"end to end on {len(paths)} images of {paths[0].name}'s folder:")
        end_to_end(args, checkpoint, paths, scratch)
        from engine.counting.infer import load_counter
        stage_breakdown(*load_counter(checkpoint, args.device), paths, scratch)
        folded_vs_plain(args, checkpoint, paths)
        throughput(args, checkpoint, paths)
        if not args.skip_memory:
            memory(args, checkpoint, scratch)


if __name__ == "__main__":
    main()
