"""Torch datasets over a CrowdGUI dataset folder: random training crops and whole validation images.

Training samples are made on the fly, as in DM-Count's loaders: an image is scaled by a random factor, a
random crop is cut, it may be flipped left-right, and the same transform is applied to the image's points,
from which the target density map is built at the model's stride (``engine.density.density_map``). Building
targets from points per crop keeps them count-exact whatever the augmentation (a density map is never
resized).

Each sample's randomness comes from its own generator seeded by (seed, epoch, sample index), so a run is
repeatable, does not depend on how many loader workers there are, and resumes mid-epoch with the same crops.
Samplers yield ``epoch x samples + sample`` so the index itself carries the epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from engine.dataset import Dataset, read_image
from engine.dataset.regions import KnownArea, points_in_mask, scored_cells
from engine.density import DensitySettings, density_map, point_sigmas
from engine.models.contract import (
    DEFAULT_DENSITY_SCALE,
    DEFAULT_NORMALIZATION,
    alignment,
    context_margin,
    image_cell_box,
    normalize_image,
    with_context,
)
from engine.training.crop_regions import AreaSource, Placement, crop_origin, crop_regions

# Decoded images are kept in memory while their total stays under this many bytes (per loader process).
DEFAULT_CACHE_BYTES = 1 << 30


@dataclass
class CropSettings:
    """How training crops are made. ``size`` must be a multiple of the model's input multiple."""

    size: int = 128
    scale_range: tuple[float, float] = (0.8, 1.25)  # random zoom, drawn log-uniformly
    flip: bool = True


class ImageCache:
    """Reads images with ``engine.dataset.read_image``; keeps them while they fit in ``budget`` bytes."""

    def __init__(self, paths: list, sizes: list[tuple[int, int]], budget: int = DEFAULT_CACHE_BYTES):
        self.paths = list(paths)
        total = sum(width * height * 3 for width, height in sizes)
        self.enabled = total <= budget
        self._images: dict[int, np.ndarray] = {}

    def get(self, index: int) -> np.ndarray:
        image = self._images.get(index)
        if image is None:
            image = read_image(self.paths[index])
            if self.enabled:
                self._images[index] = image
        return image

    def __getstate__(self):  # a loader worker starts with an empty cache rather than a pickled copy
        state = dict(self.__dict__)
        state["_images"] = {}
        return state


def labelled_images(dataset: Dataset, names: list[str]) -> tuple[list, list[np.ndarray]]:
    """(image paths, point arrays) of ``names``; images whose sidecar cannot be read are an error.

    Points outside an image are left out (a density map cannot hold them, and padding a small image would
    otherwise pull them into a crop); training warns about them through ``Dataset.problems``.
    """
    paths, points = [], []
    for name in names:
        paths.append(dataset.entry(name).path)
        points.append(np.asarray(dataset.load_points_inside(name), dtype=np.float64).reshape(-1, 2))
    return paths, points


class UnknownClassError(ValueError):
    """Points labelled with a class the dataset does not list: no output channel would learn them."""


def point_classes(dataset: Dataset, names: list[str]) -> list[np.ndarray]:
    """Each image's point classes (int64 channel indices into ``dataset.settings.class_names()``), aligned
    with the points :func:`labelled_images` gives. Raises UnknownClassError naming the sidecars whose labels
    are not among the dataset's classes, and saying how to fix it."""
    class_names = dataset.settings.class_names()
    classes, unknown = [], {}
    for name in names:
        indices = dataset.load_classes_inside(name)
        if (indices < 0).any():
            labels = dataset.load_annotation(name).labels or []
            strangers = {label for label in labels if label not in class_names}
            unknown[dataset.entry(name).sidecar.name] = sorted(strangers)
        classes.append(indices)
    if unknown:
        files = "; ".join(f"{file}: {', '.join(repr(lab) for lab in labels)}"
                          for file, labels in list(unknown.items())[:5])
        more = f" (and {len(unknown) - 5} more files)" if len(unknown) > 5 else ""
        raise UnknownClassError(
            f"points are labelled with classes this dataset does not have ({files}{more}); its classes are "
            f"{', '.join(repr(n) for n in class_names)}. Add those classes to the dataset (its class list in "
            f"the window, or \"classes\" in crowdgui.json) or relabel the points, then train again")
    return classes


def annotation_areas(dataset: Dataset, names: list[str]) -> list[AreaSource]:
    """What each image's regions say is known (made into masks by the loaders, image by image)."""
    areas = []
    for name in names:
        entry, annotation = dataset.entry(name), dataset.load_annotation(name)
        areas.append(AreaSource(annotation.count, list(annotation.regions), entry.width, entry.height))
    return areas


def crop_points(points: np.ndarray, classes: np.ndarray) -> torch.Tensor:
    """(n, 3) float32 [x, y, class index] of a crop's points, for the point losses (engine/training/point_losses.py)."""
    return torch.from_numpy(np.column_stack([points, classes]).astype(np.float32).reshape(-1, 3))


class TrainingCrops(torch.utils.data.Dataset):
    """``samples`` random crops per epoch drawn from the images; item -> (image, target, count, regions, points).

    image: (3, size, size) float32, normalised; target: (C, size / stride, size / stride) float32 density x
    ``density_scale``, C = ``class_count``, channel k made of the points of class k only (``classes``: one
    index array per image, aligned with ``points``; None: all of class 0); count: the number of points (of
    all classes) inside the crop (float32 scalar); regions: the crop's loss weights and stated counts
    (engine.training.crop_regions.crop_regions); points: (n, 3) float32 [x, y, class index] of the points
    inside the crop, in crop pixels (batched as a list by engine.training.loaders.collate_crops). ``areas``
    (one AreaSource per image, None: every image annotated whole) says what each image's regions make known;
    crops of a partial image are placed over what is known.
    """

    def __init__(self, paths: list, points: list[np.ndarray], sizes: list[tuple[int, int]],
                 crop: CropSettings, stride: int, density: DensitySettings, samples: int, seed: int = 0,
                 normalization: dict = DEFAULT_NORMALIZATION, density_scale: float = DEFAULT_DENSITY_SCALE,
                 cache_bytes: int = DEFAULT_CACHE_BYTES, areas: list[AreaSource] | None = None,
                 classes: list[np.ndarray] | None = None, class_count: int = 1):
        if not paths:
            raise ValueError("no annotated training images")
        if crop.size % stride:
            raise ValueError(f"crop size {crop.size} is not a multiple of the model's stride {stride}")
        self.images = ImageCache(paths, sizes, cache_bytes)
        self.points = points
        self.point_classes = _classes_or_first(classes, points)
        self.class_count = int(class_count)
        # Sigmas are measured once on the whole image, on the points of all classes (adaptive mode needs
        # every neighbour, also those outside a crop or of another class) and scaled with the image.
        self.sigmas = [point_sigmas(p, density) for p in points]
        self.crop, self.stride, self.density = crop, stride, density
        self.samples, self.seed = int(samples), int(seed)
        self.normalization, self.density_scale = normalization, float(density_scale)
        # Padding a small image with the mean colour makes it 0 after normalisation, as validation pads.
        self.fill = tuple(round(255 * m) for m in normalization["mean"])
        self.areas = areas if areas is not None else [AreaSource(len(p)) for p in points]
        self._known: dict[int, KnownArea | None] = {}  # per image; None: annotated whole

    def _known_area(self, index: int) -> KnownArea | None:
        """The image's masks at full resolution; kept while its pixels are (masks are a third of their size)."""
        if index in self._known:
            return self._known[index]
        area = self.areas[index]
        known = area.known() if area.regions else None
        known = None if known is None or known.whole else known
        if self.images.enabled:
            self._known[index] = known
        return known

    def __getstate__(self):  # a loader worker makes its own masks rather than unpickling copies
        state = dict(self.__dict__)
        state["_known"] = {}
        return state

    def __len__(self) -> int:
        return self.samples

    def __getitem__(self, index: int):
        # The index carries the epoch (see EpochSampler), so workers that live across epochs stay in step.
        epoch, sample = divmod(int(index), self.samples)
        rng = np.random.default_rng([self.seed, epoch, sample])
        which = sample % len(self.points)
        known = self._known_area(which)
        image, points, sigmas, placement = self._augment(self.images.get(which), self.points[which],
                                                         self.sigmas[which], rng, known)
        size = self.crop.size
        classes = self.point_classes[which]  # _augment keeps every point, in order: still aligned
        target = np.stack([density_map(points[classes == k], (size, size), self.density, self.stride,
                                       sigmas=sigmas[classes == k]) for k in range(self.class_count)])
        inside = np.all((points >= 0) & (points < size), axis=1)
        return (torch.from_numpy(normalize_image(image, self.normalization)),
                torch.from_numpy(target * np.float32(self.density_scale)),
                torch.tensor(float(inside.sum()), dtype=torch.float32),
                crop_regions(known, placement, size, self.stride, self.density_scale),
                crop_points(points[inside], classes[inside]))

    def _augment(self, image: np.ndarray, points: np.ndarray, sigmas: np.ndarray, rng: np.random.Generator,
                 known: KnownArea | None = None):
        """Random zoom + crop (+ flip) of ``image``; the points, sigmas and (returned) placement follow the same
        transform. An image annotated whole (``known`` None) is cropped anywhere, as it always was."""
        size = self.crop.size
        low, high = self.crop.scale_range
        scale = math.exp(rng.uniform(math.log(low), math.log(high))) if high > low else float(low)
        region = size / scale  # side of the square taken from the image, in image pixels
        image, offset = self._pad_to(image, math.ceil(region), rng)
        points = points + offset
        height, width = image.shape[:2]
        if known is not None:
            x0, y0 = crop_origin(known, (width, height), offset, region, scale == 1.0, rng)
        if scale == 1.0:  # no resampling: cut whole pixels, keep the image exactly as it is
            if known is None:
                x0, y0 = int(rng.integers(0, width - size + 1)), int(rng.integers(0, height - size + 1))
            x0, y0 = int(x0), int(y0)
            crop = image[y0:y0 + size, x0:x0 + size]
        else:
            if known is None:
                x0, y0 = rng.uniform(0, width - region), rng.uniform(0, height - region)
            box = (x0, y0, x0 + region, y0 + region)
            crop = np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR, box=box))
        points = (points - (x0, y0)) * scale
        sigmas = sigmas * scale
        placement = Placement(offset, x0, y0, region, scale)
        if self.crop.flip and rng.random() < 0.5:
            crop = crop[:, ::-1]
            points = np.column_stack([size - points[:, 0], points[:, 1]])
            placement.flipped = True
        return np.ascontiguousarray(crop), points, sigmas, placement

    def _pad_to(self, image: np.ndarray, side: int, rng: np.random.Generator):
        """Put an image smaller than ``side`` at a random spot of a mean-coloured canvas that big."""
        height, width = image.shape[:2]
        if height >= side and width >= side:
            return image, np.zeros(2)
        canvas = np.empty((max(height, side), max(width, side), 3), dtype=np.uint8)
        canvas[...] = self.fill
        top = int(rng.integers(0, canvas.shape[0] - height + 1))
        left = int(rng.integers(0, canvas.shape[1] - width + 1))
        canvas[top:top + height, left:left + width] = image
        return canvas, np.array([left, top], dtype=np.float64)


class WholeImages(torch.utils.data.Dataset):
    """Whole images for validation, seen as counting sees them (engine.counting.infer): with a mirrored margin
    (engine.models.contract.with_context) and sides that are multiples of lcm(input multiple, stride).

    item -> (image (3, H', W') float32, true count float32, index, cells, known, by_class), ``cells`` =
    (first, rows, columns): the output cells ``[first, first + rows) x [first, first + columns)`` are the
    image's own, the rest is margin; ``known`` (rows, columns) float32 marks the cells whose count is known,
    with the true count being the count there (engine.dataset.regions.scored_cells), or is empty for an image
    annotated whole. ``by_class`` = {"counts": (C,) float32, "known": mask}: each class's true count inside its own
    ``known`` mask (empty: the whole image), which leaves out the count regions, as a stated count is of all
    classes together. Batch them one at a time: sizes differ.
    """

    def __init__(self, paths: list, points: list[np.ndarray], sizes: list[tuple[int, int]],
                 input_multiple: int, normalization: dict = DEFAULT_NORMALIZATION,
                 cache_bytes: int = DEFAULT_CACHE_BYTES, stride: int = 1,
                 areas: list[AreaSource] | None = None, classes: list[np.ndarray] | None = None,
                 class_count: int = 1):
        self.images = ImageCache(paths, sizes, cache_bytes)
        self.points = points
        self.point_classes = _classes_or_first(classes, points)
        self.class_count = int(class_count)
        self.counts = [float(len(p)) for p in points]
        self.areas = areas if areas is not None else [AreaSource(len(p)) for p in points]
        self.stride = int(stride)
        self.align = alignment(input_multiple, self.stride)
        self.margin = context_margin(self.align)
        self.normalization = normalization

    def __len__(self) -> int:
        return len(self.counts)

    def __getitem__(self, index: int):
        image = self.images.get(index)
        height, width = image.shape[:2]
        array = normalize_image(with_context(image, self.margin, self.align), self.normalization)
        cells = torch.tensor(image_cell_box(height, width, self.stride, self.margin))
        known, count, complete = None, self.counts[index], None
        points, classes = self.points[index], self.point_classes[index]
        if self.areas[index].regions:  # masks are made here, one image at a time, never kept
            area = self.areas[index].known(self.stride)
            known, count = scored_cells(area, points, self.stride)
            complete = area.complete
        in_complete = points_in_mask(points, complete, self.stride)
        by_class = {"counts": torch.tensor([float(np.sum(in_complete & (classes == k)))
                                            for k in range(self.class_count)], dtype=torch.float32),
                    "known": _cells_tensor(complete)}
        return (torch.from_numpy(np.ascontiguousarray(array)), torch.tensor(count, dtype=torch.float32), index,
                cells, _cells_tensor(known), by_class)


def _cells_tensor(mask: np.ndarray | None) -> torch.Tensor:
    """A boolean cell mask as float32, or an empty tensor for None (every cell)."""
    return torch.zeros(0) if mask is None else torch.from_numpy(mask.astype(np.float32))


def _classes_or_first(classes: list[np.ndarray] | None, points: list[np.ndarray]) -> list[np.ndarray]:
    """Per-image class indices; None: every point is of the first class."""
    if classes is None:
        return [np.zeros(len(p), dtype=np.int64) for p in points]
    return [np.asarray(c, dtype=np.int64) for c in classes]


class EpochSampler(torch.utils.data.Sampler):
    """Yields one epoch's shuffled sample indices, offset by ``epoch x samples`` so the index tells the epoch.

    The order depends only on (seed, epoch); ``skip`` leaves out the first samples (a resumed epoch).
    With ``world`` processes (torchrun), process ``rank`` takes every ``world``-th index of that one order, so
    when each takes batches of B / world, step k of all processes together trains on exactly the B crops that
    step k of a single process with batch B trains on (``skip`` then counts samples of all processes).
    """

    def __init__(self, samples: int, seed: int = 0, rank: int = 0, world: int = 1):
        self.samples, self.seed = int(samples), int(seed)
        self.rank, self.world = int(rank), int(world)
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = int(epoch), int(skip)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.samples, generator=generator)[self.skip:][self.rank::self.world]
        return iter((order + self.epoch * self.samples).tolist())

    def __len__(self) -> int:
        return len(range(self.rank, max(self.samples - self.skip, 0), self.world))
