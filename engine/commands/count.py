"""``python -m engine count PATH --checkpoint CKPT --out counts.csv``: count new images with a trained model.

Parses the options and calls :func:`engine.counting.folder.count_folder`, which documents the outputs,
the regions and the events.
"""

from __future__ import annotations

from pathlib import Path

from engine.commands._model_options import add_model_arguments, check_model_arguments, terminate_as_interrupt
from engine.commands._video_count import add_video_arguments, run_video
from engine.dataset.video import is_video_file

NAME = "count"
HELP = "count objects in an image, a folder of images, a dataset folder or a video with a trained checkpoint"


def add_arguments(parser) -> None:
    parser.add_argument("path", type=Path, help="an image, a folder of images, or a CrowdGUI dataset folder")
    parser.add_argument("--checkpoint", type=Path, required=True, help="the trained model (.pt)")
    parser.add_argument("--out", type=Path, required=True,
                        help="CSV to write: image,count,annotated_count,error,area_px (+ per_mm2 or per_hectare; "
                             "+ count:<class>, annotated:<class>, error:<class> for a model of 2+ classes)")
    parser.add_argument("--density-dir", type=Path, default=None,
                        help="save each density map as NAME.density.npy (float32 objects per cell at the model's "
                             "stride; densities.json in the folder gives the stride); a model of 2+ classes also "
                             "saves NAME.classes.npy, its (classes, h, w) maps in densities.json's classes order")
    parser.add_argument("--points", action="store_true",
                        help="also save predicted object locations as NAME.points.csv in --density-dir")
    parser.add_argument("--roi", type=Path, default=None, metavar="FILE",
                        help="a JSON list of roi and ignore regions ({'kind': 'roi', 'polygon': [[x, y], ...]}) "
                             "applied to every image, as for a fixed camera: counts are taken inside the ROI")
    parser.add_argument("--uncertainty", action="store_true",
                        help="also report how unsure the model is of each count (the spread of its counts over "
                             "four flipped views, in objects; four times the work) in the result events")
    parser.add_argument("--flips", action="store_true",
                        help="test-time flips: average each density map with that of the image mirrored left to "
                             "right (twice the work; see README for what it changed on VGG cells)")
    parser.add_argument("--pixel-size", default=None, metavar="SIZE",
                        help="one pixel's side, e.g. 0.65um (adds objects per mm²) or 0.05m (objects per "
                             "hectare); saved in the dataset's crowdgui.json, whose value is used when omitted")
    add_model_arguments(parser)
    add_video_arguments(parser)


def run(args, events) -> int:
    from engine.counting.folder import CountingError, FolderCount, count_folder
    from engine.dataset.regions import read_roi_file

    if is_video_file(args.path):
        return run_video(args, events)
    if not check_model_arguments(args, events):
        return 2
    if args.points and args.density_dir is None:
        events.error("--points needs --density-dir (the points are saved there as NAME.points.csv)")
        return 2
    try:
        roi = read_roi_file(args.roi) if args.roi is not None else None
        pixel_size = _pixel_size(args)
    except ValueError as exc:
        events.error(str(exc))
        return 2
    request = FolderCount(path=args.path, checkpoint=args.checkpoint, out=args.out, density_dir=args.density_dir,
                          points=args.points, device=args.device, batch=args.batch, max_pixels=args.max_pixels,
                          roi=roi, roi_name=args.roi.name if args.roi else "--roi", pixel_size=pixel_size,
                          uncertainty=args.uncertainty, flips=args.flips)
    try:
        with terminate_as_interrupt():
            count_folder(request, events)
    except CountingError as exc:
        events.error(str(exc), **exc.fields)
        return 1
    return 0


def _pixel_size(args):
    """--pixel-size, saved in the dataset's settings; without it, the dataset's saved one (or None)."""
    from engine.dataset import Dataset
    from engine.dataset.pixel_size import parse_pixel_size

    given = parse_pixel_size(args.pixel_size) if args.pixel_size is not None else None
    if not args.path.is_dir():
        return given
    dataset = Dataset(args.path)
    if given is not None and given != dataset.settings.pixel_size:
        dataset.settings.pixel_size = given
        dataset.save_settings()
    return given or dataset.settings.pixel_size
