"""Video files as frames: what a video holds, and its frames streamed one by one with their index and time.

Decoding goes through PyAV (``av``: FFmpeg inside the wheel), so mp4, avi, mov and mkv with any codec FFmpeg
knows are read without a system FFmpeg. Frames come out as (H, W, 3) uint8 RGB arrays, like
:func:`engine.dataset.images.read_image`, so a frame is counted exactly as the same picture saved as an image.

``index`` is the frame's position among the video's frames (0 = first), ``time_s`` its presentation time in
seconds from the start of the stream (from the frame's own timestamp, so it is right for variable frame rates
too). Problems come out as :class:`VideoError` with a plain-words message: a file that is not a video, one
without a video stream, a codec FFmpeg cannot decode. A video that stops before the frames its header promises
(a truncated download) or whose frames fail to decode half-way raises :class:`VideoTruncated` after the frames
that could be read were yielded, so a caller keeps what it counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

VIDEO_SUFFIXES = (".mp4", ".m4v", ".avi", ".mov", ".mkv", ".webm")
# Frame-to-frame time steps that differ by more than this fraction of the typical step mean the frame rate
# varies (phones record that way); one odd step at a cut is not enough, see VideoReader._watch_rate.
_RATE_TOLERANCE = 0.25
_ODD_STEPS_FOR_VARIABLE = 2
_STEPS_FOR_TYPICAL = 50


class VideoError(Exception):
    """A video that cannot be read at all; the message says why in plain words."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{Path(path).name}: {reason}")
        self.path = Path(path)
        self.reason = reason


class VideoTruncated(VideoError):
    """The video stopped early; ``frames_read`` frames were read (and yielded) before it did."""

    def __init__(self, path: Path | str, reason: str, frames_read: int):
        super().__init__(path, reason)
        self.frames_read = frames_read


@dataclass
class VideoInfo:
    """What a video's header says (``frames`` is None when the container does not tell)."""

    path: Path
    width: int
    height: int
    fps: float | None  # the average rate; None when unknown
    frames: int | None
    duration_s: float | None
    codec: str

    def to_dict(self) -> dict:
        return {"video": self.path.name, "width": self.width, "height": self.height, "fps": self.fps,
                "frames": self.frames, "duration_s": self.duration_s, "codec": self.codec}


@dataclass
class VideoFrame:
    index: int
    time_s: float
    image: np.ndarray  # (H, W, 3) uint8 RGB


@dataclass
class FrameChoice:
    """Which frames to take: every ``every``-th (from 0), or ``count`` evenly spaced over the video."""

    every: int = 1
    count: int | None = None
    _wanted: set[int] | None = field(default=None, repr=False)

    def prepare(self, total: int | None, path: Path) -> None:
        if self.count is not None:
            if not total:
                raise VideoError(path, "the video does not say how many frames it has, so frames cannot be "
                                       "spread evenly; use --every N instead")
            self._wanted = set(evenly_spaced(total, self.count))

    def takes(self, index: int) -> bool:
        if self._wanted is not None:
            return index in self._wanted
        return index % self.every == 0


def frame_name(video: Path | str, index: int) -> str:
    """How frame ``index`` of ``video`` is named in density maps and extracted images: ``street_f000120``."""
    return f"{Path(video).stem}_f{index:06d}"


def is_video_file(path: Path | str) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def evenly_spaced(total: int, count: int) -> list[int]:
    """``count`` frame indices spread evenly over ``total`` frames, first and last included (fewer when
    the video has fewer frames)."""
    if total < 1 or count < 1:
        return []
    if count >= total:
        return list(range(total))
    if count == 1:
        return [0]
    return sorted({round(i * (total - 1) / (count - 1)) for i in range(count)})


class VideoReader:
    """An open video: ``info``, then ``frames()`` streams them; ``notes`` collects remarks (variable rate).

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: Path | str):
        import av

        self.path = Path(path)
        self.notes: list[str] = []
        if not self.path.is_file():
            raise VideoError(self.path, "no such file" if not self.path.exists() else "not a regular file")
        try:
            self._container = av.open(str(self.path))
        except av.error.FFmpegError as exc:
            raise VideoError(self.path, f"cannot be opened as a video ({_ffmpeg_reason(exc)}); the file may be "
                                        "truncated or not a video") from None
        try:
            self._stream = self._video_stream()
            self.info = self._describe()
        except VideoError:
            self._container.close()
            raise

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def _video_stream(self):
        streams = self._container.streams.video
        if not streams:
            kinds = sorted({s.type for s in self._container.streams}) or ["nothing"]
            raise VideoError(self.path, f"has no video stream (it holds {', '.join(kinds)})")
        stream = streams[0]
        if stream.codec_context is None:
            raise VideoError(self.path, "its video codec is unknown to FFmpeg, so its frames cannot be decoded "
                                        "(convert it, e.g. to H.264 mp4)")
        stream.thread_type = "AUTO"  # frame and slice threads: decoding keeps up with the model
        return stream

    def _describe(self) -> VideoInfo:
        stream = self._stream
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else None
        duration = None
        if stream.duration is not None and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif self._container.duration:
            duration = self._container.duration / 1_000_000  # AV_TIME_BASE
        frames = int(stream.frames) if stream.frames else None
        self._frames_stated = frames is not None
        if frames is None and duration and fps:  # an estimate: exact for a constant frame rate only
            frames = round(duration * fps)
        context = stream.codec_context
        return VideoInfo(self.path, context.width, context.height, fps, frames,
                         None if duration is None else round(duration, 6), context.name)

    def frames(self, choice: FrameChoice | None = None) -> Iterator[VideoFrame]:
        """Decode the video from the start, yielding the chosen frames in order (every frame by default).

        Raises VideoTruncated (after yielding what it could) when decoding fails half-way or the video ends
        before the frames its header promises.
        """
        import av

        choice = choice or FrameChoice()
        choice.prepare(self.info.frames, self.path)
        stream, index, steps, last_time = self._stream, -1, [], None
        self._odd_steps = 0
        start = stream.start_time if stream.start_time is not None else 0
        try:
            for frame in self._container.decode(stream):
                index += 1
                if frame.pts is not None and stream.time_base:
                    time_s = float((frame.pts - start) * stream.time_base)
                else:
                    time_s = index / self.info.fps if self.info.fps else float(index)
                if last_time is not None:
                    self._watch_rate(steps, time_s - last_time)
                last_time = time_s
                if choice.takes(index):
                    yield VideoFrame(index, round(time_s, 6), frame.to_ndarray(format="rgb24"))
        except av.error.FFmpegError as exc:
            raise VideoTruncated(self.path, f"decoding failed after frame {index} ({_ffmpeg_reason(exc)}); "
                                            "the file looks damaged or truncated", index + 1) from None
        expected = self.info.frames
        estimate_holds = self._frames_stated or not self.variable_rate
        if expected and estimate_holds and index + 1 < expected - 1:
            raise VideoTruncated(self.path, f"the video ended after {index + 1} of the {expected} frames its "
                                            "header promises; the file looks truncated", index + 1)

    @property
    def variable_rate(self) -> bool:
        return any(note.startswith("variable frame rate") for note in self.notes)

    def _watch_rate(self, steps: list[float], step: float) -> None:
        """Note once that the frame rate varies: times then come from each frame's timestamp."""
        if self.variable_rate:
            return
        if len(steps) < _STEPS_FOR_TYPICAL:  # the typical step from the first frames: cheap on long videos
            steps.append(step)
        typical = float(np.median(steps))
        if typical > 0 and abs(step - typical) > _RATE_TOLERANCE * typical:
            self._odd_steps += 1
        if self._odd_steps >= _ODD_STEPS_FOR_VARIABLE:
            self.notes.append("variable frame rate: each frame's time comes from its own timestamp, and "
                              "'every N frames' is not a fixed time interval")

    def read_frame(self, index: int, time_s: float | None = None) -> VideoFrame:
        """Frame ``index``; given its ``time_s`` (as :meth:`frames` reported it) the reader seeks to the
        keyframe before it instead of decoding from the start, so a look at frame 50,000 is quick."""
        if time_s is None or not self._stream.time_base:
            for frame in self.frames(FrameChoice(every=1)):
                if frame.index == index:
                    return frame
            raise VideoError(self.path, f"has no frame {index}")
        stream = self._stream
        start = stream.start_time if stream.start_time is not None else 0
        target = start + round(time_s / stream.time_base)
        self._container.seek(target, stream=stream, backward=True)
        # Half a frame's time either side: timestamps are rounded to the stream's time base.
        slack = 0.5 / self.info.fps if self.info.fps else 1e-3
        for frame in self._container.decode(stream):
            if frame.pts is not None and float((frame.pts - start) * stream.time_base) >= time_s - slack:
                return VideoFrame(index, round(time_s, 6), frame.to_ndarray(format="rgb24"))
        raise VideoError(self.path, f"has no frame at {time_s:.3f} s")


def read_video_frame(path: Path | str, index: int, time_s: float | None = None) -> VideoFrame:
    """Frame ``index`` (at ``time_s``, if known) of the video at ``path`` (see :meth:`VideoReader.read_frame`)."""
    with VideoReader(path) as reader:
        return reader.read_frame(index, time_s)


def _ffmpeg_reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).split(":")[0].strip() or type(exc).__name__


def frame_rate(fps: float | None) -> Fraction:
    """A video rate as the exact fraction encoders want (25 fps when unknown)."""
    return Fraction(fps).limit_denominator(1001) if fps else Fraction(25)
