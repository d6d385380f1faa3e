"""What a training run is asked to do (TrainConfig) and what it gives back (TrainResult); no torch here.

The command line and the GUI build a TrainConfig without importing torch; ``engine.training.fit.fit`` runs it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

DEFAULT_MODEL = "unet"
DEFAULT_EPOCHS = 50
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

    def to_json(self) -> dict:
        return {"format": "crowdgui-train-config", **asdict(self)}

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
