"""Test helpers for video: small synthetic videos written with PyAV, with a known number of red pixels per
frame (counted exactly by count_fixtures.RedCounter), and damaged variants of them."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from count_fixtures import red_pixel_image, spread_pixels

WIDTH, HEIGHT = 64, 48


def frame_counts(frames: int) -> list[int]:
    """How many objects frame i shows: 1 to 8, changing over time."""
    return [1 + (3 * i) % 8 for i in range(frames)]


def frame_picture(count: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    return red_pixel_image(spread_pixels(count, width, height), width, height)


def write_video(path: Path, counts: list[int], codec: str = "libx264", fps: int = 10, times_ms=None,
                pix_fmt: str = "yuv420p", options: dict | None = None) -> Path:
    """A video whose frame i shows ``counts[i]`` red pixels; ``times_ms`` sets each frame's time (for a
    variable frame rate)."""
    container = av.open(str(path), "w")
    stream = container.add_stream(codec, rate=fps, options=options or {})
    stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, pix_fmt
    if times_ms is not None:
        stream.codec_context.time_base = Fraction(1, 1000)
    for index, count in enumerate(counts):
        frame = av.VideoFrame.from_ndarray(frame_picture(count), format="rgb24")
        if times_ms is not None:
            frame.pts, frame.time_base = times_ms[index], Fraction(1, 1000)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def lossless_video(path: Path, counts: list[int], fps: int = 10) -> Path:
    """FFV1 in Matroska with RGB pixels: frames decode to exactly the pictures written."""
    return write_video(path, counts, codec="ffv1", fps=fps, pix_fmt="bgr0")


def noisy_video(path: Path, frames: int = 30) -> Path:
    """Every frame a keyframe of random noise, so cutting the file in half cuts it between frames."""
    rng = np.random.default_rng(0)
    container = av.open(str(path), "w")
    stream = container.add_stream("mpeg4", rate=10)
    stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    stream.codec_context.gop_size = 1
    for _ in range(frames):
        picture = rng.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def truncated_copy(source: Path, target: Path, fraction: float = 0.5) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[:int(len(data) * fraction)])
    return target


def unknown_codec_video(path: Path) -> Path:
    """An AVI whose codec tag FFmpeg does not know (an MPEG-4 file with its FourCC replaced)."""
    source = write_video(path.with_name("source.avi"), [1, 2, 3], codec="mpeg4")
    path.write_bytes(source.read_bytes().replace(b"FMP4", b"QQQQ"))
    return path


def audio_only_file(path: Path) -> Path:
    container = av.open(str(path), "w")
    stream = container.add_stream("aac", rate=8000)
    frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
    frame.sample_rate = 8000
    for packet in stream.encode(frame):
        container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path
