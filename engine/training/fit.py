"""Training a counting network on a CrowdGUI dataset folder: ``fit(TrainConfig(...), events)``.

A run folder (``config.out``) receives ``config.json`` (the resolved configuration, which ``--resume`` reads
back), ``metrics.jsonl`` (every event, one JSON object per line, for the GUI's history), ``last.pt`` (written
every epoch and on stop, with the training state needed to resume) and ``best.pt`` (the lowest validation MAE,
or the lowest training loss when there are no validation images).

Under ``torchrun`` (engine/training/distributed.py) every process runs ``fit``: ``--batch`` crops per process, a global
batch of batch x processes, the learning rate scaled by sqrt(processes) (Adam's square-root rule), and rank 0
alone reports events and writes the run folder; its checkpoints are the same as a single process's.

``--epochs`` and ``--minutes`` are totals for the run, counted across resumes. The configuration and result
types live in engine/training/config.py (no torch there); the plain epoch/evaluate steps in engine/training/loop.py.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch

from engine.atomic import remove_stale_temp_files
from engine.dataset import ImageReadError
from engine.dataset.sidecar import atomic_write_bytes
from engine.events import EventSink
from engine.models import get_model, pretrained_capable
from engine.models.contract import DEFAULT_DENSITY_SCALE
from engine.models.device import cpu_threads, pick_device
from engine.training.budget import run_progress, validation_due
from engine.training.config import (  # noqa: F401 - re-exported: engine.training.fit is where callers look
    BEST_FILE,
    CONFIG_FILE,
    DEFAULT_EPOCHS,
    DEFAULT_MODEL,
    LAST_FILE,
    TrainConfig,
    TrainingError,
    TrainResult,
    resolve_config,
)
from engine.training.distributed import RankLog, World
from engine.training.loaders import TrainingData, build_loaders, open_dataset
from engine.training.loop import (
    LRSchedule,
    NonFiniteLoss,
    Precision,
    WeightAverage,
    evaluate,
    train_one_epoch,
)
from engine.training.point_losses import POINT_LOSSES
from engine.training.ranking import ranking_term
from engine.training.report import ProgressMeter, RunLog, eta_seconds
from engine.training.state import Trainee, TrainingState, checkpoint_record, restore, training_state_record

PROGRESS_INTERVAL_S = 1.0  # progress events at most this often (and at the end of every epoch)


def fit(config: TrainConfig, events: EventSink,
        stop_requested: Callable[[], bool] | None = None) -> TrainResult:
    """Train as ``config`` says, reporting through ``events``; stops between steps when ``stop_requested()``.

    Raises TrainingError (after an ``error`` event) for bad input and for a loss that stops being finite.
    """
    out = Path(config.out)
    try:
        world = World.from_env()  # torchrun's ranks, or a world of one
    except ValueError as exc:
        events.error(str(exc))
        raise TrainingError(str(exc)) from None
    out.mkdir(parents=True, exist_ok=True)
    if world.is_main:  # rank 0 alone writes the run folder (another rank could delete its temp files)
        # A run folder has one writer, this run: temporary files in it are those of a killed session's
        # checkpoint writes (up to a checkpoint's size each), whatever their age.
        remove_stale_temp_files(out, min_age_s=0)
    log = RunLog(out, events) if world.is_main else RankLog(world.rank)
    try:
        return _Run(config, log, stop_requested or (lambda: False), world).run()
    except TrainingError as exc:
        log.error(str(exc))
        raise
    except ImageReadError as exc:  # damage a folder scan cannot see shows only when the pixels are decoded
        message = (f"{exc}. Training stopped; move that image out of the folder (or replace it) and continue "
                   f"with --resume: the checkpoints already saved are intact")
        log.error(message)
        raise TrainingError(message) from None
    except BaseException as exc:  # the command line reports it; the run's history must show it ended too
        log.record_only("error", message=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        raise
    finally:
        log.close()
        world.close()


NO_VALIDATION = ("no validation images: MAE/RMSE cannot be measured and best.pt keeps the epoch with the lowest "
                 "training loss (mark some images as validation, or raise the validation fraction)")


def _write_config(out: Path, config: TrainConfig) -> None:
    """Write the resolved configuration that ``--resume`` reads back."""
    try:
        atomic_write_bytes(out / CONFIG_FILE, (json.dumps(config.to_json(), indent=2) + "\n").encode())
    except OSError as exc:  # e.g. a full disk: nothing of the run was changed yet
        raise TrainingError(f"cannot write {out / CONFIG_FILE}: {exc.strerror or exc}. Nothing was changed in "
                            "the run folder; free some space and try again.") from None


def _start_fields(config: TrainConfig, data: TrainingData, *, device: torch.device, lr: float, world: World,
                  resumed_step: int | None, pretrained: str, out: Path) -> dict:
    """The ``start`` event: what the run is about to do."""
    by_time, stacks = config.epochs is None, data.rank_stacks
    return {"command": "train", "model": config.model, "device": str(device),
            "total": round(config.minutes * 60) if by_time else config.epochs * data.steps_per_epoch,
            "unit": "seconds" if by_time else "steps", "epochs": config.epochs, "minutes": config.minutes,
            "steps_per_epoch": data.steps_per_epoch, "train_images": len(data.train_names),
            "val_images": len(data.val_names), "batch": config.batch, "crop": config.crop, "lr": lr,
            "world_size": world.size, "global_batch": config.batch * world.size,
            "unlabeled_images": len(stacks) if stacks is not None else 0,
            "rank_weight": config.rank_weight if stacks is not None else None,
            "threads": torch.get_num_threads() if device.type == "cpu" else None,
            "resumed_from_step": resumed_step, "pretrained": pretrained, "loss": config.loss,
            "classes": config.classes, "run_dir": str(out)}


def _use_cpu_threads(asked: int | None) -> None:
    """``--threads``, else every core this process may use, unless OMP_NUM_THREADS already decided."""
    threads = asked or (None if "OMP_NUM_THREADS" in os.environ else cpu_threads())
    if threads:
        torch.set_num_threads(int(threads))


def _read_last(path: Path) -> dict:
    from engine.models.checkpoint import CheckpointError, load_checkpoint

    try:
        return load_checkpoint(path)
    except CheckpointError as exc:
        raise TrainingError(f"cannot resume from {path}: {exc}") from None


class _Run:
    """One call of ``fit``: set-up, the epoch loop, checkpoints. ``state`` is what last.pt saves and resumes."""

    def __init__(self, config: TrainConfig, log: RunLog, stop_requested: Callable[[], bool],
                 world: World | None = None):
        self.config, self.log, self.stop_requested = config, log, stop_requested
        self.world = world or World()
        self.session_crops = 0  # crops this process trained on in this session (reported per rank)
        self.out = Path(config.out)
        self.state = TrainingState()

    # ------------------------------------------------------------------ set-up
    def _setup(self) -> None:
        dataset = open_dataset(self.config)
        self.config = self.config.with_classes(dataset.settings.class_names())
        torch.manual_seed(self.config.seed)  # before the model is built: its initial weights come from this
        try:
            self.device = self.world.start(pick_device(self.config.device))
            model = get_model(self.config.model, **self.config.model_config)
        except Exception as exc:  # DeviceError, unknown model, bad width ...: one plain message
            raise TrainingError(str(exc).strip("'\"")) from None
        resolved = resolve_config(self.config, model_defaults=getattr(type(model), "training_defaults", {}),
                                  size_multiple=math.lcm(int(model.input_multiple), int(type(model).stride)),
                                  device_type=self.device.type, spare_threads=cpu_threads() - 1,
                                  dataset_density=dataset.settings.density)
        self.config = config = resolved.config
        for warning in resolved.warnings:
            self.log.warning(warning)
        self.global_batch = config.batch * self.world.size
        # config.lr is the rate for one process's batch; a global batch of N times that takes sqrt(N) times
        # the rate (the square-root rule for Adam: Malladi et al. 2022), config.json keeps the base rate.
        self.lr = config.lr * math.sqrt(self.world.size)
        model = self.world.prepare_model(model, config.batch)
        if self.device.type == "cpu":
            _use_cpu_threads(config.threads)
        cuda = self.device.type == "cuda"
        amp = cuda if config.amp is None else bool(config.amp and cuda)
        channels_last = True if config.channels_last is None else config.channels_last
        self.precision = Precision(self.device, amp=amp, channels_last=channels_last)
        self.data = build_loaders(config, dataset, model, self.world, self.device, self.log.warning)
        self.ranking = None  # made at the first step of this session, so a resume continues its stacks
        model.to(self.device)
        if self.precision.channels_last:
            model.to(memory_format=torch.channels_last)
        self.trainee = Trainee(model, torch.optim.Adam(model.parameters(), lr=self.lr), LRSchedule(self.lr),
                               torch.amp.GradScaler("cuda") if self.precision.amp else None)

    def _start_weights(self) -> None:
        config, model = self.config, self.trainee.model
        if config.resume:
            path = self.out / LAST_FILE
            self.state = restore(_read_last(path), self.trainee, path=path, model_name=config.model,
                                 average_weights=config.average_weights, lr=self.lr,
                                 global_batch=self.global_batch, steps_per_epoch=self.data.steps_per_epoch,
                                 pretrained_note=self.state.pretrained_note, classes=config.classes)
            return
        if hasattr(model, "calibrate"):  # CMTL: count classes spanning the training images' densities
            model.calibrate(self.data.train_counts_per_pixel)
        if config.pretrained:
            if not hasattr(model, "load_pretrained"):
                raise TrainingError(f"{config.model} has no pretrained weights option "
                                    f"({' and '.join(pretrained_capable())} have)")
            try:
                self.state.pretrained_note = model.load_pretrained(config.pretrained)
            except ValueError as exc:
                raise TrainingError(f"cannot use the pretrained weights: {exc}") from None
        # The average starts from the starting weights (so after calibration and pretrained weights).
        self.trainee.average = WeightAverage(model) if config.average_weights else None

    # ------------------------------------------------------------------- the loop
    def run(self) -> TrainResult:
        self._setup()
        self._start_weights()
        config = self.config
        # DDP broadcasts rank 0's weights; after the resume, so rank 0 cannot overwrite last.pt before all read it.
        self.train_model = self.world.wrap(self.trainee.model)
        if self.world.is_main:
            _write_config(self.out, config)
        self.session_start, self.session_steps, self.val_seconds = time.monotonic(), 0, 0.0
        self.session_val_seconds, self.last_val_end = 0.0, self.session_start
        self.meter = ProgressMeter(self.log, PROGRESS_INTERVAL_S)
        self.log.emit("start", **_start_fields(config, self.data, device=self.device, lr=self.lr, world=self.world,
                                               resumed_step=self.state.step if config.resume else None,
                                               pretrained=self.state.pretrained_note, out=self.out))
        if not self.data.val_names:
            self.log.warning(NO_VALIDATION)
        stopped = self._loop()
        last = self.out / LAST_FILE
        best = self.out / BEST_FILE
        result = TrainResult(best if best.exists() else None, last if last.exists() else None, self.state.epoch,
                             self.state.step, self.state.best_metrics.get("val_mae"), self.state.best_metrics.get("val_rmse"),
                             stopped, round(self._elapsed(), 1))
        # Every rank's own count of steps and crops (all-reduced): shows that all of them trained.
        self.log.emit("done", **asdict(result), world_size=self.world.size,
                      rank_steps=[int(v) for v in self.world.gather(self.session_steps)],
                      rank_crops=[int(v) for v in self.world.gather(self.session_crops)])
        return result

    def _loop(self) -> str:
        while self.config.epochs is None or self.state.epoch < self.config.epochs:
            stop, spent = self.world.agree(  # every rank takes the same branch
                self.stop_requested(),
                self.config.minutes is not None and self._elapsed() >= self.config.minutes * 60)
            if stop:
                self._save(self.out / LAST_FILE, self.state.last_metrics, with_state=True)
                return "stop requested"
            if spent:
                return "time budget"  # a resumed run whose budget was already spent
            reason = self._train_epoch()
            if reason == "stop requested":
                self._save(self.out / LAST_FILE, self.state.last_metrics, with_state=True)
                return reason
            if not self._end_epoch(partial=reason is not None):
                return "stop requested"
            if reason:
                return reason
        return "finished"

    def _train_epoch(self) -> str | None:
        """Train the rest of the current epoch; returns why it stopped early, or None."""
        self.data.sampler.set_epoch(self.state.epoch, skip=self.state.epoch_step * self.global_batch)
        self.trainee.schedule.apply(self.trainee.optimizer, self._progress())
        self._epoch_losses: list[float] = []
        self._epoch_rank_losses: list[float] = []
        if self.data.rank_stacks is not None and self.ranking is None:
            self.ranking = ranking_term(self.data.rank_stacks, self.config, self.state.step, self.device.type == "cuda",
                                        rank=self.world.rank, world=self.world.size)
        reason = None
        budget = self.config.minutes * 60 if self.config.minutes is not None else None

        def on_step(_step_in_epoch: int, loss: float, images: int, rank_loss: float | None = None) -> bool:
            nonlocal reason
            self.state.epoch_step, self.state.step = self.state.epoch_step + 1, self.state.step + 1
            self.session_steps, self.session_crops = self.session_steps + 1, self.session_crops + images
            self._epoch_losses.append(loss)
            if rank_loss is not None:
                self._epoch_rank_losses.append(rank_loss)
            self.trainee.schedule.apply(self.trainee.optimizer, self._progress())
            self._report_progress(loss, images * self.world.size,
                                  final=self.state.epoch_step >= self.data.steps_per_epoch, rank_loss=rank_loss)
            # Leave time for the final validation inside the budget. Agreed: no rank may go on alone.
            stop, over = self.world.agree(self.stop_requested(), budget is not None
                                          and self._elapsed() + self.val_seconds >= budget)
            if stop:
                reason = "stop requested"
            elif over:
                reason = "time budget"
            return reason is not None

        try:
            train_one_epoch(self.train_model, self.data.train_loader, self.trainee.optimizer, self.precision,
                            scaler=self.trainee.scaler, average=self.trainee.average, on_step=on_step, ranking=self.ranking,
                            mean_loss=self.world.mean_loss, point_loss=POINT_LOSSES.get(self.config.loss))
        except NonFiniteLoss as exc:
            kept = (f"the last good checkpoint is {self.out / LAST_FILE} (epoch {self.state.epoch})"
                    if (self.out / LAST_FILE).exists() else "no checkpoint had been written yet")
            raise TrainingError(
                f"the training loss became {exc.value} at epoch {self.state.epoch + 1}, step {self.state.step + 1}: "
                f"training stopped. The learning rate ({self.lr:g}) is probably too high for "
                f"{self.config.model}; try a lower --lr. Nothing was saved from the failed step: {kept}"
            ) from None
        return reason

    def _end_epoch(self, partial: bool) -> bool:
        """Validate, save last.pt (and best.pt if better), report; False if a stop came while validating."""
        started = time.monotonic()
        metrics: dict = {"train_loss": (sum(self._epoch_losses) / len(self._epoch_losses)
                                        if self._epoch_losses else None)}
        if self._epoch_rank_losses:
            metrics["rank_loss"] = sum(self._epoch_rank_losses) / len(self._epoch_rank_losses)
        last_epoch = partial or (self.config.epochs is not None and self.state.epoch + 1 >= self.config.epochs)
        due = last_epoch or validation_due(started - self.last_val_end, self.val_seconds, self.config.val_time_share)
        due = self.world.agree(due)[0]  # each rank's clock differs; all validate, or none
        if self.data.val_names and due:
            result = evaluate(self.trainee.counting_model, self.data.val_loader, self.precision, DEFAULT_DENSITY_SCALE,
                              should_stop=self.stop_requested, combine=self.world.all_sum,
                              class_names=self.config.classes)
            if result is None:
                self._save(self.out / LAST_FILE, self.state.last_metrics, with_state=True)
                return False
            metrics.update({f"val_{key}": value for key, value in result.items() if key != "images"})
            self.last_val_end = time.monotonic()
            self.val_seconds = self.last_val_end - started
            self.session_val_seconds += self.val_seconds
        if not partial:
            self.state.epoch, self.state.epoch_step = self.state.epoch + 1, 0
        metrics["epoch"] = self.state.epoch if not partial else self.state.epoch + 1
        extra = {key: metrics[key] for key in ("rank_loss", "val_mae_per_class") if key in metrics}
        validated = "val_mae" in metrics
        score = metrics.get("val_mae") if self.data.val_names else metrics["train_loss"]
        improved = score is not None and score < self.state.best_score
        if improved:
            self.state.best_score, self.state.best_metrics = float(score), metrics
            self._save(self.out / BEST_FILE, metrics, with_state=False)
        self.state.last_metrics = metrics
        last = self._save(self.out / LAST_FILE, metrics, with_state=True)
        self.log.emit("epoch", epoch=metrics["epoch"], loss=metrics["train_loss"],
                      val_mae=metrics.get("val_mae"), val_rmse=metrics.get("val_rmse"),
                      checkpoint=str(self.out / BEST_FILE if improved else last), best=improved,
                      partial=partial, validated=validated, step=self.state.step,
                      lr=self.trainee.optimizer.param_groups[0]["lr"], seconds=round(self._elapsed(), 1), **extra)
        return True

    # ---------------------------------------------------------------- helpers
    def _elapsed(self) -> float:
        return self.state.elapsed_before + time.monotonic() - self.session_start

    def _progress(self) -> float:
        return run_progress(self.config, self.state.step, self.data.steps_per_epoch, self._elapsed())

    def _report_progress(self, loss: float, images: int, final: bool, rank_loss: float | None = None) -> None:
        config, by_time = self.config, self.config.epochs is None
        train_seconds = time.monotonic() - self.session_start - self.session_val_seconds
        total_steps = config.epochs * self.data.steps_per_epoch if config.epochs else None
        eta = eta_seconds(
            steps_left=None if total_steps is None else total_steps - self.state.step,
            seconds_per_step=train_seconds / max(self.session_steps, 1),
            validations_left=(config.epochs - self.state.epoch) if config.epochs and self.data.val_names else 0,
            seconds_per_validation=self.val_seconds,
            budget_left=max(config.minutes * 60 - self._elapsed(), 0.0) if config.minutes else None)
        self.meter.add(loss, images, force=final, rank_loss=rank_loss, done=round(self._elapsed()) if by_time else self.state.step,
                       total=round(config.minutes * 60) if by_time else total_steps, epoch=self.state.epoch + 1,
                       step=self.state.step, lr=self.trainee.optimizer.param_groups[0]["lr"], eta_s=eta)

    def _save(self, path: Path, metrics: dict, with_state: bool) -> Path:
        from engine.models.checkpoint import save_checkpoint

        if not self.world.is_main:  # rank 0 writes; every rank holds the same weights
            return path
        stacks = self.data.rank_stacks
        record = checkpoint_record(self.config, self.trainee, self.state, metrics, elapsed_s=self._elapsed(),
                                   device=str(self.device), world_size=self.world.size,
                                   images=(len(self.data.train_names), len(self.data.val_names),
                                           len(stacks) if stacks is not None else 0))
        if with_state:
            record["training_state"] = training_state_record(self.state, self.trainee, self._elapsed(),
                                                             self.global_batch)
        try:
            return save_checkpoint(path, record)
        except OSError as exc:  # a full disk, a vanished network drive: the file was written atomically
            kept = f"the previous {path.name} is intact" if path.exists() else f"no {path.name} was written"
            raise TrainingError(f"cannot save {path}: {exc.strerror or exc}. Training stopped; {kept}. Free "
                                "some space and continue the run with --resume.") from None
