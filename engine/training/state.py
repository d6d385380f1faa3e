"""The state of a training run that ``last.pt`` saves and ``--resume`` restores, in one dataclass.

:class:`TrainingState` holds the run's counters and scores; :class:`Trainee` the objects that learn (the
model, its optimizer, schedule, gradient scaler and weight average). :func:`training_state_record` writes
both into a checkpoint's ``training_state`` and :func:`restore` reads the same keys back, so save and resume
cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from engine.models.contract import DEFAULT_DENSITY_SCALE, DEFAULT_NORMALIZATION
from engine.models.pretrained import FROM_SCRATCH
from engine.training.config import TrainConfig, TrainingError
from engine.training.loop import LRSchedule, WeightAverage


@dataclass
class TrainingState:
    """Where a run is: what ``last.pt`` saves besides the weights, and what a resume continues from."""

    epoch: int = 0  # epochs done
    epoch_step: int = 0  # steps into the current epoch
    step: int = 0  # steps in total
    elapsed_before: float = 0.0  # training seconds of earlier sessions of this run
    best_score: float = math.inf
    best_metrics: dict = field(default_factory=dict)
    last_metrics: dict = field(default_factory=dict)
    pretrained_note: str = FROM_SCRATCH


@dataclass
class Trainee:
    """What learns: the model, its optimizer, LR schedule, gradient scaler (CUDA AMP) and weight average."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    schedule: LRSchedule
    scaler: torch.amp.GradScaler | None = None
    average: WeightAverage | None = None

    @property
    def counting_model(self) -> torch.nn.Module:
        """The weights that are validated and saved for counting: the moving average when there is one."""
        return self.average.model if self.average is not None else self.model


def checkpoint_record(config: TrainConfig, trainee: Trainee, state: TrainingState, metrics: dict, *,
                      elapsed_s: float, device: str, world_size: int, images: tuple[int, int, int]) -> dict:
    """A checkpoint of the counting weights with what is needed to use them (engine.models.checkpoint).

    ``images`` is (training, validation, unlabeled) image counts, for the training summary.
    """
    model = trainee.counting_model
    train_images, val_images, unlabeled_images = images
    return {
        "arch": config.model, "model_config": dict(model.config), "stride": int(type(model).stride),
        "input_multiple": int(model.input_multiple), "normalization": DEFAULT_NORMALIZATION,
        "density_scale": DEFAULT_DENSITY_SCALE, "density": dict(config.density),
        # Named only with 2+ classes: a one-class checkpoint stays as it was (checkpoint_classes reads both).
        **({"classes": list(config.classes)} if config.classes and len(config.classes) > 1 else {}),
        "train_summary": {
            "dataset": str(Path(config.dataset).resolve()), "train_images": train_images,
            "val_images": val_images, "epochs": state.epoch, "steps": state.step,
            "seconds": round(elapsed_s, 1), "device": device, "pretrained": state.pretrained_note,
            "lr": config.lr, "batch": config.batch, "crop": config.crop, "seed": config.seed,
            "unlabeled_images": unlabeled_images,
            "rank_weight": config.rank_weight if unlabeled_images else None,
            "world_size": world_size,
        },
        "metrics": {k: v for k, v in metrics.items() if v is not None},
        # Plain contiguous CPU tensors: the file loads anywhere, whatever memory format training used.
        "state_dict": {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()},
    }


def training_state_record(state: TrainingState, trainee: Trainee, elapsed_s: float, global_batch: int) -> dict:
    """The ``training_state`` of a checkpoint: everything :func:`restore` needs to continue the run."""
    return {
        "model": {k: v.detach().to("cpu").contiguous() for k, v in trainee.model.state_dict().items()},
        "average_updates": trainee.average.updates if trainee.average is not None else 0,
        "epoch": state.epoch, "epoch_step": state.epoch_step, "step": state.step,
        "elapsed_s": elapsed_s, "optimizer": trainee.optimizer.state_dict(),
        "global_batch": global_batch,
        "scheduler": trainee.schedule.state_dict(),
        "scaler": trainee.scaler.state_dict() if trainee.scaler is not None else None,
        "rng_torch": torch.get_rng_state(), "best_score": state.best_score,
        "best_metrics": {k: v for k, v in state.best_metrics.items() if v is not None},
    }


def restore(record: dict, trainee: Trainee, *, path, model_name: str, average_weights: bool, lr: float,
            global_batch: int, steps_per_epoch: int, pretrained_note: str,
            classes: list[str] | None = None) -> TrainingState:
    """Load a ``last.pt`` record into ``trainee`` (weights, optimizer, average ...) and return its state.

    ``classes``: the dataset's classes now; a run trained on other classes cannot go on (its channels would
    mean something else).

    ``lr`` is the run's rate now (a new one may be given on the command line); a different global batch
    continues the epoch at the same crop, rounded down. Raises TrainingError for a record that does not fit.
    """
    saved = record.get("training_state")
    if saved is None:
        raise TrainingError(f"cannot resume: {path} has no training state (only weights)")
    if record["arch"] != model_name:
        raise TrainingError(f"cannot resume: {path} holds a {record['arch']} run, not {model_name}")
    _check_classes(record, classes, path)
    try:
        # "state_dict" holds the weights counting uses (the average); the raw ones travel in the state.
        trainee.model.load_state_dict(saved.get("model", record["state_dict"]))
        trainee.optimizer.load_state_dict(saved["optimizer"])
        trainee.average = WeightAverage(trainee.model) if average_weights else None
        if trainee.average is not None and "model" in saved:
            trainee.average.model.load_state_dict(record["state_dict"])
            trainee.average.updates = int(saved.get("average_updates", 0))
    except (RuntimeError, ValueError, KeyError) as exc:
        raise TrainingError(f"cannot resume: {path} does not fit this model's configuration ({exc})") from None
    trainee.schedule.load_state_dict(saved["scheduler"])
    trainee.schedule.base_lr = lr  # the run's lr, or a new one given on the command line
    if trainee.scaler is not None and saved.get("scaler"):
        trainee.scaler.load_state_dict(saved["scaler"])
    torch.set_rng_state(saved["rng_torch"])
    state = TrainingState(epoch=int(saved["epoch"]), epoch_step=int(saved["epoch_step"]), step=int(saved["step"]),
                          elapsed_before=float(saved["elapsed_s"]), best_score=float(saved["best_score"]),
                          best_metrics=dict(saved["best_metrics"]),
                          last_metrics=dict(record.get("metrics") or {}),
                          pretrained_note=(record.get("train_summary") or {}).get("pretrained", pretrained_note))
    saved_batch = int(saved.get("global_batch", (record.get("train_summary") or {}).get("batch", 0)))
    if saved_batch and saved_batch != global_batch and state.epoch_step:
        # Another global batch (processes x --batch): continue the epoch at the same crop, rounded down.
        state.epoch_step = min(state.epoch_step * saved_batch // global_batch, steps_per_epoch)
        state.step = state.epoch * steps_per_epoch + state.epoch_step
    return state


def _check_classes(record: dict, classes: list[str] | None, path) -> None:
    """TrainingError when the dataset's classes are not those the run in ``path`` trained on."""
    from engine.models.checkpoint import checkpoint_classes

    trained = checkpoint_classes(record)
    # A one-class checkpoint names no class: a renamed single class still fits its one channel.
    if classes is None or (trained == list(classes) or len(trained) == len(classes) == 1):
        return
    raise TrainingError(
        f"cannot resume: the run in {Path(path).parent} trained on the classes {', '.join(trained)}, but the "
        f"dataset's classes are now {', '.join(classes)}. Train a new run (another output folder), or put "
        "the dataset's classes back as they were to continue this one")
