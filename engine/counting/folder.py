"""Count an image, a folder of images or a dataset folder with a trained model: the library behind ``count``.

:func:`count_folder` writes ``counts.csv`` (image,count,annotated_count,error,area_px and, with a pixel size,
per_mm2 or per_hectare; with a model of 2+ classes ``count:<class>`` per class and, for annotated images,
``annotated:<class>`` and ``error:<class>``), optionally one density map per image and the predicted points,
and reports events.
Rows are flushed to ``OUT.partial`` as images finish and the complete file replaces OUT at the end, so a run
that is killed or cancelled never leaves a half-written OUT (its finished rows are in OUT.partial).

Regions: each image's count is taken inside its ROI (a ``--roi`` file's ROI replaces the sidecars' own),
never in ignore areas; the saved density maps stay whole. ``annotated_count`` and ``error`` compare inside
that same area, and only where the annotation is complete there.

Events: ``start``; per image ``result`` (image, path, count, whole_count, area_px, roi, ignore, seconds,
stride, width, height, annotated_count, error; density, points and points_count with those outputs;
per_mm2 or per_hectare with a pixel size) and ``progress``; ``warning`` per skipped file or left-out region;
``done`` with MAE/RMSE when annotations exist and ``skipped_files`` (image, reason) for every file not
counted, also written to ``OUT.skipped.csv`` (null and no file when none was). With 2+ classes: ``start``
names the ``classes``, ``result`` adds ``counts_per_class`` (and ``annotated_per_class``, ``class_density``
with a density folder), ``done`` adds ``mae_per_class``; a dataset whose classes differ from the model's gets
a ``warning`` (engine.counting.classes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.counting import infer
from engine.counting.blob_split import locate_objects
from engine.counting.classes import class_mismatch
from engine.counting.outputs import (
    CountRecord,
    StreamingCsv,
    count_columns,
    save_class_densities,
    save_density,
    save_points_csv,
    write_density_manifest,
    write_skipped_csv,
)
from engine.counting.targets import CountTarget, counted_area, gather_targets
from engine.counting.tiles import DEFAULT_BATCH, DEFAULT_MAX_PIXELS
from engine.dataset.pixel_size import PixelSize
from engine.dataset.regions import Region
from engine.models.checkpoint import checkpoint_classes
from engine.metrics import mae, rmse


class CountingError(Exception):
    """The count could not be done; ``fields`` go into the error event beside the message."""

    def __init__(self, message: str, **fields):
        super().__init__(message)
        self.fields = fields


@dataclass
class FolderCount:
    """What to count and where the results go (the options of ``python -m engine count``)."""

    path: Path
    checkpoint: Path
    out: Path
    density_dir: Path | None = None
    points: bool = False
    device: str = "auto"
    batch: int = DEFAULT_BATCH
    max_pixels: int = DEFAULT_MAX_PIXELS
    roi: list[Region] | None = None  # a --roi file's regions, applied to every image
    roi_name: str = "--roi"
    pixel_size: PixelSize | None = None
    uncertainty: bool = False  # also the flip spread of each count (engine.counting.uncertainty): 4x the work
    flips: bool = False  # average each map with the mirrored image's (test-time flips): 2x the work


def count_folder(request: FolderCount, events) -> dict:
    """Count every image of ``request.path``; returns the ``done`` event's fields (also emitted).

    Raises ValueError for ``points`` without ``density_dir``, CountingError for a path with nothing to count, a checkpoint or device that cannot be used, or a
    run where no image could be counted; KeyboardInterrupt stops between images with the rows kept in
    ``OUT.partial``.
    """
    if request.points and request.density_dir is None:
        raise ValueError("points are saved beside the density maps: give a density_dir")
    try:
        targets, problems = gather_targets(request.path, request.roi, request.roi_name)
    except FileNotFoundError as exc:
        raise CountingError(str(exc)) from None
    for problem in problems:
        events.warning(problem.message, path=str(problem.path))
    if not targets:
        raise CountingError(f"{request.path}: no readable images to count")
    model, record = _load(request)
    stride = infer.model_stride(model, record)
    classes = checkpoint_classes(record)
    events.emit("start", command="count", total=len(targets), checkpoint=str(request.checkpoint),
                arch=record.get("arch"), stride=stride, device=str(infer.model_device(model)),
                pixel_size=str(request.pixel_size) if request.pixel_size else None,
                **({"classes": classes} if len(classes) > 1 else {}))
    mismatch = class_mismatch(classes, request.path)
    if mismatch:
        events.warning(mismatch, path=str(request.path))
    if request.density_dir is not None:
        write_density_manifest(request.density_dir, stride, checkpoint=str(Path(request.checkpoint).resolve()),
                               arch=record.get("arch"), **({"classes": classes} if len(classes) > 1 else {}))
    per_area_column = request.pixel_size.column if request.pixel_size else None
    table = StreamingCsv(request.out, count_columns(per_area_column, classes))
    started, done, failed = time.perf_counter(), 0, 0
    # Every image that was not counted, with why: the done event and OUT.skipped.csv list them all.
    skipped_files = [{"image": p.path.name, "reason": p.reason} for p in problems if p.skipped]
    predicted, annotated = [], []
    class_errors: dict[str, list[float]] = {name: [] for name in classes}
    try:
        for result in infer.count_images([t.path for t in targets], (model, record), batch_size=request.batch,
                                         max_pixels=request.max_pixels, flips=request.flips):
            target = targets[result.index]
            done += 1
            if not result.ok:
                failed += 1
                skipped_files.append({"image": target.name, "reason": result.error})
                events.warning(f"{target.name}: {result.error} (skipped)", path=str(target.path))
            else:
                row, fields = _counted(request, target, result, stride, classes)
                if request.uncertainty:
                    fields["uncertainty"] = round(_spread(model, record, target.path, request), 4)
                if row.annotated_count is not None:
                    predicted.append(row.count)
                    annotated.append(row.annotated_count)
                for name, error in (row.class_errors or {}).items():
                    class_errors[name].append(error)
                table.write(row.row(per_area_column, classes))
                events.emit("result", **fields)
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
        raise CountingError(f"none of the {len(targets)} image(s) could be counted; {request.out} was not written",
                            skipped_files=skipped_files)
    table.commit()
    skipped_csv = write_skipped_csv(request.out, skipped_files)
    elapsed = time.perf_counter() - started
    summary = {"counted": counted, "skipped": len(skipped_files), "skipped_files": skipped_files,
               "csv": str(request.out), "skipped_csv": str(skipped_csv) if skipped_csv else None,
               "seconds": round(elapsed, 3),
               "images_per_second": round(counted / elapsed, 3) if elapsed > 0 else None,
               "annotated": len(annotated)}
    if annotated:
        summary.update(mae=mae(predicted, annotated), rmse=rmse(predicted, annotated))
    if len(classes) > 1 and any(class_errors.values()):
        summary["mae_per_class"] = {name: float(np.mean(np.abs(errors))) if errors else None
                                    for name, errors in class_errors.items()}
    events.emit("done", **summary)
    return summary


def _load(request: FolderCount):
    from engine.models.checkpoint import CheckpointError
    from engine.models.device import DeviceError

    try:
        return infer.load_counter(request.checkpoint, request.device)
    except CheckpointError as exc:
        raise CountingError(str(exc), path=str(request.checkpoint)) from None
    except DeviceError as exc:
        raise CountingError(str(exc)) from None


def _spread(model, record, path: Path, request: FolderCount) -> float:
    """The flip spread of one image's count (the image is decoded again: counting does not keep pixels)."""
    from engine.counting.uncertainty import count_spread
    from engine.dataset import read_image

    return count_spread(model, record, read_image(path), max_pixels=request.max_pixels,
                        batch_size=request.batch).spread


def _counted(request: FolderCount, target: CountTarget, result, stride: int,
             classes: list[str]) -> tuple[CountRecord, dict]:
    """One counted image's CSV row and ``result`` event fields, its count taken inside its counted area."""
    area = counted_area(target, result.width, result.height, stride)
    count = area.count(result.density)
    per_area = None
    if request.pixel_size is not None:
        per_area = (request.pixel_size.column, request.pixel_size.per_area(count, area.area_px))
    class_counts = class_annotated = None
    if result.class_densities is not None:
        class_counts = dict(zip(classes, area.class_counts(result.class_densities)))
        known = area.class_annotated(classes)
        class_annotated = dict(zip(classes, known)) if known is not None else None
    row = CountRecord(target.name, count, area.annotated_count, area.area_px, per_area, class_counts,
                      class_annotated)
    fields = dict(image=target.name, path=str(target.path), count=count,
                  whole_count=float(result.density.sum(dtype="float64")), area_px=area.area_px, roi=area.roi,
                  ignore=area.ignore, seconds=round(result.seconds, 4), stride=stride, width=result.width,
                  height=result.height, annotated_count=area.annotated_count, error=row.error,
                  stated=sum(number for _, number in area.stated) if area.stated else None)
    if per_area is not None:
        fields[per_area[0]] = per_area[1]
    if class_counts is not None:
        fields["counts_per_class"] = class_counts
        if class_annotated is not None:
            fields["annotated_per_class"] = class_annotated
    if request.density_dir is not None:
        fields["density"] = str(save_density(request.density_dir, target.name, result.density))
        if result.class_densities is not None:
            fields["class_density"] = str(save_class_densities(request.density_dir, target.name,
                                                               result.class_densities))
    if request.points:
        points = locate_objects(result.density, stride, image_size=(result.width, result.height))
        fields["points"] = str(save_points_csv(request.density_dir, target.name, points,
                                                (result.width, result.height)))
        fields["points_count"] = len(points)
    return row, fields
