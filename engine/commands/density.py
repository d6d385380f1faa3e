"""``python -m engine density DATASET --out FILE.h5 [--per-image DIR]``: images and density maps to HDF5.

Only annotated images are exported (an image without a sidecar has no known count). Settings come from the
dataset's ``crowdgui.json`` and each one given on the command line replaces the saved one. Maps are unscaled
(each sums to the image's count; root attribute ``density_scale`` = 1) and gzip-compressed.

Regions (engine.dataset.regions): every map comes with a ``mask`` of the cells where the points are
complete (1) and where nothing is known or the image is to be ignored (0); the map is zero wherever the mask
is. The count is that of the points inside the mask, so a partial annotation never claims "no objects"
where nobody looked: a consumer must leave masked-out cells out of its loss (the map sums to the count
up to the kernels' share spilling across the mask's border). An image with only stated counts (no complete
area) is skipped with a warning. Regions that cannot be used are warned about and left out.

``--out FILE.h5`` — one file. Root attributes hold the settings (mode, sigma, beta, k, stride, ...).

- layout ``stacked`` (the NeuroSYS seed's layout; the default when all exported images have the same size):
  datasets ``images`` (N, H, W, 3) uint8, ``labels`` (N, ceil(H/s), ceil(W/s), 1) float32, ``masks`` (same
  shape, uint8), ``counts`` (N,) int64 and ``names`` (N,) utf-8, in the same order.
- layout ``groups`` (the default otherwise): one group per image, named by the image's file name, holding
  ``image`` (H, W, 3) uint8, ``density`` (ceil(H/s), ceil(W/s)) float32, ``mask`` (same shape, uint8) and
  ``count`` (scalar int64).

``--per-image DIR`` — one ``<stem>.h5`` per image (``IMG_1.h5`` for ``IMG_1.jpg``, the CSRNet tutorial's
layout) with ``density`` and ``mask`` datasets and ``count``/settings attributes.

Every file is written to a temporary name and renamed when complete, so an interrupted run never leaves a
half-written file under the final name; existing outputs are only replaced with ``--force``.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from engine.atomic import atomic_path
from engine.commands._model_options import open_dataset
from engine.dataset import Dataset, ImageReadError, SidecarError, read_image
from engine.dataset.regions import points_in_mask
from engine.dataset.sidecar import points_outside
from engine.density import MAX_SIGMA, MIN_SIGMA, TRUNCATE, DensitySettings, density_map

NAME = "density"
HELP = "Write images and their density maps (made from the annotated points) to HDF5 files."

FILE_FORMAT = "crowdgui-density"
FILE_VERSION = 2  # 2: a known-area mask beside every map
SPLIT_CHOICES = ("all", "train", "val", "test")
COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, help="dataset folder (images plus .points.json sidecars)")
    parser.add_argument("--out", type=Path, help="write one HDF5 file with all images and maps")
    parser.add_argument("--per-image", type=Path, metavar="DIR",
                        help="write one <image stem>.h5 per image, with a 'density' dataset, into DIR")
    parser.add_argument("--layout", choices=("auto", "stacked", "groups"), default="auto",
                        help="--out layout: stacked arrays (images/labels, needs one image size) or a group "
                             "per image; auto picks stacked when all images share a size (default: auto)")
    parser.add_argument("--split", choices=SPLIT_CHOICES, default="all",
                        help="export only the annotated images of one split (default: all)")
    parser.add_argument("--mode", choices=("fixed", "adaptive"), help="sigma mode (default: the dataset's)")
    parser.add_argument("--sigma", type=_positive_float,
                        help="fixed sigma in pixels (default: the dataset's)")
    parser.add_argument("--beta", type=_positive_float, help="adaptive: sigma = beta x mean k-NN distance")
    parser.add_argument("--k", type=_positive_int, help="adaptive: number of nearest neighbours")
    parser.add_argument("--stride", type=_positive_int, default=1,
                        help="output stride: maps are sum-pooled to ceil(H/s) x ceil(W/s) (default: 1)")
    parser.add_argument("--force", action="store_true", help="replace output files that already exist")


def resolve_settings(dataset: Dataset, args: argparse.Namespace) -> DensitySettings:
    """The dataset's density settings with every option given on the command line put in their place."""
    given = {name: getattr(args, name) for name in ("mode", "sigma", "beta", "k")
             if getattr(args, name, None) is not None}
    return replace(dataset.settings.density, **given)


def run(args: argparse.Namespace, events) -> int:
    if args.out is None and args.per_image is None:
        events.error("nothing to write: give --out FILE.h5 and/or --per-image DIR")
        return 2
    dataset = open_dataset(args.dataset, events)
    if dataset is None:
        return 1
    settings = resolve_settings(dataset, args)
    for problem in dataset.problems:
        events.warning(problem)

    entries = [e for e in dataset if e.usable and e.annotated
               and (args.split == "all" or dataset.split_of(e.name) == args.split)]
    if not entries:
        which = "" if args.split == "all" else f" in split '{args.split}'"
        events.error(f"no annotated images{which} in {dataset.folder}: nothing to export")
        return 1

    layout = _choose_layout(args.layout, entries)
    if layout is None:
        events.error("--layout stacked needs all images to have the same size; use --layout groups")
        return 1
    per_image_names = _per_image_names(entries, events) if args.per_image else {}
    clashes = _existing_outputs(args, per_image_names)
    if clashes and not args.force:
        shown = ", ".join(str(p) for p in clashes[:3]) + (" ..." if len(clashes) > 3 else "")
        events.error(f"{len(clashes)} output file(s) already exist ({shown}); use --force to replace them")
        return 1

    attributes = _attributes(settings, args.stride, dataset.folder)
    events.emit("start", command=NAME, total=len(entries), layout=layout if args.out else None,
                settings=asdict(settings), stride=args.stride)
    started = time.monotonic()
    written, skipped = 0, 0
    combined_file = _combined_file(args.out, layout, entries, args.stride, attributes)
    with _CancelOnSigterm() as cancel, combined_file as combined:
        for done, entry in enumerate(entries, start=1):
            if cancel.requested:
                kept = f"; the {written} per-image file(s) written so far are kept" if args.per_image else ""
                unwritten = f"; {args.out} was not written" if args.out else ""
                events.warning(f"cancelled after {done - 1} of {len(entries)} images{unwritten}{kept}")
                raise KeyboardInterrupt  # unwinds through _atomic_h5, which removes the temporary file
            item = _load(dataset, entry, settings, args.stride, events)
            if item is None:
                skipped += 1
            else:
                image, count, density, mask = item
                if combined is not None:
                    combined.add(entry.name, image, density, mask, count)
                if args.per_image:
                    _write_per_image(args.per_image / per_image_names[entry.name], entry.name, density, mask,
                                     count, attributes)
                written += 1
                events.emit("result", image=entry.name, count=count,
                            sum=round(float(density.sum(dtype=np.float64)), 4), shape=list(density.shape))
            elapsed = time.monotonic() - started
            events.emit("progress", done=done, total=len(entries),
                        eta_s=round(elapsed / done * (len(entries) - done), 1))
    if not written:
        events.error("no image could be exported (see the warnings above)")
        return 1
    outputs = {"out": str(args.out)} if args.out else {}
    if args.out:
        outputs["layout"] = layout
    if args.per_image:
        outputs["per_image"] = str(args.per_image)
    events.emit("done", images=written, skipped=skipped, **outputs,
                seconds=round(time.monotonic() - started, 2))
    return 0


# ------------------------------------------------------------------------------------------- choosing
def _choose_layout(requested: str, entries) -> str | None:
    same_size = len({(e.width, e.height) for e in entries}) == 1
    if requested == "auto":
        return "stacked" if same_size else "groups"
    if requested == "stacked" and not same_size:
        return None
    return requested


def _per_image_names(entries, events) -> dict[str, str]:
    """IMG_1.jpg -> IMG_1.h5; images sharing a stem (a.jpg, a.png) keep their full name (a.jpg.h5)."""
    stems: dict[str, int] = {}
    for entry in entries:
        stems[Path(entry.name).stem] = stems.get(Path(entry.name).stem, 0) + 1
    names = {}
    for entry in entries:
        stem = Path(entry.name).stem
        if stems[stem] > 1:
            names[entry.name] = f"{entry.name}.h5"
            events.warning(f"several images are named {stem}.*: writing {entry.name}.h5 instead of {stem}.h5",
                           path=str(entry.path))
        else:
            names[entry.name] = f"{stem}.h5"
    return names


def _existing_outputs(args, per_image_names: dict[str, str]) -> list[Path]:
    targets = [args.out] if args.out else []
    if args.per_image:
        targets += [args.per_image / name for name in per_image_names.values()]
    return [path for path in targets if path.exists()]


def _attributes(settings: DensitySettings, stride: int, folder: Path) -> dict:
    return {"format": FILE_FORMAT, "version": FILE_VERSION, **asdict(settings), "stride": stride,
            "truncate": TRUNCATE, "min_sigma": MIN_SIGMA, "max_sigma": MAX_SIGMA, "density_scale": 1.0,
            "source": str(folder)}


# -------------------------------------------------------------------------------------------- reading
def _load(dataset: Dataset, entry, settings: DensitySettings, stride: int, events):
    """(image, count of points in the known area, density, known-area mask) for one image; None (and a warning)
    when it is unusable or has no complete area."""
    try:
        image = read_image(entry.path)
        points = dataset.load_points(entry.name)
    except (ImageReadError, SidecarError) as exc:
        events.warning(f"{exc} (image skipped)", path=str(entry.path))
        return None
    height, width = image.shape[:2]
    if (width, height) != (entry.width, entry.height):
        events.warning(f"{entry.name}: decoded size {width}x{height} differs from its header (image skipped)",
                       path=str(entry.path))
        return None
    complete = dataset.known_area(entry.name, stride).complete
    if complete is not None and not complete.any():
        events.warning(f"{entry.name}: only stated counts, no area with complete points to make a density map "
                       "from (image skipped)", path=str(entry.path))
        return None
    outside = points_outside(points, width, height)
    if outside:
        events.warning(f"{entry.name}: {outside} point(s) outside the image are not in its density map",
                       path=str(entry.path))
    # All points go in: density_map draws only those inside, but in adaptive mode the others are neighbours.
    density = density_map(points, (height, width), settings, stride)
    if complete is None:
        return image, len(points) - outside, density, np.ones(density.shape, dtype=np.uint8)
    density[~complete] = 0.0
    inside = (points[:, 0] >= 0) & (points[:, 1] >= 0) & (points[:, 0] < width) & (points[:, 1] < height)
    count = int(points_in_mask(points[inside], complete, stride).sum())
    return image, count, density, complete.astype(np.uint8)


# -------------------------------------------------------------------------------------------- writing
@contextmanager
def _atomic_h5(path: Path):
    """An h5py File open on a temporary name in ``path``'s folder, renamed to ``path`` only on success."""
    import h5py

    with atomic_path(path) as tmp_name, h5py.File(tmp_name, "w") as handle:
        yield handle


class _StackedWriter:
    """Appends images to the NeuroSYS-style arrays; trims them to the number written when closed."""

    def __init__(self, handle, entries, stride: int):
        import h5py

        count = len(entries)
        height, width = entries[0].height, entries[0].width
        map_shape = (-(-height // stride), -(-width // stride), 1)
        self.handle = handle
        self.images = handle.create_dataset("images", (count, height, width, 3), dtype=np.uint8,
                                            maxshape=(None, height, width, 3), chunks=(1, height, width, 3),
                                            **COMPRESSION)
        self.labels = handle.create_dataset("labels", (count, *map_shape), dtype=np.float32,
                                            maxshape=(None, *map_shape), chunks=(1, *map_shape),
                                            **COMPRESSION)
        self.masks = handle.create_dataset("masks", (count, *map_shape), dtype=np.uint8,
                                           maxshape=(None, *map_shape), chunks=(1, *map_shape), **COMPRESSION)
        self.counts = handle.create_dataset("counts", (count,), dtype=np.int64, maxshape=(None,))
        self.names = handle.create_dataset("names", (count,), dtype=h5py.string_dtype("utf-8"),
                                           maxshape=(None,))
        self.written = 0

    def add(self, name: str, image: np.ndarray, density: np.ndarray, mask: np.ndarray, count: int) -> None:
        index = self.written
        self.images[index] = image
        self.labels[index] = density[:, :, None]
        self.masks[index] = mask[:, :, None]
        self.counts[index] = count
        self.names[index] = name
        self.written += 1

    def close(self) -> None:
        for dataset in (self.images, self.labels, self.masks, self.counts, self.names):
            dataset.resize(self.written, axis=0)


class _GroupWriter:
    """One group per image, named by its file name."""

    def __init__(self, handle):
        self.handle = handle

    def add(self, name: str, image: np.ndarray, density: np.ndarray, mask: np.ndarray, count: int) -> None:
        group = self.handle.create_group(name)
        group.create_dataset("image", data=image, chunks=True, **COMPRESSION)
        group.create_dataset("density", data=density, chunks=True, **COMPRESSION)
        group.create_dataset("mask", data=mask, chunks=True, **COMPRESSION)
        group.create_dataset("count", data=np.int64(count))

    def close(self) -> None:
        pass


@contextmanager
def _combined_file(path: Path | None, layout: str, entries, stride: int, attributes: dict):
    if path is None:
        yield None
        return
    with _atomic_h5(path) as handle:
        handle.attrs.update({**attributes, "layout": layout})
        writer = _StackedWriter(handle, entries, stride) if layout == "stacked" else _GroupWriter(handle)
        yield writer
        writer.close()


def _write_per_image(path: Path, image_name: str, density: np.ndarray, mask: np.ndarray, count: int,
                     attributes: dict) -> None:
    with _atomic_h5(path) as handle:
        handle.attrs.update({**attributes, "image": image_name, "count": count})
        handle.create_dataset("density", data=density, chunks=True, **COMPRESSION)
        handle.create_dataset("mask", data=mask, chunks=True, **COMPRESSION)


class _CancelOnSigterm:
    """Records the GUI's Cancel (SIGTERM) so the loop can stop between images.

    The handler only sets a flag: an exception raised inside a signal handler can land in a weakref callback
    or a destructor and be swallowed there, and then the run would go on. The loop raises instead.
    """

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
        return False
