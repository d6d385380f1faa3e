"""The data of a training run: which images train and validate, and the torch loaders over them."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from engine.dataset import Dataset
from engine.density import DensitySettings
from engine.training.config import TrainConfig, TrainingError
from engine.training.crops import (
    DEFAULT_CACHE_BYTES,
    CropSettings,
    EpochSampler,
    TrainingCrops,
    UnknownClassError,
    WholeImages,
    annotation_areas,
    labelled_images,
    point_classes,
)
from engine.training.distributed import World
from engine.training.ranking import unlabeled_stacks


@dataclass
class TrainingData:
    """The loaders of one run and what the run reports about its images."""

    train_names: list[str]
    val_names: list[str]
    steps_per_epoch: int
    sampler: EpochSampler
    train_loader: torch.utils.data.DataLoader
    val_loader: torch.utils.data.DataLoader
    train_counts_per_pixel: list[float]  # CMTL calibrates its count classes on these
    rank_stacks: list | None  # unlabeled images for --unlabeled; None when not asked or there are none


def collate_crops(items: list[tuple]) -> tuple:
    """A batch of TrainingCrops items: the images, targets, counts and regions stacked as torch does; the
    points (a different number per crop) as a list of (n, 3) tensors."""
    stacked = torch.utils.data.default_collate([item[:4] for item in items])
    return (*stacked, [item[4] for item in items])


def open_dataset(config: TrainConfig) -> Dataset:
    """The run's dataset, with ``--val-fraction`` applied; TrainingError when the folder cannot be opened."""
    try:
        dataset = Dataset(config.dataset)
    except (FileNotFoundError, OSError) as exc:
        raise TrainingError(f"cannot open the dataset: {exc}") from None
    if config.val_fraction is not None:
        dataset.settings.val_fraction = min(max(float(config.val_fraction), 0.0), 0.9)
    return dataset


def build_loaders(config: TrainConfig, dataset: Dataset, model: torch.nn.Module, world: World,
                  device: torch.device, warn: Callable[[str], None]) -> TrainingData:
    """Loaders for a resolved ``config`` (engine.training.config.resolve_config): random crops of the training
    images, ``batch`` per process, and each process's share of the whole validation images. Partial images
    (only some areas annotated, or only stated counts) train and validate on what their regions make known.
    Targets have one channel per class of the dataset; a point of a class it does not list is an error."""
    for problem in dataset.problems:
        warn(problem)
    train_names, val_names = dataset.images_in("train"), dataset.images_in("val")
    if not train_names:
        raise TrainingError(f"{dataset.folder} has no annotated images to train on (annotate some "
                            f"images, or check that they are not all in the validation or test split)")
    try:
        train_paths, train_points = labelled_images(dataset, train_names)
        val_paths, val_points = labelled_images(dataset, val_names)
        train_areas, val_areas = annotation_areas(dataset, train_names), annotation_areas(dataset, val_names)
        train_classes, val_classes = point_classes(dataset, train_names), point_classes(dataset, val_names)
    except UnknownClassError as exc:
        raise TrainingError(str(exc)) from None
    except Exception as exc:
        raise TrainingError(f"cannot read the annotations: {exc}") from None
    sizes = {e.name: (e.width, e.height) for e in dataset}
    class_count = len(dataset.settings.class_names())
    global_batch = config.batch * world.size
    steps = max(4, math.ceil((config.samples_per_epoch or len(train_names)) / global_batch))
    density = DensitySettings.from_dict(config.density)
    crops = TrainingCrops(train_paths, train_points, [sizes[n] for n in train_names],
                          CropSettings(config.crop, tuple(config.scale_range), config.flip),
                          type(model).stride, density, samples=steps * global_batch, seed=config.seed,
                          cache_bytes=DEFAULT_CACHE_BYTES // max(1, config.workers),  # one cache each
                          areas=train_areas, classes=train_classes, class_count=class_count)
    sampler = EpochSampler(steps * global_batch, seed=config.seed, rank=world.rank, world=world.size)
    # Never fork after torch ran: workers are spawned, and live across epochs (the index tells the epoch).
    spawn = {"multiprocessing_context": "spawn", "persistent_workers": True} if config.workers else {}
    pin = device.type == "cuda"
    train_loader = torch.utils.data.DataLoader(crops, batch_size=config.batch, sampler=sampler, drop_last=True,
                                               num_workers=config.workers, pin_memory=pin,
                                               collate_fn=collate_crops, **spawn)
    whole = WholeImages(val_paths, val_points, [sizes[n] for n in val_names], model.input_multiple,
                        stride=model.stride, areas=val_areas, classes=val_classes, class_count=class_count)
    # Each process validates its own whole images (no padding duplicates): the errors are summed over them.
    val_loader = torch.utils.data.DataLoader(whole, batch_size=1, num_workers=0, pin_memory=pin,
                                             sampler=range(world.rank, len(whole), world.size))
    counts_per_pixel = [len(p) / (sizes[n][0] * sizes[n][1]) for n, p in zip(train_names, train_points)]
    try:  # learning from unlabeled images (--unlabeled): None when not asked or there are none
        rank_stacks = unlabeled_stacks(dataset, config, sizes, warn)
    except ValueError as exc:
        raise TrainingError(str(exc)) from None
    return TrainingData(train_names, val_names, steps, sampler, train_loader, val_loader, counts_per_pixel,
                        rank_stacks)
