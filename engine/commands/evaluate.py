"""``python -m engine evaluate DATASET --checkpoint CKPT``: how well a model counts an annotated split.

Reports MAE, RMSE, GAME(0-3) and localisation precision/recall/F1 (predicted object locations - the map's
peaks with merged blobs split, the points ``propose`` proposes - matched one-to-one to the annotated points
within --radius pixels), plus every image's error. With ``--events jsonl`` the same appear as
one ``result`` event per image and a ``done`` event with the summary; in text mode a table is printed.
Regions: only what is known is compared (engine.counting.scoring): partial images inside their annotated
area, and each stated count region against the map's sum inside it (``stated`` in the result event,
``stated_counts``, ``stated_mae`` and ``stated_rmse`` in ``done``). A model of 2+ classes is also scored per
class: ``counts_per_class`` and ``annotated_per_class`` in the result event, ``mae_per_class`` and
``rmse_per_class`` in ``done`` (images with points of a class the model does not count are left out of them).
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from engine.commands._model_options import (
    add_model_arguments,
    check_model_arguments,
    load_for_counting,
    open_dataset,
)
from engine.metrics import default_radius

NAME = "evaluate"
HELP = "measure counting and localisation errors of a checkpoint on an annotated dataset split"
SPLITS = ("val", "test", "train", "all")


def add_arguments(parser) -> None:
    parser.add_argument("dataset", type=Path, help="a CrowdGUI dataset folder (images with .points.json sidecars)")
    parser.add_argument("--checkpoint", type=Path, required=True, help="the trained model (.pt)")
    parser.add_argument("--split", choices=SPLITS, default="val",
                        help="which annotated images to use (default val; all = every annotated image)")
    parser.add_argument("--radius", type=float, default=None,
                        help="a predicted point within this many pixels of an annotated one counts as found "
                             "(default: twice the checkpoint's density sigma, else 8)")
    parser.add_argument("--out", type=Path, default=None, help="also write the per-image results as CSV")
    add_model_arguments(parser)


def run(args, events) -> int:
    from engine.counting.infer import count_images, model_stride
    from engine.counting.outputs import StreamingCsv, format_count
    from engine.counting.scoring import ClassScores, class_counts_known, score_image, stated_summary
    from engine.metrics import Evaluation
    from engine.models.checkpoint import checkpoint_classes

    if not check_model_arguments(args, events):
        return 2
    if args.radius is not None and args.radius <= 0:
        events.error("--radius must be a positive number of pixels")
        return 2
    dataset = open_dataset(args.dataset, events)
    if dataset is None:
        return 1
    splits = ("train", "val", "test") if args.split == "all" else (args.split,)
    wanted = {name for split in splits for name in dataset.images_in(split)}
    names = [name for name in dataset.names() if name in wanted]  # folder order, splits interleaved
    if not names:
        sizes = ", ".join(f"{len(dataset.images_in(s))} {s}" for s in ("train", "val", "test"))
        events.error(f"no annotated images in split '{args.split}' of {dataset.folder} ({sizes})")
        return 1
    loaded = load_for_counting(args, events)
    if loaded is None:
        return 1
    model, record = loaded
    stride = model_stride(model, record)
    radius = args.radius if args.radius is not None else default_radius(record)
    events.emit("start", command=NAME, total=len(names), split=args.split, radius=radius)
    for name in names:
        entry = dataset.entry(name)
        if entry.outside:
            events.warning(f"{name}: {entry.outside} of {entry.count} point(s) lie outside the image; scored "
                           "without them", path=str(entry.sidecar))
        for problem in entry.region_problems:
            events.warning(f"{entry.sidecar.name}: {problem}", path=str(entry.sidecar))

    evaluation = Evaluation(radius=radius)
    class_scores = ClassScores(checkpoint_classes(record))
    table = StreamingCsv(args.out, ["image", "count", "annotated_count", "error", "game1", "game2", "game3",
                                    "tp", "fp", "fn"]) if args.out else None
    started, skipped, stated = time.perf_counter(), 0, []
    try:
        paths = [dataset.entry(name).path for name in names]
        for done, result in enumerate(count_images(paths, (model, record), batch_size=args.batch,
                                                   max_pixels=args.max_pixels), start=1):
            name = names[result.index]
            if not result.ok:
                skipped += 1
                events.warning(f"{name}: {result.error} (skipped)", path=str(result.path))
            else:
                item, image_stated = score_image(evaluation, dataset, name, result.density, stride,
                                                 (result.width, result.height))
                stated += image_stated
                fields = dict(image=name, path=str(result.path), seconds=round(result.seconds, 4),
                              stated=[{"stated": s.stated, "predicted": s.predicted} for s in image_stated])
                if item is not None:
                    score = item.localization
                    fields.update(count=item.count, annotated_count=item.annotated_count, error=item.error,
                                  **{f"game{level}": item.game[level] for level in (1, 2, 3)},
                                  tp=score.tp, fp=score.fp, fn=score.fn)
                    by_class = None if result.class_densities is None else class_counts_known(
                        dataset, name, result.class_densities, stride, class_scores.names)
                    if by_class is not None:
                        class_scores.add(*by_class)
                        fields.update(counts_per_class=dict(zip(class_scores.names, by_class[0])),
                                      annotated_per_class=dict(zip(class_scores.names, by_class[1])))
                events.emit("result", **fields)
                if table is not None and item is not None:
                    table.write([name, format_count(item.count), item.annotated_count, format_count(item.error),
                                 *(format_count(item.game[level]) for level in (1, 2, 3)),
                                 score.tp, score.fp, score.fn])
            events.emit("progress", done=done, total=len(names))
    except BaseException:
        if table is not None:
            table.abandon()
        raise
    if not evaluation.images and not stated:
        if table is not None:
            table.abandon().unlink(missing_ok=True)
        events.error("none of the images could be counted")
        return 1
    if table is not None:
        table.commit()
    summary = {"split": args.split, "skipped": skipped, **evaluation.summary(), **class_scores.summary(),
               **stated_summary(stated),
               "seconds": round(time.perf_counter() - started, 3)}
    if args.events == "text":
        print_report(evaluation, summary, sys.stdout)
    events.emit("done", **summary)
    return 0


def print_report(evaluation, summary: dict, stream) -> None:
    """The per-image table and the summary, for a person reading a terminal."""
    width = max([len("image")] + [len(item.image) for item in evaluation.images])
    print(f"{'image':<{width}}  {'count':>9}  {'annotated':>9}  {'error':>8}  "
          f"{'GAME1':>7}  {'GAME2':>7}  {'GAME3':>7}", file=stream)
    for item in evaluation.images:
        print(f"{item.image:<{width}}  {item.count:9.2f}  {item.annotated_count:9d}  {item.error:+8.2f}  "
              f"{item.game[1]:7.2f}  {item.game[2]:7.2f}  {item.game[3]:7.2f}", file=stream)
    print(f"\nsplit {summary['split']}: {summary['images']} image(s)"
          + (f", {summary['skipped']} skipped" if summary["skipped"] else ""), file=stream)
    if evaluation.images:
        print(f"MAE {summary['mae']:.3f}   RMSE {summary['rmse']:.3f}", file=stream)
        print("   ".join(f"GAME({level}) {summary[f'game{level}']:.3f}" for level in (0, 1, 2, 3)), file=stream)
    for name, value in summary.get("mae_per_class", {}).items():
        print(f"  {name}: MAE {value:.3f}   RMSE {summary['rmse_per_class'][name]:.3f}", file=stream)
    if "stated_counts" in summary:
        print(f"stated counts: {summary['stated_counts']} region(s), MAE {summary['stated_mae']:.3f}   "
              f"RMSE {summary['stated_rmse']:.3f}", file=stream)
    if "precision" in summary:
        print(f"localisation within {summary['radius']:g} px: precision {_fmt(summary['precision'])}  "
              f"recall {_fmt(summary['recall'])}  F1 {_fmt(summary['f1'])}  "
              f"(TP {summary['tp']}, FP {summary['fp']}, FN {summary['fn']})", file=stream)
    stream.flush()


def _fmt(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"
