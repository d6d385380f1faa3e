"""The overlay video: every counted frame with its heatmap blended in and its count written in the corner.

Frames are drawn by engine.counting.overlays.render_overlay (the same picture the window and the PNG export
show) and encoded with PyAV: H.264 when the FFmpeg inside the wheel has it, MPEG-4 part 2 otherwise. The file
is written under a temporary name beside the target and renamed when complete, so a stopped count never
leaves a half-written video under the name the user asked for.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from engine.counting.overlays import render_overlay

# Containers by the target's suffix; FFmpeg's names.
_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}
_CODECS = ("libx264", "mpeg4")


def overlay_rate(fps: float | None, every: int) -> Fraction:
    """The overlay's frame rate: the source's, divided by how many frames each counted frame stands for."""
    source = Fraction(fps).limit_denominator(1001) if fps else Fraction(25)
    return source / max(1, every)


class OverlayVideoWriter:
    """Write overlay frames to ``path`` (``.mp4``, ``.mov``, ``.mkv`` or ``.avi``); :meth:`close` finishes it."""

    def __init__(self, path: Path | str, rate: Fraction, stride: int, opacity: float = 0.6):
        import av

        self.path = Path(path)
        container_format = _FORMATS.get(self.path.suffix.lower())
        if container_format is None:
            raise ValueError(f"{self.path.name}: the overlay video must end in one of {', '.join(_FORMATS)}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._temporary = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self._container = av.open(str(self._temporary), "w", format=container_format)
        self._rate, self._stride, self._opacity = rate, stride, opacity
        self._stream = None
        self._codecs = [name for name in _CODECS if _encoder_exists(av, name)]
        self.frames = 0

    def write(self, image: np.ndarray, density: np.ndarray, count: float) -> None:
        """Add one frame: ``image`` (H, W, 3) uint8, its density map at the model's stride, its count."""
        import av

        picture = np.asarray(render_overlay(image, density, count, stride=self._stride, opacity=self._opacity))
        # yuv420p needs even sides: repeat the last row or column rather than scale the picture.
        height, width = picture.shape[:2]
        picture = np.pad(picture, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        if self._stream is None:
            self._stream = self._container.add_stream(self._codecs[0], rate=self._rate)
            self._stream.width, self._stream.height = picture.shape[1], picture.shape[0]
            self._stream.pix_fmt = "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> Path | None:
        """Finish the file and put it in place; None (and nothing written) when no frame was added."""
        if self._stream is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
        self._container.close()
        if not self.frames:
            self._temporary.unlink(missing_ok=True)
            return None
        os.replace(self._temporary, self.path)
        return self.path

    def abandon(self) -> None:
        """Stop without a file: the temporary one is removed."""
        try:
            self._container.close()
        finally:
            self._temporary.unlink(missing_ok=True)


def _encoder_exists(av, name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except (av.error.FFmpegError, ValueError):
        return False
    return True
