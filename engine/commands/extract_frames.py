"""``python -m engine extract-frames VIDEO --out DATASET --every N | --count N``: video frames to annotate.

Each chosen frame is saved as a PNG with a sidecar remembering its video, frame index and time
(engine/dataset/frames.py). ``--every N`` takes frames 0, N, 2N...; ``--count N`` takes N frames spread
evenly from the first to the last.
"""

from __future__ import annotations

from pathlib import Path

NAME = "extract-frames"
HELP = "save every Nth frame (or N evenly spaced frames) of a video into a dataset folder, to annotate"


def add_arguments(parser) -> None:
    parser.add_argument("video", type=Path, help="a video file (mp4, avi, mov, mkv...)")
    parser.add_argument("--out", type=Path, required=True, help="the dataset folder to add the frames to")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--every", type=int, metavar="N", help="take every Nth frame (0, N, 2N...)")
    which.add_argument("--count", type=int, metavar="N", help="take N frames spread evenly over the video")


def run(args, events) -> int:
    from engine.dataset.frames import extract_frames
    from engine.dataset.video import FrameChoice, VideoError, VideoTruncated

    if (args.every is not None and args.every < 1) or (args.count is not None and args.count < 1):
        events.error("--every and --count must be 1 or more")
        return 2
    choice = FrameChoice(every=args.every or 1, count=args.count)
    try:
        summary = extract_frames(args.video, args.out, choice, events)
    except VideoTruncated as exc:
        events.error(f"{exc}; the frames before it were saved", path=str(args.video))
        return 1
    except VideoError as exc:
        events.error(str(exc), path=str(args.video))
        return 1
    except OSError as exc:
        events.error(f"cannot write into {args.out}: {exc.strerror or exc}")
        return 1
    events.emit("done", **summary.to_dict())
    return 0
