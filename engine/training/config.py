"""What a training run is asked to do (TrainConfig), how its defaults are filled in (:func:`resolve_config`) and
what it gives back (TrainResult); no torch here.

The command line and the GUI build a TrainConfig without importing torch; ``engine.training.fit.fit`` runs it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from engine.density import DensitySettings

DEFAULT_MODEL = "unet"
DEFAULT_EPOCHS = 50
# Training losses (--loss): the density-map MSE, or a point-supervised one (engine/training/point_losses.py).
LOSSES = ("mse", "bayesian", "dmcount")
DEFAULT_LOSS = "mse"
# Validation skips epochs rather than take more than about this share of a run's time (--val-time).
DEFAULT_VAL_TIME_SHARE = 0.1
# The files of a run folder (engine/training/runs.py reads them by the same names).
CONFIG_FILE, LAST_FILE, BEST_FILE = "config.json", "last.pt", "best.pt"


class TrainingError(Exception):
    """Training cannot start or cannot go on; the message says why in plain words."""


@dataclass
class TrainConfig:
    """Everything one training run needs. ``None`` means "the default" (the model's, or the dataset's)."""

    dataset: str
    out: str
    model: str = DEFAULT_MODEL
    model_config: dict = field(default_factory=dict)
    epochs: int | None = None  # total epochs; DEFAULT_EPOCHS when neither epochs nor minutes is given
    minutes: float | None = None  # total training time budget
    device: str = "auto"
    lr: float | None = None
    batch: int | None = None
    crop: int | None = None
    density: dict | None = None  # DensitySettings fields; those missing come from the dataset's settings
    seed: int = 0
    val_fraction: float | None = None  # None: the dataset's setting; explicit splits in sidecars always win
    workers: int | None = None  # loader processes; None: 0 on the CPU (measured: loading is ~3% of a step)
    resume: bool = False
    pretrained: str | None = None  # "imagenet" or a weights file (models with load_pretrained only)
    threads: int | None = None  # CPU threads; None: every core this process may use
    samples_per_epoch: int | None = None  # crops per epoch; None: about one per training image (>= 4 batches)
    scale_range: tuple[float, float] = (0.8, 1.25)
    flip: bool = True
    amp: bool | None = None  # mixed precision; None: on CUDA only
    channels_last: bool | None = None  # None: on CUDA and CPU (measured faster on CPU too)
    average_weights: bool = True  # validate and save a moving average of the weights (see train_loop)
    unlabeled: bool = False  # also learn from the unlabeled images by ranking nested crops (engine/training/ranking.py)
    rank_weight: float | None = None  # weight of the ranking loss; None: engine.training.ranking.DEFAULT_RANK_WEIGHT
    rank_batch: int | None = None  # unlabeled stacks per step; None: engine.training.ranking.DEFAULT_RANK_BATCH
    classes: list[str] | None = None  # the dataset's classes, one output channel each (filled in by fit)
    loss: str = DEFAULT_LOSS  # one of LOSSES
    val_time_share: float | None = None  # None: DEFAULT_VAL_TIME_SHARE

    def to_json(self) -> dict:
        return {"format": "crowdgui-train-config", **asdict(self)}

    def with_classes(self, class_names: list[str]) -> TrainConfig:
        """This configuration for a model with one output channel per class of ``class_names``, in that order
        (the dataset's classes: config.json and the checkpoints record them)."""
        return replace(self, classes=list(class_names),
                       model_config={**self.model_config, "classes": len(class_names)})

    @classmethod
    def from_json(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        if "scale_range" in values:
            values["scale_range"] = tuple(values["scale_range"])
        return cls(**values)


@dataclass
class TrainResult:
    """What a finished (or stopped) run produced."""

    best_checkpoint: Path | None
    last_checkpoint: Path | None
    epochs: int
    steps: int
    best_val_mae: float | None
    best_val_rmse: float | None
    stopped: str  # "finished", "time budget" or "stop requested"
    seconds: float


@dataclass(frozen=True)
class Resolved:
    """A TrainConfig with every default filled in, and what the run must tell the user about it."""

    config: TrainConfig
    warnings: tuple[str, ...] = ()


def resolve_config(config: TrainConfig, *, model_defaults: dict, size_multiple: int, device_type: str,
                   spare_threads: int, dataset_density: DensitySettings) -> Resolved:
    """``config`` with the model's, the device's and the dataset's defaults filled in; ``config`` is unchanged.

    ``model_defaults`` is the model class's ``training_defaults``; crops are rounded to ``size_multiple`` (the
    lcm of the model's input multiple and stride). ``spare_threads`` is how many loader processes a GPU run
    may start. The result is what config.json records and what ``--resume`` reads back.
    """
    if config.loss not in LOSSES:
        raise TrainingError(f"unknown loss {config.loss!r}: choose one of {', '.join(LOSSES)}")
    val_time_share = DEFAULT_VAL_TIME_SHARE if config.val_time_share is None else float(config.val_time_share)
    if not 0 < val_time_share < 1:
        raise TrainingError(f"--val-time must be between 0 and 1 (a share of the run's time), not {val_time_share:g}")
    warnings = []
    default_lr = model_defaults.get("lr_pretrained" if config.pretrained else "lr", model_defaults.get("lr", 1e-3))
    asked_crop = int(config.crop or model_defaults.get("crop", 128))
    crop = max(size_multiple, size_multiple * round(asked_crop / size_multiple))
    if crop != asked_crop:
        warnings.append(f"crop {asked_crop} rounded to {crop}: {config.model} needs multiples of {size_multiple}")
    workers = config.workers
    if workers is None:  # a GPU step is quicker than preparing its crops in this process
        workers = 0 if device_type == "cpu" else min(4, max(spare_threads, 0))
    # config.density may name only some settings (e.g. --sigma alone): the dataset's fill in the rest.
    density = DensitySettings.from_dict({**asdict(dataset_density), **(config.density or {})})
    resolved = replace(
        config, lr=float(config.lr or default_lr),
        batch=int(config.batch or model_defaults.get("batch", 8)),  # per process
        crop=crop, workers=workers, density=asdict(density), val_time_share=val_time_share,
        epochs=DEFAULT_EPOCHS if config.epochs is None and config.minutes is None else config.epochs)
    return Resolved(resolved, tuple(warnings))
