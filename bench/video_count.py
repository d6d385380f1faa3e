"""Benchmark: counting a video - pipeline throughput vs the bare model, and frames vs the same frames as images.

A video is made from real pictures when they are there: a 256x256 window panning over a 2x2 mosaic of VGG
cell images (``--data``), ``--frames`` frames, H.264 in mp4 (as a phone or camera would record). Then:

1. Throughput, alternately (so machine load hits both alike), best of ``--repeats``:
   - bare model: the frames decoded beforehand, only the forward passes (same batches, same mirrored
     margin as counting uses) are timed;
   - pipeline: ``engine.counting.video.count_video`` on the file - decoding in its background thread,
     batching, forward passes, the CSV table - everything a ``python -m engine count VIDEO`` does.
   The goal is pipeline / bare >= 0.9.
2. Agreement: the same frames saved as PNG images and counted with ``count_images``; the largest difference
   per frame from the video's own count (the goal: within 1 object).

    python bench/video_count.py --checkpoint RUN/best.pt
    python bench/video_count.py --quick          # an untrained FCRN-A width 8: checks the script works
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

VGG = Path(__file__).resolve().parent.parent.parent.parent / "shared" / "data" / "vgg_cells_train"


def panning_frames(data: Path, frames: int) -> list[np.ndarray]:
    """``frames`` 256x256 RGB windows panning over a mosaic of four pictures (synthetic cells without data)."""
    from PIL import Image

    pictures = sorted(data.glob("*cell.png"))[:4] if data.is_dir() else []
    if len(pictures) == 4:
        tiles = [np.asarray(Image.open(p).convert("RGB")) for p in pictures]
    else:
        from engine.dataset.synthetic import synthetic_cells

        tiles = [synthetic_cells(256, 256, 60 + 20 * i, seed=i)[0] for i in range(4)]
    mosaic = np.concatenate([np.concatenate(tiles[:2], axis=1), np.concatenate(tiles[2:], axis=1)], axis=0)
    steps = np.linspace(0, mosaic.shape[0] - 256, frames).round().astype(int)
    return [np.ascontiguousarray(mosaic[s:s + 256, s:s + 256]) for s in steps]


def write_mp4(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    import av

    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
    for picture in frames:
        for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def decoded_frames(video: Path) -> list[np.ndarray]:
    from engine.dataset.video import VideoReader

    with VideoReader(video) as reader:
        return [frame.image for frame in reader.frames()]


def bare_seconds(model, record, frames: list[np.ndarray], batch: int) -> float:
    import torch

    from engine.counting.infer import forward, input_alignment, model_device, network_input
    from engine.models.contract import context_margin, with_context

    align, device = input_alignment(model, record), model_device(model)
    margin = context_margin(align)
    inputs = [with_context(f, margin, align) for f in frames]
    shape = inputs[0].shape[:2]
    with torch.inference_mode():
        batches = [network_input(inputs[i:i + batch], record, shape, device) for i in range(0, len(inputs), batch)]
    started = time.perf_counter()
    for tensor in batches:
        forward(model, record, tensor)
    return time.perf_counter() - started


def pipeline_seconds(model, record, video: Path, out: Path, batch: int) -> float:
    from engine.counting.video import count_video

    started = time.perf_counter()
    count_video(video, (model, record), out, batch_size=batch)
    return time.perf_counter() - started


def agreement(model, record, video: Path, work: Path, batch: int) -> tuple[float, float]:
    """(largest |video count - image count| over frames, mean count)."""
    from PIL import Image

    from engine.counting.infer import count_images

    folder = work / "frames"
    folder.mkdir(exist_ok=True)
    paths = []
    for index, picture in enumerate(decoded_frames(video)):
        paths.append(folder / f"f{index:04d}.png")
        Image.fromarray(picture).save(paths[-1])
    by_image = np.array([r.count for r in count_images(paths, (model, record), batch_size=batch)])
    with open(work / "video.csv", newline="") as handle:
        by_video = np.array([float(row["count"]) for row in csv.DictReader(handle)])
    return float(np.abs(by_video - by_image).max()), float(by_image.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="a trained model (default: untrained FCRN-A width 8)")
    parser.add_argument("--data", type=Path, default=VGG, help="folder of *cell.png pictures for the video")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10 frames, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.repeats = 10, 1
    import torch

    from engine.counting.infer import load_counter

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        checkpoint = args.checkpoint
        if checkpoint is None:
            from count_speed import make_checkpoint

            checkpoint = make_checkpoint(work, "fcrn_a", 8)
        model, record = load_counter(checkpoint, "cpu")
        video = write_mp4(work / "pan.mp4", panning_frames(args.data, args.frames))
        frames = decoded_frames(video)
        bare_seconds(model, record, frames[:args.batch], args.batch)  # warm-up
        bare, pipeline = [], []
        for _ in range(args.repeats):
            bare.append(bare_seconds(model, record, frames, args.batch))
            pipeline.append(pipeline_seconds(model, record, video, work / "video.csv", args.batch))
        worst, mean = agreement(model, record, video, work, args.batch)
        bare_fps, pipeline_fps = len(frames) / min(bare), len(frames) / min(pipeline)
        print(f"model {record.get('arch')} ({torch.get_num_threads()} threads); {len(frames)} frames of "
              f"{frames[0].shape[1]}x{frames[0].shape[0]} (H.264 mp4); batch {args.batch}; best of {args.repeats}")
        print(f"bare model   {bare_fps:8.2f} frames/s")
        print(f"pipeline     {pipeline_fps:8.2f} frames/s   ({pipeline_fps / bare_fps:.0%} of the bare model)")
        print(f"video vs the same frames as PNG images: largest difference {worst:.4f} objects "
              f"(mean count {mean:.1f})")


if __name__ == "__main__":
    main()
