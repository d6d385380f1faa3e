"""What the training dialog collects, turned into the engine's command line (no Qt here).

The GUI runs exactly what a user would type on a server, so the dialog's whole job ends in
:meth:`TrainOptions.engine_args`. Optional numbers left at ``None`` are not passed at all: the engine then uses
its own (per-model) default, which keeps one source of truth for defaults.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

from engine.dataset.store import DatasetSettings
from engine.density import DensitySettings
from engine.training.config import DEFAULT_EPOCHS, DEFAULT_LOSS, DEFAULT_MODEL, LOSSES

BUDGETS = ("epochs", "minutes")
SIGMA_MODES = ("fixed", "adaptive")
# TrainOptions.device for "every GPU of this machine": one engine process per GPU, started by torchrun.
ALL_GPUS = "all-gpus"
# The engine's defaults, read from it rather than repeated (the dataset's own settings replace them when set).
_DENSITY_DEFAULTS = DensitySettings()
# torchrun's grace after Cancel's SIGTERM before it kills its processes; below the window's own grace
# (controller.CANCEL_GRACE_MS), so torchrun never outlives the window's patience and leaves orphans.
TORCHRUN_SHUTDOWN_S = 50


@dataclass
class TrainOptions:
    """One training request. ``None`` means "the engine's default"."""

    model: str = DEFAULT_MODEL
    budget: str = "epochs"  # "epochs" or "minutes": which of the two limits the run
    epochs: int = DEFAULT_EPOCHS
    minutes: float = 10.0
    device: str = "auto"
    val_fraction: float = DatasetSettings().val_fraction
    lr: float | None = None
    batch: int | None = None
    crop: int | None = None
    width: int | None = None
    sigma_mode: str = _DENSITY_DEFAULTS.mode
    sigma: float = _DENSITY_DEFAULTS.sigma
    beta: float = _DENSITY_DEFAULTS.beta
    k: int = _DENSITY_DEFAULTS.k
    seed: int = 0
    unlabeled: bool = False  # also learn from the unlabeled images (ranking loss, engine/training/ranking.py)
    pretrained: str = ""  # starting weights: "" from scratch, "imagenet", or a weights file's path
    loss: str = DEFAULT_LOSS  # engine.training.config.LOSSES

    def engine_args(self, dataset: Path | str, run_dir: Path | str) -> list[str]:
        """``train DATASET --model ... --out RUN_DIR ...`` (``--events jsonl`` is added by EngineJob)."""
        args = ["train", str(dataset), "--model", self.model, "--out", str(run_dir)]
        if self.budget == "minutes":
            args += ["--minutes", _number(self.minutes)]
        else:
            args += ["--epochs", str(int(self.epochs))]
        args += ["--device", engine_device(self.device), "--val-fraction", _number(self.val_fraction)]
        for flag, value in (("--lr", self.lr), ("--batch", self.batch), ("--crop", self.crop),
                            ("--width", self.width)):
            if value is not None:
                args += [flag, _number(value)]
        args += ["--sigma-mode", self.sigma_mode]
        if self.sigma_mode == "fixed":
            args += ["--sigma", _number(self.sigma)]
        else:
            # Adaptive sigma still needs a sigma for a point with no neighbours.
            args += ["--sigma", _number(self.sigma), "--beta", _number(self.beta), "--k", str(int(self.k))]
        args += ["--seed", str(int(self.seed))]
        if self.unlabeled:
            args.append("--unlabeled")
        if self.pretrained:
            args += ["--pretrained", self.pretrained]
        args += ["--loss", self.loss]
        return args

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainOptions:
        """Rebuild from a saved dict, ignoring unknown keys and falling back per field on bad values."""
        options = cls()
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            default = getattr(options, f.name)
            try:
                if value is None or value == "":
                    value = None if f.name in ("lr", "batch", "crop", "width") else default
                elif isinstance(default, bool):
                    value = str(value).lower() in ("1", "true", "yes")
                elif f.name in ("epochs", "batch", "crop", "width", "k", "seed"):
                    value = int(float(value))
                elif f.name in ("minutes", "val_fraction", "lr", "sigma", "beta"):
                    value = float(value)
                else:
                    value = str(value)
            except (TypeError, ValueError):
                value = default
            setattr(options, f.name, value)
        if options.budget not in BUDGETS:
            options.budget = "epochs"
        if options.sigma_mode not in SIGMA_MODES:
            options.sigma_mode = "fixed"
        if options.loss not in LOSSES:
            options.loss = DEFAULT_LOSS
        return options


def resume_args(dataset: Path | str, run_dir: Path | str, model: str, device: str = "auto") -> list[str]:
    """Continue a stopped run where its last checkpoint left off (the run folder keeps the rest of its config)."""
    return ["train", str(dataset), "--model", model, "--out", str(run_dir), "--resume", "--device",
            engine_device(device)]


def engine_device(device: str) -> str:
    """The engine's ``--device`` for a dialog choice (every process of ALL_GPUS uses its own CUDA device)."""
    return "cuda" if device == ALL_GPUS else device


def launch_args(command_args: list[str], device: str, gpus: int) -> list[str]:
    """The arguments after ``python`` that run ``python -m engine <command_args>`` on ``device``.

    ALL_GPUS with ``gpus`` > 1 goes through torchrun, one process per GPU; rank 0 prints the JSON events the
    window reads, and torchrun passes Cancel's SIGTERM on to every process.
    """
    if device == ALL_GPUS and gpus > 1:
        return ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={gpus}",
                f"--shutdown-timeout={TORCHRUN_SHUTDOWN_S}", "-m", "engine", *command_args]
    return ["-m", "engine", *command_args]


def _number(value: float) -> str:
    """Short, exact text for a number (no ``10.0`` for ten, no float noise like ``0.30000000000000004``)."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:.10g}"


def split_counts(dataset, val_fraction: float) -> dict[str, int]:
    """How many usable images would train, validate, be held out as test, or be unlabeled at ``val_fraction``.

    Uses the dataset's own split rule (an explicit split in a sidecar wins, otherwise a stable hash of the
    name), evaluated at the fraction the user is choosing; the dataset's saved settings are left as they were.
    """
    saved = dataset.settings.val_fraction
    dataset.settings.val_fraction = float(val_fraction)
    try:
        counts = {"train": 0, "val": 0, "test": 0, "unlabeled": 0}
        for entry in dataset:
            if entry.usable:
                split = dataset.split_of(entry.name)
                counts[split] = counts.get(split, 0) + 1
        return counts
    finally:
        dataset.settings.val_fraction = saved
