"""Learning from unlabeled images by ranking (Liu, van de Weijer & Bagdanov, CVPR 2018).

An image without annotations still teaches something: a square crop never holds more objects than a square crop
that contains it. From each unlabeled image we cut ``k`` nested squares around one anchor point, resize each to
the network's input size, and penalise every consecutive pair whose predicted counts are in the wrong order.

Choices (and why):

- **Anchor** drawn uniformly in the central region of the image: the middle ``1 / central`` of each side
  (``central = 2``: the central half). The paper draws it from the centre of the image too; the centre keeps the
  largest crop big (the largest crop is centred on the anchor, so its side is limited by the nearest border).
- **Largest crop**: the biggest square centred on the anchor that fits in the image, capped by
  ``largest_fraction`` x the shorter side and by ``max_side``. ``max_side=None`` caps it at
  ``input_size / scale ** ((k - 1) / 2)``: then the middle crop of the stack is seen at the image's own scale,
  the outer ones shrunk, the inner ones enlarged by the same factor (x0.56 .. x1.78 for k=5, scale 0.75), so
  the objects stay near the size the network learns from the annotated crops. A 1024-pixel photo squeezed
  whole into a 128-pixel input would teach ordering on objects the network never sees at that size.
- **Nesting** in whole pixels: crop i+1 has side ``max(1, round(scale x side_i))`` and sits centred in crop i
  (integer offsets), so it lies inside crop i exactly, near borders and in tiny images too (there sides may
  repeat; equal crops give an equal count and no loss).
- **Loss**: ``sum over consecutive pairs of max(0, count(inner) - count(outer) + margin)``, averaged over the
  stacks of the batch, with counts in objects (the density map's sum divided by the density scale), margin 0:
  the inner crop may hold exactly as many objects as the outer one (an empty border), so any positive margin
  would punish a correct prediction.
- **Weight** (``DEFAULT_RANK_WEIGHT = 1``): counts in objects make the scale comparable to the density loss.
  The density loss is the squared error summed over the pixels of the (x density scale) map; pushed along a
  uniform change of the map, its gradient for a count error of ``e`` objects is ``2 e x scale / S^2`` per pixel
  (S the input side), i.e. ~0.012 per pixel for e = 1 at S = 128. The ranking loss on counts in objects has a
  gradient of ``weight / scale`` = 0.01 per pixel of a wrongly ordered crop. So with weight 1 an ordering
  violation pulls about as hard as a one-object count error in the supervised loss: it shapes the network where
  annotations say nothing, without overruling them.

Each stack's randomness comes from a generator seeded by (seed, epoch, sample), as in engine/training/crops.py, where an
"epoch" is one pass over the unlabeled images; the stack for training step ``t`` is made of items
``t x batch .. t x batch + batch - 1``, so a resumed run gets the very stacks it would have had.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from engine.models.contract import DEFAULT_DENSITY_SCALE, DEFAULT_NORMALIZATION, normalize_image
from engine.training.crops import DEFAULT_CACHE_BYTES, ImageCache

DEFAULT_RANK_WEIGHT = 1.0
# Stacks per training step. One stack is ``crops`` network inputs (5 by default): with a batch of 8 annotated
# crops a step costs about 1.6x as much; more stacks would leave fewer supervised steps in a time budget.
DEFAULT_RANK_BATCH = 1


@dataclass
class RankSettings:
    """How the nested crops of one unlabeled image are made."""

    crops: int = 5  # k: crops per stack
    scale: float = 0.75  # each crop's side over the side of the crop containing it
    central: float = 2.0  # the anchor lies in the middle 1/central of each side of the image
    largest_fraction: float = 1.0  # the largest crop's side is at most this share of the shorter image side
    max_side: int | None = None  # cap on the largest crop's side; None: input_size / scale ** ((crops - 1) / 2)
    flip: bool = True  # flip the whole stack left-right at random (all crops alike)

    def __post_init__(self):
        if self.crops < 2:
            raise ValueError("a ranking stack needs at least 2 crops")
        if not 0 < self.scale < 1:
            raise ValueError(f"the crop scale must be between 0 and 1, not {self.scale}")
        if self.central < 1:
            raise ValueError(f"central must be >= 1 (1 is the whole image), not {self.central}")


def nested_boxes(width: int, height: int, rng: np.random.Generator, settings: RankSettings,
                 input_size: int) -> np.ndarray:
    """(crops, 4) int64 boxes x0, y0, x1, y1 (x1, y1 exclusive) in the image; each box contains the next."""
    width, height = int(width), int(height)
    if width < 1 or height < 1:
        raise ValueError(f"empty image ({width} x {height})")
    margin = 0.5 - 0.5 / settings.central  # share of each side left out around the central region
    anchor_x = rng.uniform(margin * width, (1 - margin) * width)
    anchor_y = rng.uniform(margin * height, (1 - margin) * height)
    cap = settings.max_side
    if cap is None:
        cap = input_size / settings.scale ** ((settings.crops - 1) / 2)
    reach = 2 * min(anchor_x, width - anchor_x, anchor_y, height - anchor_y)
    side = int(min(reach, settings.largest_fraction * min(width, height), cap))
    side = min(max(side, 1), width, height)
    # Centred on the anchor, then clamped into the image (rounding may push it by a pixel).
    x0 = min(max(round(anchor_x - side / 2), 0), width - side)
    y0 = min(max(round(anchor_y - side / 2), 0), height - side)
    boxes = [(x0, y0, x0 + side, y0 + side)]
    for _ in range(settings.crops - 1):
        inner = max(1, round(side * settings.scale))
        x0, y0 = x0 + (side - inner) // 2, y0 + (side - inner) // 2
        side = inner
        boxes.append((x0, y0, x0 + side, y0 + side))
    return np.asarray(boxes, dtype=np.int64)


class RankingStacks(torch.utils.data.Dataset):
    """Nested crops of unlabeled images; item -> (crops, 3, size, size) float32, normalised, largest first.

    ``len`` is the number of images (one "epoch" of stacks); any index >= 0 is valid and carries the epoch:
    ``epoch, sample = divmod(index, len)``. Within an epoch the images come in an order shuffled per epoch.
    """

    def __init__(self, paths: list, sizes: list[tuple[int, int]], input_size: int,
                 settings: RankSettings | None = None, seed: int = 0,
                 normalization: dict = DEFAULT_NORMALIZATION, cache_bytes: int = DEFAULT_CACHE_BYTES):
        if not paths:
            raise ValueError("no unlabeled images")
        self.images = ImageCache(paths, sizes, cache_bytes)
        self.input_size, self.seed = int(input_size), int(seed)
        self.settings = settings or RankSettings()
        self.normalization = normalization

    def __len__(self) -> int:
        return len(self.images.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        epoch, sample = divmod(int(index), len(self))
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self))
        rng = np.random.default_rng([self.seed, epoch, sample])
        image = self.images.get(int(order[sample]))
        boxes = nested_boxes(image.shape[1], image.shape[0], rng, self.settings, self.input_size)
        flip = self.settings.flip and rng.random() < 0.5
        picture = Image.fromarray(image)
        size = self.input_size
        stack = []
        for box in boxes:
            crop = np.asarray(picture.resize((size, size), Image.BILINEAR, box=tuple(int(v) for v in box)))
            if flip:
                crop = crop[:, ::-1]
            stack.append(normalize_image(np.ascontiguousarray(crop), self.normalization))
        return torch.from_numpy(np.stack(stack))


class StepSampler(torch.utils.data.Sampler):
    """Endless item indices from ``start_step x batch`` on: batch t of the loader is the stack for step t.

    With ``world`` processes (torchrun) each step has ``world x batch`` stacks, and process ``rank`` takes its
    own ``batch`` of them: together they see the stacks one process with ``world x batch`` would.
    """

    def __init__(self, batch: int, start_step: int = 0, rank: int = 0, world: int = 1):
        self.batch, self.start_step = int(batch), int(start_step)
        self.rank, self.world = int(rank), int(world)

    def __iter__(self):
        if self.world == 1:
            return itertools.count(self.start_step * self.batch)
        return (((step * self.world + self.rank) * self.batch + item)
                for step in itertools.count(self.start_step) for item in range(self.batch))


def ranking_loader(stacks: RankingStacks, batch: int, start_step: int = 0, workers: int = 0,
                   pin_memory: bool = False, rank: int = 0, world: int = 1):
    """An endless iterator of (batch, crops, 3, S, S) tensors, the first one for training step ``start_step``."""
    spawn = {"multiprocessing_context": "spawn"} if workers else {}  # never fork after torch ran
    sampler = StepSampler(batch, start_step, rank, world)
    loader = torch.utils.data.DataLoader(stacks, batch_size=int(batch), sampler=sampler,
                                         num_workers=workers, pin_memory=pin_memory, **spawn)
    return iter(loader)


def ranking_loss(counts: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """Hinge on consecutive pairs of (batch, crops) counts, largest crop first; summed over pairs, batch mean.

    Zero when every crop's count is at most its container's (minus ``margin``); its gradient lowers the inner
    crop's count and raises the outer one's where they are in the wrong order.
    """
    inner_minus_outer = counts[:, 1:] - counts[:, :-1]
    return torch.relu(inner_minus_outer + margin).sum(dim=1).mean()


class RankingTerm:
    """What ``train_one_epoch`` needs for the ranking term: the next stacks, and the loss of their output."""

    def __init__(self, batches, weight: float = DEFAULT_RANK_WEIGHT, density_scale: float = DEFAULT_DENSITY_SCALE,
                 margin: float = 0.0):
        self.batches, self.weight = batches, float(weight)
        self.density_scale, self.margin = float(density_scale), float(margin)
        self._shape = (0, 0)

    def next_stacks(self, precision) -> torch.Tensor:
        """The next (batch x crops, 3, S, S) images, on the device, largest crop of each stack first."""
        stacks = next(self.batches)
        self._shape = tuple(stacks.shape[:2])
        return precision.to_device(stacks.flatten(0, 1))

    @staticmethod
    def forward(model: torch.nn.Module, stacks: torch.Tensor) -> torch.Tensor:
        """The model's density maps for the stacks, as it counts (eval mode), with gradients.

        Eval mode keeps batch normalisation on its running statistics and leaves them alone: measured on VGG
        cells, letting the rescaled unlabeled crops into the batch statistics (one forward pass of labelled
        and unlabeled crops together) cost as much accuracy with a ranking weight of 0 as with 1. So the
        labelled steps are exactly those of plain training, and the ordering is asked of the counts the
        network actually gives.
        """
        model.eval()
        try:
            return model(stacks)
        finally:
            model.train()

    def loss(self, output: torch.Tensor) -> torch.Tensor:
        """Ranking loss of the density maps predicted for the last stacks (counts in objects)."""
        counts = output.float().sum(dim=(1, 2, 3)).view(self._shape) / self.density_scale
        return ranking_loss(counts, self.margin)


def unlabeled_stacks(dataset, config, sizes: dict, warn) -> RankingStacks | None:
    """The ranking stacks of ``dataset``'s unlabeled images when ``config.unlabeled`` asks for them, else None.

    Fills in ``config.rank_weight`` and ``config.rank_batch`` (so config.json records what ran); with no
    unlabeled image, ``warn``s and returns None: the run trains on the annotated images alone.
    """
    if not config.unlabeled:
        if config.rank_weight is not None or config.rank_batch is not None:
            warn("the ranking weight and stacks per step apply only with --unlabeled: ignored")
        return None
    names = dataset.images_in("unlabeled")
    if not names:
        warn("--unlabeled: this dataset has no unlabeled images (every usable image is annotated), so "
             "training uses the annotated images only")
        return None
    config.rank_weight = float(DEFAULT_RANK_WEIGHT if config.rank_weight is None else config.rank_weight)
    config.rank_batch = int(config.rank_batch or DEFAULT_RANK_BATCH)
    if config.rank_weight < 0 or config.rank_batch < 1:
        raise ValueError(f"the ranking weight must be >= 0 and the stacks per step >= 1 (got "
                         f"{config.rank_weight:g}, {config.rank_batch})")
    workers = max(1, int(config.workers or 0))
    return RankingStacks([dataset.entry(n).path for n in names], [sizes[n] for n in names], int(config.crop),
                         seed=config.seed, cache_bytes=DEFAULT_CACHE_BYTES // workers)


def ranking_term(stacks: RankingStacks, config, start_step: int, pin_memory: bool = False,
                 rank: int = 0, world: int = 1) -> RankingTerm:
    """The ranking term of a run whose next training step is ``start_step`` (0, or where a resume starts).

    ``rank`` of ``world`` processes (torchrun) draws its own ``config.rank_batch`` stacks of each step.
    """
    batches = ranking_loader(stacks, config.rank_batch, start_step, int(config.workers or 0), pin_memory,
                             rank, world)
    return RankingTerm(batches, config.rank_weight)
