"""``python -m engine count VIDEO ...``: the video branch of the count command (see engine/counting/video.py).

Kept apart from count.py (which counts images) so each stays one job; count.py adds these options and hands
a video PATH here. The table is ``frame,time_s,count`` (+ ``count:<class>`` per class of a model of 2+
classes); ``--every N`` counts every Nth frame, ``--overlay``
writes the video with heatmaps and counts drawn in, ``--roi FILE`` counts inside regions of interest.
"""

from __future__ import annotations

from pathlib import Path


def add_video_arguments(parser) -> None:
    parser.add_argument("--every", type=int, default=1, metavar="N",
                        help="video only: count every Nth frame (default 1: every frame)")
    parser.add_argument("--overlay", type=Path, default=None, metavar="OUT.mp4",
                        help="video only: also write the video with its heatmap and count drawn in")


def run_video(args, events) -> int:
    """Count the video ``args.path``; one library call, its errors as plain-words events."""
    from engine.commands._model_options import check_model_arguments, load_for_counting, terminate_as_interrupt
    from engine.counting.video import count_video
    from engine.dataset.regions import read_roi_file
    from engine.dataset.video import VideoError, VideoTruncated

    if args.points:
        events.error("--points applies to images; for a video use --density-dir and --overlay")
        return 2
    if args.every < 1 or not check_model_arguments(args, events):
        if args.every < 1:
            events.error("--every must be 1 or more")
        return 2
    regions = None
    if args.roi is not None:
        try:
            regions = read_roi_file(args.roi)
        except ValueError as exc:
            events.error(f"--roi {exc}")
            return 2
    loaded = load_for_counting(args, events)
    if loaded is None:
        return 1
    try:
        with terminate_as_interrupt():
            summary = count_video(args.path, loaded, args.out, every=args.every, regions=regions,
                                  batch_size=args.batch, max_pixels=args.max_pixels,
                                  density_dir=args.density_dir, overlay=args.overlay, events=events)
    except VideoTruncated as exc:
        events.error(f"{exc}; the {exc.frames_read} frame(s) read before were counted and their rows kept in "
                     f"{args.out.name}.partial", path=str(args.path), frames_read=exc.frames_read)
        return 1
    except VideoError as exc:
        events.error(str(exc), path=str(args.path))
        return 1
    except ValueError as exc:
        events.error(str(exc))
        return 2
    events.emit("done", **summary.to_dict())
    return 0
