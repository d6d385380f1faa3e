"""Counting a video: every frame (or every Nth) streamed through the same counting path as a folder of images.

A background thread decodes frames with PyAV (FFmpeg releases the GIL while it decodes) while the model counts
the previous ones; frames of one video share a size, so they fill batches of ``batch_size`` exactly as
same-sized images do (engine.counting.infer.count_decoded). Nothing holds more than one batch of frames.

The table ``OUT`` has one row per counted frame, ``frame,time_s,count``, written row by row to
``OUT.partial`` and renamed onto ``OUT`` at the end, as for folders: a run that is stopped, or a video that
turns out truncated half-way, keeps every counted frame in ``OUT.partial``. With regions of interest (``roi``
and ``ignore`` regions, engine.dataset.regions) the count is the density summed inside them. A model of 2+
classes adds a ``count:<class>`` column per class (and ``counts_per_class`` in the result events).
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_bytes
from engine.counting.infer import count_decoded, model_device, model_stride
from engine.counting.outputs import (
    StreamingCsv,
    density_path,
    format_count,
    save_class_densities,
    write_density_manifest,
)
from engine.counting.prefetch import _END, DecodedImage, Prefetcher
from engine.counting.tiles import DEFAULT_BATCH, DEFAULT_MAX_PIXELS
from engine.counting.video_overlay import OverlayVideoWriter, overlay_rate
from engine.dataset.regions import counting_mask, region_problems
from engine.dataset.video import FrameChoice, VideoReader, VideoTruncated, frame_name
from engine.events import EventSink, ListSink
from engine.models.checkpoint import checkpoint_classes

CSV_HEADER = ["frame", "time_s", "count"]


class FramePrefetcher(Prefetcher):
    """Decode the chosen frames of an open video ahead of the model; a VideoTruncated is kept in ``failure``.

    ``times`` maps frame index -> time until the frame's result is taken; ``images`` the frame's pixels too
    when ``keep_images`` (for the overlay video, which draws on them after counting).
    """

    def __init__(self, reader: VideoReader, choice: FrameChoice, depth: int, keep_images: bool = False):
        self.reader, self.failure, self.times, self.images = reader, None, {}, {}
        self.keep_images = keep_images
        super().__init__(reader.frames(choice), depth)

    def _work(self, frames) -> None:
        try:
            for frame in frames:
                started = time.perf_counter()
                self.times[frame.index] = frame.time_s
                if self.keep_images:
                    self.images[frame.index] = frame.image
                height, width = frame.image.shape[:2]
                item = DecodedImage(frame.index, self.reader.path, frame.image, width, height,
                                    time.perf_counter() - started)
                if not self._put(item):
                    return
        except VideoTruncated as exc:
            self.failure = exc
        finally:
            self._put(_END)


@dataclass
class VideoCountSummary:
    """What a video count did (the ``done`` event's fields)."""

    video: str
    csv: str
    counted: int = 0
    seconds: float = 0.0
    frames_per_second: float | None = None
    overlay: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"video": self.video, "csv": self.csv, "counted": self.counted, "seconds": round(self.seconds, 3),
                "frames_per_second": self.frames_per_second, "overlay": self.overlay, "notes": self.notes}


def count_video(path: Path | str, checkpoint, out: Path | str, *, every: int = 1, regions=None,
                device: str = "auto", batch_size: int = DEFAULT_BATCH, max_pixels: int = DEFAULT_MAX_PIXELS,
                density_dir: Path | str | None = None, overlay: Path | str | None = None,
                events: EventSink | None = None) -> VideoCountSummary:
    """Count every ``every``-th frame of the video at ``path`` into the CSV ``out``; see the module.

    ``checkpoint``: a file or a loaded ``(model, record)`` pair. ``regions``: roi/ignore regions applied to
    every frame. ``density_dir`` gets each frame's map as ``NAME.density.npy`` (NAME from :func:`frame_name`);
    ``overlay`` a video of the counted frames with their heatmaps. Events: ``start`` (with the video's
    size, rate and frame count), per frame ``result`` (frame, time_s, count) and ``progress``, a ``warning``
    per remark (variable frame rate, regions left out). Raises VideoError when the video cannot be read at
    all, VideoTruncated when it stops half-way (the counted rows are then in ``OUT.partial``), ValueError
    for bad options.
    """
    from engine.counting.infer import load_counter

    if every < 1:
        raise ValueError("--every must be 1 or more")
    events = events or ListSink()
    started = time.perf_counter()
    out = Path(out)
    with VideoReader(path) as reader:
        info = reader.info
        model, record = load_counter(checkpoint, device)
        stride = model_stride(model, record)
        classes = checkpoint_classes(record)
        mask = _mask(regions, info.width, info.height, stride, events)
        total = -(-info.frames // every) if info.frames else None
        events.emit("start", command="count", total=total, stride=stride, device=str(model_device(model)),
                    arch=record.get("arch"), every=every, **info.to_dict())
        if density_dir is not None:
            write_density_manifest(density_dir, stride, video=str(Path(path).resolve()), arch=record.get("arch"),
                                   **({"classes": classes} if len(classes) > 1 else {}))
        writer = OverlayVideoWriter(overlay, overlay_rate(info.fps, every), stride) if overlay else None
        class_columns = [f"count:{name}" for name in classes] if len(classes) > 1 else []
        table = StreamingCsv(out, CSV_HEADER + class_columns)
        decoded = FramePrefetcher(reader, FrameChoice(every=every), depth=max(4, 2 * batch_size),
                                  keep_images=writer is not None)
        summary = VideoCountSummary(video=str(path), csv=str(out))
        try:
            for result in count_decoded(decoded, (model, record), batch_size=batch_size, max_pixels=max_pixels):
                if not result.ok:  # a forward pass that failed: the video cannot be counted on
                    raise RuntimeError(f"frame {result.index}: {result.error}")
                time_s = decoded.times.pop(result.index)
                count = float(result.density[mask].sum(dtype=np.float64)) if mask is not None else result.count
                fields = {}
                class_counts = []
                if result.class_densities is not None:
                    class_counts = [float((m if mask is None else m[mask]).sum(dtype=np.float64))
                                    for m in result.class_densities]
                    fields["counts_per_class"] = dict(zip(classes, class_counts))
                table.write([result.index, f"{time_s:.3f}", format_count(count),
                             *(format_count(value) for value in class_counts)])
                if density_dir is not None:
                    fields["density"] = str(_save_density(density_dir, frame_name(path, result.index),
                                                          result.density))
                    if result.class_densities is not None:
                        fields["class_density"] = str(save_class_densities(
                            density_dir, frame_name(path, result.index), result.class_densities))
                if writer is not None:
                    writer.write(decoded.images.pop(result.index), result.density, count)
                summary.counted += 1
                events.emit("result", frame=result.index, time_s=time_s, count=count,
                            image=frame_name(path, result.index), width=result.width, height=result.height,
                            stride=stride, seconds=round(result.seconds, 4), **fields)
                events.emit("progress", done=summary.counted, total=total)
            if decoded.failure is not None:
                raise decoded.failure
        except BaseException:
            decoded.close()
            partial = table.abandon()
            if writer is not None:
                writer.abandon()
            events.warning(f"stopped after {table.rows} frame(s); their rows are in {partial}", path=str(partial))
            raise
        decoded.close()
        table.commit()
        summary.notes = list(reader.notes)
        for note in reader.notes:
            events.warning(f"{Path(path).name}: {note}", path=str(path))
        if writer is not None:
            written = writer.close()
            summary.overlay = str(written) if written else None
    summary.seconds = time.perf_counter() - started
    if summary.seconds > 0:
        summary.frames_per_second = round(summary.counted / summary.seconds, 3)
    return summary


def _mask(regions, width: int, height: int, stride: int, events: EventSink) -> np.ndarray | None:
    if not regions:
        return None
    for problem in region_problems(regions, width, height):
        events.warning(f"--roi {problem}")
    return counting_mask(regions, width, height, stride)


def _save_density(folder: Path | str, name: str, density: np.ndarray) -> Path:
    # Not fsynced: one map per frame, and a lost map after a power cut is recomputed by counting again.
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(density, dtype=np.float32), allow_pickle=False)
    path = density_path(folder, name)
    atomic_write_bytes(path, buffer.getvalue(), durable=False)
    return path
