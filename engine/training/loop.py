"""The plain pieces of training, as in torchvision's reference scripts: one epoch, one evaluation, the LR.

:func:`train_one_epoch` and :func:`evaluate` know nothing about run folders, events or checkpoints; ``fit`` in
``engine/training/fit.py`` strings them together.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.optim.swa_utils import AveragedModel

from engine.models.contract import DEFAULT_DENSITY_SCALE
from engine.training.distributed import unwrap
from engine.training.ranking import RankingTerm


class NonFiniteLoss(Exception):
    """The training loss became NaN or infinite; the step that produced it was not applied."""

    def __init__(self, value: float, step_in_epoch: int):
        super().__init__(f"the training loss became {value}")
        self.value = value
        self.step_in_epoch = step_in_epoch


@dataclass
class Precision:
    """How steps run on the device: autocast + gradient scaling (CUDA) and memory format."""

    device: torch.device
    amp: bool = False
    channels_last: bool = False

    def autocast(self):
        if self.amp:
            return torch.autocast(device_type=self.device.type, dtype=torch.float16)
        return contextlib.nullcontext()

    def to_device(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.device, non_blocking=True)
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images


def density_loss(output: torch.Tensor, target: torch.Tensor, known: torch.Tensor | None = None) -> torch.Tensor:
    """Squared error summed over the pixels of each map and over its channels (one per class), averaged over
    the batch (in float32).

    ``known`` (B, 1, h, w) weighs each cell by the share of it where the points are complete (a crop of a
    partially annotated image); None, or ones, is the plain loss.
    """
    squared = (output.float() - target).pow(2)
    if known is not None:
        squared = squared * known
    return squared.sum() / output.shape[0]


def stated_count_loss(output: torch.Tensor, count_masks: torch.Tensor, stated: torch.Tensor) -> torch.Tensor:
    """The loss of count regions on the predicted map's sum inside them, averaged over the batch.

    count_masks (B, K, h, w): each region's share of every cell (zero for unused slots); stated (B, K): the
    stated counts x density scale. Each region adds (predicted sum - stated)^2 / cells: what the summed
    squared-error loss would be if that error were spread evenly over the region's cells (the least it can
    be, by Cauchy-Schwarz), so a stated count weighs like the clicked points of the same area at best.
    Zero when the predicted sum inside equals the stated count. A stated count is of all classes together: it
    is compared with the sum over the output's channels.
    """
    cells = count_masks.sum(dim=(2, 3))
    predicted = (output.float().sum(dim=1, keepdim=True) * count_masks).sum(dim=(2, 3))
    used = cells > 0
    error = (predicted - stated).pow(2) / cells.clamp_min(1e-6)
    return torch.where(used, error, torch.zeros_like(error)).sum() / output.shape[0]


def train_one_epoch(model, loader, optimizer, precision: Precision, *, scaler=None,
                    average: WeightAverage | None = None,
                    on_step: Callable[[int, float, int], bool] | None = None,
                    ranking: RankingTerm | None = None,
                    mean_loss: Callable[[torch.Tensor], torch.Tensor] | None = None,
                    point_loss: Callable[..., torch.Tensor] | None = None,
                    density_scale: float = DEFAULT_DENSITY_SCALE) -> dict:
    """Train over ``loader`` (batches of engine.training.crops.TrainingCrops items) once; returns {"loss",
    "steps", "stopped"}. The density loss counts only what each crop knows; stated counts add their loss.

    ``average``, when given, is updated after every step. ``on_step(step_in_epoch, loss, batch_size)`` is
    called after every step; returning True stops the epoch there. A model with ``forward_with_aux(images,
    counts) -> (density, aux_loss)`` (engine/models/cmtl.py) gets its auxiliary loss added. Raises
    :class:`NonFiniteLoss` before applying a step whose loss is not finite. ``mean_loss`` (several processes,
    engine/training/distributed.py) turns the step's losses into their means over the processes before that check, so
    they all see a NaN on any of them and stop together; the losses reported are then the global batch's.

    ``ranking`` (unlabeled images, engine/training/ranking.py) adds ``weight x ranking loss`` of one stack batch per
    step; then ``on_step`` also gets ``rank_loss=`` and the result a "rank_loss" mean.

    ``point_loss`` (``--loss bayesian|dmcount``, engine/training/point_losses.py) replaces the density MSE by a
    loss on the crops' points, the output being density x ``density_scale``.
    """
    model.train()
    rank_total = 0.0
    total, steps = 0.0, 0
    with_aux = hasattr(model, "forward_with_aux")
    for images, targets, counts, regions, points in loader:
        images = precision.to_device(images)
        targets = targets.to(precision.device, non_blocking=True)
        known = regions["known"].to(precision.device, non_blocking=True)
        stacks = ranking.next_stacks(precision) if ranking is not None else None
        with precision.autocast():
            if with_aux:
                output, aux = model.forward_with_aux(images, counts)
            else:
                output, aux = model(images), None
            rank_output = ranking.forward(model, stacks) if stacks is not None else None
        if point_loss is None:
            loss = density_loss(output, targets, known)
        else:
            loss = point_loss(output, points, known, density_scale=density_scale,
                              stride=images.shape[-1] / output.shape[-1])
        if bool(regions["count_masks"].any()):  # only batches with stated counts: others train as before
            loss = loss + stated_count_loss(output, regions["count_masks"].to(precision.device),
                                            regions["stated"].to(precision.device))
        if aux is not None:
            loss = loss + aux.float()
        extra = {}
        parts = [loss.detach().float()]
        if stacks is not None:
            rank = ranking.loss(rank_output)
            parts.append(rank.detach().float())
            loss = loss + ranking.weight * rank
        parts = torch.stack(parts) if mean_loss is None else mean_loss(torch.stack(parts))
        value = float(parts[0])
        if stacks is not None:
            extra["rank_loss"] = float(parts[1])
        if not math.isfinite(value) or not math.isfinite(extra.get("rank_loss", 0.0)):
            raise NonFiniteLoss(value if not math.isfinite(value) else extra["rank_loss"], steps)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        if average is not None:
            average.update(model)
        steps += 1
        total += value
        rank_total += extra.get("rank_loss", 0.0)
        if on_step is not None and on_step(steps, value, images.shape[0], **extra):
            return _epoch_result(total, rank_total, steps, ranking, stopped=True)
    return _epoch_result(total, rank_total, steps, ranking, stopped=False)


def _epoch_result(total: float, rank_total: float, steps: int, ranking, stopped: bool) -> dict:
    result = {"loss": total / max(steps, 1), "steps": steps, "stopped": stopped}
    if ranking is not None:
        result["rank_loss"] = rank_total / max(steps, 1)
    return result


@torch.no_grad()
def evaluate(model, loader, precision: Precision, density_scale: float,
             should_stop: Callable[[], bool] | None = None,
             combine: Callable[[list[float]], list[float]] | None = None,
             class_names: list[str] | None = None) -> dict | None:
    """Count every image of ``loader`` (batches of one engine.training.crops.WholeImages item); returns {"mae", "rmse",
    "images"}. Partial images are compared inside their known cells only (engine.dataset.regions.scored_cells).
    The total is the sum over the output's channels; with 2+ ``class_names`` (the channels' classes) the
    result also has "mae_per_class" {name: MAE}, each channel compared with its class's count where the
    points are complete.

    Returns None when ``should_stop()`` turned true before the end (the numbers would be partial).
    ``combine`` (several processes, each with its own share of the images) sums [absolute errors, squared
    errors, images, stopped, absolute errors per class ...] over the processes; it is called once, also by a
    process that stopped early.
    """
    model.eval()
    errors, stopped = [], False
    class_names = class_names if class_names is not None and len(class_names) > 1 else []
    class_errors = torch.zeros(len(class_names), dtype=torch.float64)
    for images, counts, _, cells, known, by_class in loader:
        if should_stop is not None and should_stop():
            stopped = True
            break
        with precision.autocast():
            output = model(precision.to_device(images))
        first, rows, columns = (int(v) for v in cells[0])  # one image per batch; the rest is mirrored margin
        image_cells = output[:, :, first:first + rows, first:first + columns]
        own = image_cells
        if known.numel():  # a partial image: only the cells whose count is known
            own = own * known.to(own.device)[:, None]
        predicted = own.float().sum(dim=(1, 2, 3)).cpu() / density_scale
        errors.extend((predicted - counts).tolist())
        if len(class_errors):
            class_errors += _class_errors(image_cells, by_class, density_scale)
    totals = [sum(abs(e) for e in errors), sum(e * e for e in errors), len(errors), float(stopped),
              *class_errors.tolist()]
    totals = combine(totals) if combine is not None else totals
    (absolute, squared, images, stops), class_totals = totals[:4], totals[4:]
    if stops:
        return None
    if not images:
        return {"mae": None, "rmse": None, "images": 0}
    result = {"mae": absolute / images, "rmse": math.sqrt(squared / images), "images": int(images)}
    if class_totals:
        result["mae_per_class"] = {name: error / images for name, error in zip(class_names, class_totals)}
    return result


def _class_errors(image_cells: torch.Tensor, by_class: dict, density_scale: float) -> torch.Tensor:
    """|predicted - true| count per class of one image (a batch of one), where its class counts are known."""
    if by_class["known"].numel():
        image_cells = image_cells * by_class["known"].to(image_cells.device)[:, None]
    predicted = image_cells.float().sum(dim=(2, 3)).cpu().double() / density_scale
    return (predicted - by_class["counts"].double()).abs().sum(dim=0)


class WeightAverage:
    """An exponential moving average of a model's weights and buffers, which is what gets validated and saved.

    Short runs with few steps per epoch leave the raw weights (and batch-norm statistics) noisy from one step
    to the next, so the validation MAE jumps around; the average follows the same training but is much
    steadier. The decay ramps up as (1 + n) / (10 + n) so the first steps are not drowned by the initial
    weights.

    torch.optim.swa_utils.AveragedModel keeps the copy and walks the parameters and buffers; only the decay
    ramp and "integer buffers (num_batches_tracked) are copied, not averaged" are ours (:meth:`_blend`).
    """

    def __init__(self, model: torch.nn.Module, max_decay: float = 0.995):
        self.max_decay = float(max_decay)
        self.averaged = AveragedModel(model, multi_avg_fn=self._blend, use_buffers=True)
        self.averaged.update_parameters(model)  # AveragedModel's first update copies: start at these weights
        self.model = self.averaged.module.eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)

    @property
    def updates(self) -> int:
        """Training steps averaged in since the starting weights."""
        return int(self.averaged.n_averaged) - 1

    @updates.setter
    def updates(self, value: int) -> None:
        self.averaged.n_averaged.fill_(int(value) + 1)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.averaged.update_parameters(unwrap(model))  # the network's own tensors, also when DDP wraps it

    def _blend(self, averages: list[torch.Tensor], values: list[torch.Tensor], n_averaged: torch.Tensor) -> None:
        """One update of tensors of one dtype; ``n_averaged`` - 1 updates came before this one."""
        updates = int(n_averaged)
        decay = min(self.max_decay, (1 + updates) / (10 + updates))
        if not averages[0].dtype.is_floating_point:  # counters such as num_batches_tracked
            torch._foreach_copy_(averages, values)
            return
        torch._foreach_mul_(averages, decay)
        torch._foreach_add_(averages, values, alpha=1 - decay)


class LRSchedule:
    """Linear warm-up then cosine decay, driven by the run's progress in 0..1 (steps or time budget).

    Progress rather than step numbers, so one schedule serves ``--epochs`` (progress = step / total steps) and
    ``--minutes`` (progress = training seconds / budget). Its state is two floats: it resumes exactly.
    """

    WARMUP = 0.03  # share of the run spent ramping up from START x lr
    START = 0.1
    FINAL = 0.05  # the last learning rate, as a fraction of the base one

    def __init__(self, base_lr: float):
        self.base_lr = float(base_lr)
        self.progress = 0.0

    def lr_at(self, progress: float) -> float:
        progress = min(max(progress, 0.0), 1.0)
        if progress < self.WARMUP:
            return self.base_lr * (self.START + (1 - self.START) * progress / self.WARMUP)
        cosine = 0.5 * (1 + math.cos(math.pi * (progress - self.WARMUP) / (1 - self.WARMUP)))
        return self.base_lr * (self.FINAL + (1 - self.FINAL) * cosine)

    def apply(self, optimizer, progress: float) -> float:
        """Set the optimizer's learning rate for ``progress``; returns it."""
        self.progress = float(progress)
        lr = self.lr_at(progress)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return lr

    def state_dict(self) -> dict:
        return {"base_lr": self.base_lr, "progress": self.progress}

    def load_state_dict(self, state: dict) -> None:
        self.base_lr = float(state["base_lr"])
        self.progress = float(state["progress"])
