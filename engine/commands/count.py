"""``python -m engine count PATH --checkpoint CKPT --out counts.csv``: count new images with a trained model.

PATH is an image, a folder of images, or a CrowdGUI dataset folder. The CSV has the columns
image,count,annotated_count,error (the last two blank for images without a sidecar; error = count - annotated).
Rows are flushed to ``OUT.partial`` as images finish and the complete file replaces OUT at the end, so a run
that is killed or cancelled never leaves a half-written OUT (its finished rows are in OUT.partial).
Events: ``start``; per image ``result`` (image, path, count, seconds, density, stride, annotated_count, error)
and ``progress``; ``warning`` per skipped file; ``done`` with MAE/RMSE when annotations exist and
``skipped_files`` (image, reason) for every file not counted, also written to ``OUT.skipped.csv``
(``counts.csv`` -> ``counts.skipped.csv``; ``skipped_csv`` in ``done``, null and no file when none was).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from pathlib import Path

from engine.commands._video_count import add_video_arguments, run_video
from engine.counting.tiles import DEFAULT_BATCH, DEFAULT_MAX_PIXELS
from engine.dataset.video import is_video_file

NAME = "count"
HELP = "count objects in an image, a folder of images, a dataset folder or a video with a trained checkpoint"


def add_arguments(parser) -> None:
    parser.add_argument("path", type=Path, help="an image, a folder of images, or a CrowdGUI dataset folder")
    parser.add_argument("--checkpoint", type=Path, required=True, help="the trained model (.pt)")
    parser.add_argument("--out", type=Path, required=True,
                        help="CSV to write: image,count,annotated_count,error")
    parser.add_argument("--density-dir", type=Path, default=None,
                        help="save each density map as NAME.density.npy (float32 objects per cell at the model's "
                             "stride; densities.json in the folder gives the stride)")
    parser.add_argument("--points", action="store_true",
                        help="also save predicted object locations as NAME.points.csv in --density-dir")
    add_model_arguments(parser)
    add_video_arguments(parser)


def add_model_arguments(parser) -> None:
    """Options shared by count and evaluate: where and how the model runs."""
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                        help="where the model runs (auto: CUDA, then Apple MPS, then CPU)")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                        help=f"at most this many same-sized images per forward pass (default {DEFAULT_BATCH})")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                        help="input pixels per forward pass; bigger images are counted in tiles "
                             f"(default {DEFAULT_MAX_PIXELS})")


def check_model_arguments(args, events) -> bool:
    if args.batch < 1 or args.max_pixels < 4096:
        events.error("--batch must be at least 1 and --max-pixels at least 4096")
        return False
    return True


def load_for_counting(args, events):
    """(model, record) from --checkpoint on --device, or None after an error event."""
    from engine.models.checkpoint import CheckpointError
    from engine.models.device import DeviceError
    from engine.counting.infer import load_counter

    try:
        return load_counter(args.checkpoint, args.device)
    except CheckpointError as exc:
        events.error(str(exc), path=str(args.checkpoint))
    except DeviceError as exc:
        events.error(str(exc))
    return None


@contextlib.contextmanager
def terminate_as_interrupt():
    """Treat SIGTERM (the window's Cancel) like Ctrl-C, so the run stops between images and cleans up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args, events) -> int:
    from engine.counting.outputs import (
        StreamingCsv,
        format_count,
        gather_targets,
        save_density,
        save_points_csv,
        write_density_manifest,
        write_skipped_csv,
    )
    from engine.counting.infer import count_images, model_device, model_stride
    from engine.counting.blob_split import locate_objects
    from engine.metrics import mae, rmse

    if is_video_file(args.path):
        return run_video(args, events)
    if args.points and args.density_dir is None:
        events.error("--points needs --density-dir (the points are saved there as NAME.points.csv)")
        return 2
    if not check_model_arguments(args, events):
        return 2
    try:
        targets, problems = gather_targets(args.path)
    except FileNotFoundError as exc:
        events.error(str(exc))
        return 1
    for problem in problems:
        events.warning(problem.message, path=str(problem.path))
    if not targets:
        events.error(f"{args.path}: no readable images to count")
        return 1
    loaded = load_for_counting(args, events)
    if loaded is None:
        return 1
    model, record = loaded
    stride = model_stride(model, record)
    events.emit("start", command=NAME, total=len(targets), checkpoint=str(args.checkpoint),
                arch=record.get("arch"), stride=stride, device=str(model_device(model)))
    if args.density_dir is not None:
        write_density_manifest(args.density_dir, stride, checkpoint=str(args.checkpoint.resolve()),
                               arch=record.get("arch"))

    table = StreamingCsv(args.out, ["image", "count", "annotated_count", "error"])
    started, done, failed = time.perf_counter(), 0, 0
    # Every image that was not counted, with why: the done event and OUT.skipped.csv list them all.
    skipped_files = [{"image": p.path.name, "reason": p.reason} for p in problems if p.skipped]
    predicted, annotated = [], []
    try:
        with terminate_as_interrupt():
            for result in count_images([t.path for t in targets], (model, record), batch_size=args.batch,
                                       max_pixels=args.max_pixels):
                target = targets[result.index]
                done += 1
                if not result.ok:
                    failed += 1
                    skipped_files.append({"image": target.name, "reason": result.error})
                    events.warning(f"{target.name}: {result.error} (skipped)", path=str(target.path))
                else:
                    error = None
                    if target.annotated_count is not None:
                        error = result.count - target.annotated_count
                        predicted.append(result.count)
                        annotated.append(target.annotated_count)
                    table.write([target.name, format_count(result.count), target.annotated_count,
                                 format_count(error)])
                    fields = {}
                    if args.density_dir is not None:
                        fields["density"] = str(save_density(args.density_dir, target.name, result.density))
                    if args.points:
                        points = locate_objects(result.density, stride, image_size=(result.width, result.height))
                        fields["points"] = str(save_points_csv(args.density_dir, target.name, points,
                                                                (result.width, result.height)))
                        fields["points_count"] = len(points)
                    events.emit("result", image=target.name, path=str(target.path), count=result.count,
                                seconds=round(result.seconds, 4), stride=stride, width=result.width,
                                height=result.height, annotated_count=target.annotated_count, error=error,
                                **fields)
                elapsed = time.perf_counter() - started
                events.emit("progress", done=done, total=len(targets),
                            eta_s=round(elapsed / done * (len(targets) - done), 1))
    except BaseException:
        partial = table.abandon()
        events.warning(f"stopped after {table.rows} image(s); their rows are in {partial}", path=str(partial))
        raise
    counted = done - failed
    if counted == 0:
        table.abandon().unlink(missing_ok=True)
        events.error(f"none of the {len(targets)} image(s) could be counted; {args.out} was not written",
                     skipped_files=skipped_files)
        return 1
    table.commit()
    skipped_csv = write_skipped_csv(args.out, skipped_files)
    elapsed = time.perf_counter() - started
    summary = {"counted": counted, "skipped": len(skipped_files), "skipped_files": skipped_files,
               "csv": str(args.out), "skipped_csv": str(skipped_csv) if skipped_csv else None,
               "seconds": round(elapsed, 3),
               "images_per_second": round(counted / elapsed, 3) if elapsed > 0 else None,
               "annotated": len(annotated)}
    if annotated:
        summary.update(mae=mae(predicted, annotated), rmse=rmse(predicted, annotated))
    events.emit("done", **summary)
    return 0

