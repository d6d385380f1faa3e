"""Frames of a video as dataset images: each saved as a PNG with a sidecar remembering its video, index and time.

``street.mp4`` frame 120 becomes ``street_f000120.png`` with ``street_f000120.png.points.json`` holding
``"source": {"video": "street.mp4", "frame": 120, "time_s": 4.8}`` and no points: the frame is unlabeled until
a person annotates it (engine.dataset.store.annotation_status). Frames already in the folder are left as
they are (never overwritten), so extracting again with another step only adds frames.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from engine.atomic import atomic_write_bytes
from engine.dataset.sidecar import Annotation, frame_source, sidecar_path, write_sidecar
from engine.dataset.video import FrameChoice, VideoReader, frame_name
from engine.events import EventSink, ListSink


def frame_file_name(video: Path | str, index: int) -> str:
    """``street.mp4``, 120 -> ``street_f000120.png``."""
    return f"{frame_name(video, index)}.png"


@dataclass
class ExtractSummary:
    video: str
    out: str
    written: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"video": self.video, "out": self.out, "written": len(self.written),
                "existing": len(self.existing), "seconds": round(self.seconds, 3)}


def extract_frames(video: Path | str, out: Path | str, choice: FrameChoice,
                   events: EventSink | None = None) -> ExtractSummary:
    """Save the chosen frames of ``video`` into the dataset folder ``out`` (created if needed).

    Events: ``start`` (the video's description), a ``result`` per frame (image, frame, time_s, written) and
    ``progress``. Raises VideoError for a video that cannot be read; VideoTruncated after the frames before
    the damage were saved.
    """
    events = events or ListSink()
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = ExtractSummary(video=str(video), out=str(out))
    with VideoReader(video) as reader:
        info = reader.info
        choice.prepare(info.frames, reader.path)
        total = choice.count if choice.count is not None else (-(-info.frames // choice.every)
                                                               if info.frames else None)
        events.emit("start", command="extract-frames", total=total, **info.to_dict())
        for frame in reader.frames(choice):
            name = frame_file_name(video, frame.index)
            target = out / name
            written = not target.exists() and not sidecar_path(target).exists()
            if written:
                buffer = io.BytesIO()
                Image.fromarray(frame.image).save(buffer, format="PNG")
                atomic_write_bytes(target, buffer.getvalue(), durable=False)
                height, width = frame.image.shape[:2]
                write_sidecar(sidecar_path(target), Annotation(
                    name, width, height, source=frame_source(Path(video).name, frame.index, frame.time_s)))
                summary.written.append(name)
            else:
                summary.existing.append(name)
            events.emit("result", image=name, path=str(target), frame=frame.index, time_s=frame.time_s,
                        written=written)
            done = len(summary.written) + len(summary.existing)
            events.emit("progress", done=done, total=total)
        for note in reader.notes:
            events.warning(f"{Path(video).name}: {note}", path=str(video))
    if summary.existing:
        events.warning(f"{len(summary.existing)} frame(s) were already in {out.name} and were left as they are")
    summary.seconds = time.perf_counter() - started
    return summary
