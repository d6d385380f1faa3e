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
from engine.training.crops import (
    DEFAULT_CACHE_BYTES,
    CropSettings,
    EpochSampler,
    TrainingCrops,
    WholeImages,
    labelled_images,
)
from engine.dataset import Dataset, ImageReadError
from engine.dataset.sidecar import atomic_write_bytes
from engine.density import DensitySettings
from engine.models.device import cpu_threads, pick_device
from engine.training.distributed import RankLog, World
from engine.events import EventSink
from engine.models import get_model
from engine.models.contract import DEFAULT_DENSITY_SCALE, DEFAULT_NORMALIZATION
from engine.training.ranking import ranking_term, unlabeled_stacks
from engine.training.config import (  # noqa: F401 - re-exported: engine.training.fit is where callers look
    BEST_FILE,
    CONFIG_FILE,
    DEFAULT_EPOCHS,
    DEFAULT_MODEL,
    LAST_FILE,
    TrainConfig,
    TrainingError,
    TrainResult,
)
from engine.training.loop import LRSchedule, NonFiniteLoss, Precision, WeightAverage, evaluate, train_one_epoch
from engine.training.report import ProgressMeter, RunLog, eta_seconds

PROGRESS_INTERVAL_S = 1.0  # progress events at most this often (and at the end of every epoch)
VAL_TIME_SHARE = 0.25  # validation skips epochs rather than take more than about this share of the time


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


class _Run:
    """One call of ``fit``: set-up, the epoch loop, checkpoints. Attributes are the run's live state."""

    def __init__(self, config: TrainConfig, log: RunLog, stop_requested: Callable[[], bool],
                 world: World | None = None):
        self.config, self.log, self.stop_requested = config, log, stop_requested
        self.world = world or World()
        self.session_crops = 0  # crops this process trained on in this session (reported per rank)
        self.out = Path(config.out)
        self.epoch, self.epoch_step, self.step = 0, 0, 0  # epochs done, steps into the current one, total
        self.elapsed_before = 0.0  # training seconds of earlier sessions of this run (resume)
        self.best_score, self.best_metrics, self.last_metrics = math.inf, {}, {}
        self.pretrained_note = "none (trained from scratch)"

    # ------------------------------------------------------------------ set-up
    def _setup(self) -> None:
        config = self.config
        torch.manual_seed(config.seed)  # before the model is built: its initial weights come from this
        try:
            self.device = self.world.start(pick_device(config.device))
            self.model = get_model(config.model, **config.model_config)
        except Exception as exc:  # DeviceError, unknown model, bad width ...: one plain message
            raise TrainingError(str(exc).strip("'\"")) from None
        model_cls = type(self.model)
        defaults = getattr(model_cls, "training_defaults", {})
        default_lr = defaults.get("lr_pretrained" if config.pretrained else "lr", defaults.get("lr", 1e-3))
        config.lr = float(config.lr or default_lr)
        config.batch = int(config.batch or defaults.get("batch", 8))  # per process
        self.global_batch = config.batch * self.world.size
        # config.lr is the rate for one process's batch; a global batch of N times that takes sqrt(N) times
        # the rate (the square-root rule for Adam: Malladi et al. 2022), config.json keeps the base rate.
        self.lr = config.lr * math.sqrt(self.world.size)
        self.model = self.world.prepare_model(self.model, config.batch)
        multiple = math.lcm(int(self.model.input_multiple), int(model_cls.stride))
        crop = int(config.crop or defaults.get("crop", 128))
        config.crop = max(multiple, multiple * round(crop / multiple))
        if config.crop != crop:
            self.log.warning(f"crop {crop} rounded to {config.crop}: {config.model} needs multiples of "
                             f"{multiple}")
        if config.epochs is None and config.minutes is None:
            config.epochs = DEFAULT_EPOCHS
        if config.workers is None:  # a GPU step is quicker than preparing its crops in this process
            config.workers = 0 if self.device.type == "cpu" else min(4, max(cpu_threads() - 1, 0))
        cuda = self.device.type == "cuda"
        if self.device.type == "cpu":
            threads = config.threads or (None if "OMP_NUM_THREADS" in os.environ else cpu_threads())
            if threads:
                torch.set_num_threads(int(threads))
        amp = cuda if config.amp is None else bool(config.amp and cuda)
        channels_last = True if config.channels_last is None else config.channels_last
        self.precision = Precision(self.device, amp=amp, channels_last=channels_last)
        self.scaler = torch.amp.GradScaler("cuda") if self.precision.amp else None
        self._setup_data()
        self.model.to(self.device)
        if self.precision.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self.schedule = LRSchedule(self.lr)

    def _setup_data(self) -> None:
        config = self.config
        try:
            dataset = Dataset(config.dataset)
        except (FileNotFoundError, OSError) as exc:
            raise TrainingError(f"cannot open the dataset: {exc}") from None
        if config.val_fraction is not None:
            dataset.settings.val_fraction = min(max(float(config.val_fraction), 0.0), 0.9)
        # config.density may name only some settings (e.g. --sigma alone): the dataset's fill in the rest.
        chosen = {**asdict(dataset.settings.density), **(config.density or {})}
        self.density = DensitySettings.from_dict(chosen)
        config.density = asdict(self.density)
        for problem in dataset.problems:
            self.log.warning(problem)
        self.train_names, self.val_names = dataset.images_in("train"), dataset.images_in("val")
        if not self.train_names:
            raise TrainingError(f"{dataset.folder} has no annotated images to train on (annotate some "
                                f"images, or check that they are not all in the validation or test split)")
        try:
            train_paths, train_points = labelled_images(dataset, self.train_names)
            val_paths, val_points = labelled_images(dataset, self.val_names)
        except Exception as exc:
            raise TrainingError(f"cannot read the annotations: {exc}") from None
        sizes = {e.name: (e.width, e.height) for e in dataset}
        batch, world = config.batch, self.world
        steps = max(4, math.ceil((config.samples_per_epoch or len(self.train_names)) / self.global_batch))
        self.steps_per_epoch = steps
        crops = TrainingCrops(train_paths, train_points, [sizes[n] for n in self.train_names],
                              CropSettings(config.crop, tuple(config.scale_range), config.flip),
                              type(self.model).stride, self.density, samples=steps * self.global_batch,
                              seed=config.seed,
                              cache_bytes=DEFAULT_CACHE_BYTES // max(1, config.workers))  # one cache each
        self.sampler = EpochSampler(steps * self.global_batch, seed=config.seed, rank=world.rank,
                                    world=world.size)
        # Never fork after torch ran: workers are spawned, and live across epochs (the index tells the epoch).
        spawn = {"multiprocessing_context": "spawn", "persistent_workers": True} if config.workers else {}
        pin = self.device.type == "cuda"
        self.train_loader = torch.utils.data.DataLoader(crops, batch_size=batch, sampler=self.sampler,
                                                        drop_last=True, num_workers=config.workers,
                                                        pin_memory=pin, **spawn)
        whole = WholeImages(val_paths, val_points, [sizes[n] for n in self.val_names],
                            self.model.input_multiple, stride=self.model.stride)
        # Each process validates its own whole images (no padding duplicates): the errors are summed over them.
        self.val_loader = torch.utils.data.DataLoader(whole, batch_size=1, num_workers=0, pin_memory=pin,
                                                      sampler=range(world.rank, len(whole), world.size))
        self.train_counts_per_pixel = [len(p) / (sizes[n][0] * sizes[n][1])
                                       for n, p in zip(self.train_names, train_points)]
        try:  # learning from unlabeled images (--unlabeled): None when not asked or there are none
            self.rank_stacks = unlabeled_stacks(dataset, config, sizes, self.log.warning)
        except ValueError as exc:
            raise TrainingError(str(exc)) from None
        self.ranking = None  # made at the first step of this session, so a resume continues its stacks

    def _start_weights(self) -> None:
        config = self.config
        if config.resume:
            self._resume()
            return
        if hasattr(self.model, "calibrate"):  # CMTL: count classes spanning the training images' densities
            self.model.calibrate(self.train_counts_per_pixel)
        if config.pretrained:
            if not hasattr(self.model, "load_pretrained"):
                raise TrainingError(f"{config.model} has no pretrained weights option (csrnet has)")
            try:
                loaded, self.pretrained_note = self.model.load_pretrained(config.pretrained)
            except ValueError as exc:
                raise TrainingError(f"cannot use the pretrained weights: {exc}") from None
            if not loaded:
                self.log.warning(self.pretrained_note)
        # The average starts from the starting weights (so after calibration and pretrained weights).
        self.average = WeightAverage(self.model) if config.average_weights else None

    def _resume(self) -> None:
        from engine.models.checkpoint import CheckpointError, load_checkpoint

        path = self.out / LAST_FILE
        try:
            record = load_checkpoint(path)
        except CheckpointError as exc:
            raise TrainingError(f"cannot resume from {path}: {exc}") from None
        state = record.get("training_state")
        if state is None:
            raise TrainingError(f"cannot resume: {path} has no training state (only weights)")
        if record["arch"] != self.config.model:
            raise TrainingError(f"cannot resume: {path} holds a {record['arch']} run, "
                                f"not {self.config.model}")
        try:
            # "state_dict" holds the weights counting uses (the average); the raw ones travel in the state.
            self.model.load_state_dict(state.get("model", record["state_dict"]))
            self.optimizer.load_state_dict(state["optimizer"])
            self.average = WeightAverage(self.model) if self.config.average_weights else None
            if self.average is not None and "model" in state:
                self.average.model.load_state_dict(record["state_dict"])
                self.average.updates = int(state.get("average_updates", 0))
        except (RuntimeError, ValueError, KeyError) as exc:
            raise TrainingError(f"cannot resume: {path} does not fit this model's configuration ({exc})") \
                from None
        self.schedule.load_state_dict(state["scheduler"])
        self.schedule.base_lr = self.lr  # the run's lr, or a new one given on the command line
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng_torch"])
        self.epoch, self.epoch_step = int(state["epoch"]), int(state["epoch_step"])
        self.step = int(state["step"])
        saved_batch = int(state.get("global_batch", (record.get("train_summary") or {}).get("batch", 0)))
        if saved_batch and saved_batch != self.global_batch and self.epoch_step:
            # Another global batch (processes x --batch): continue the epoch at the same crop, rounded down.
            self.epoch_step = min(self.epoch_step * saved_batch // self.global_batch, self.steps_per_epoch)
            self.step = self.epoch * self.steps_per_epoch + self.epoch_step
        self.elapsed_before = float(state["elapsed_s"])
        self.best_score = float(state["best_score"])
        self.best_metrics, self.last_metrics = dict(state["best_metrics"]), dict(record.get("metrics") or {})
        self.pretrained_note = (record.get("train_summary") or {}).get("pretrained", self.pretrained_note)

    # ------------------------------------------------------------------- the loop
    def run(self) -> TrainResult:
        self._setup()
        self._start_weights()
        config = self.config
        # DDP broadcasts rank 0's weights; after the resume, so rank 0 cannot overwrite last.pt before all read it.
        self.train_model = self.world.wrap(self.model)
        if self.world.is_main:
            try:
                atomic_write_bytes(self.out / CONFIG_FILE,
                                   (json.dumps(config.to_json(), indent=2) + "\n").encode())
            except OSError as exc:  # e.g. a full disk: nothing of the run was changed yet
                raise TrainingError(f"cannot write {self.out / CONFIG_FILE}: {exc.strerror or exc}. Nothing was "
                                    "changed in the run folder; free some space and try again.") from None
        self.session_start, self.session_steps, self.val_seconds = time.monotonic(), 0, 0.0
        self.session_val_seconds, self.last_val_end = 0.0, self.session_start
        self.meter = ProgressMeter(self.log, PROGRESS_INTERVAL_S)
        by_time = config.epochs is None
        self.log.emit("start", command="train", model=config.model, device=str(self.device),
                      total=round(config.minutes * 60) if by_time else config.epochs * self.steps_per_epoch,
                      unit="seconds" if by_time else "steps", epochs=config.epochs, minutes=config.minutes,
                      steps_per_epoch=self.steps_per_epoch, train_images=len(self.train_names),
                      val_images=len(self.val_names), batch=config.batch, crop=config.crop, lr=self.lr,
                      world_size=self.world.size, global_batch=self.global_batch,
                      unlabeled_images=len(self.rank_stacks) if self.rank_stacks is not None else 0,
                      rank_weight=config.rank_weight if self.rank_stacks is not None else None,
                      threads=torch.get_num_threads() if self.device.type == "cpu" else None,
                      resumed_from_step=self.step if config.resume else None,
                      pretrained=self.pretrained_note, run_dir=str(self.out))
        if not self.val_names:
            self.log.warning("no validation images: MAE/RMSE cannot be measured and best.pt keeps the epoch "
                             "with the lowest training loss (mark some images as validation, or raise "
                             "the validation fraction)")
        stopped = self._loop()
        last = self.out / LAST_FILE
        best = self.out / BEST_FILE
        result = TrainResult(best if best.exists() else None, last if last.exists() else None, self.epoch,
                             self.step, self.best_metrics.get("val_mae"), self.best_metrics.get("val_rmse"),
                             stopped, round(self._elapsed(), 1))
        # Every rank's own count of steps and crops (all-reduced): shows that all of them trained.
        self.log.emit("done", **asdict(result), world_size=self.world.size,
                      rank_steps=[int(v) for v in self.world.gather(self.session_steps)],
                      rank_crops=[int(v) for v in self.world.gather(self.session_crops)])
        return result

    def _loop(self) -> str:
        while self.config.epochs is None or self.epoch < self.config.epochs:
            stop, spent = self.world.agree(  # every rank takes the same branch
                self.stop_requested(),
                self.config.minutes is not None and self._elapsed() >= self.config.minutes * 60)
            if stop:
                self._save(self.out / LAST_FILE, self.last_metrics, with_state=True)
                return "stop requested"
            if spent:
                return "time budget"  # a resumed run whose budget was already spent
            reason = self._train_epoch()
            if reason == "stop requested":
                self._save(self.out / LAST_FILE, self.last_metrics, with_state=True)
                return reason
            if not self._end_epoch(partial=reason is not None):
                return "stop requested"
            if reason:
                return reason
        return "finished"

    def _train_epoch(self) -> str | None:
        """Train the rest of the current epoch; returns why it stopped early, or None."""
        self.sampler.set_epoch(self.epoch, skip=self.epoch_step * self.global_batch)
        self.schedule.apply(self.optimizer, self._progress())
        self._epoch_losses: list[float] = []
        self._epoch_rank_losses: list[float] = []
        if self.rank_stacks is not None and self.ranking is None:
            self.ranking = ranking_term(self.rank_stacks, self.config, self.step, self.device.type == "cuda",
                                        rank=self.world.rank, world=self.world.size)
        reason = None
        budget = self.config.minutes * 60 if self.config.minutes is not None else None

        def on_step(_step_in_epoch: int, loss: float, images: int, rank_loss: float | None = None) -> bool:
            nonlocal reason
            self.epoch_step, self.step = self.epoch_step + 1, self.step + 1
            self.session_steps, self.session_crops = self.session_steps + 1, self.session_crops + images
            self._epoch_losses.append(loss)
            if rank_loss is not None:
                self._epoch_rank_losses.append(rank_loss)
            self.schedule.apply(self.optimizer, self._progress())
            self._report_progress(loss, images * self.world.size,
                                  final=self.epoch_step >= self.steps_per_epoch, rank_loss=rank_loss)
            # Leave time for the final validation inside the budget. Agreed: no rank may go on alone.
            stop, over = self.world.agree(self.stop_requested(), budget is not None
                                          and self._elapsed() + self.val_seconds >= budget)
            if stop:
                reason = "stop requested"
            elif over:
                reason = "time budget"
            return reason is not None

        try:
            train_one_epoch(self.train_model, self.train_loader, self.optimizer, self.precision,
                            scaler=self.scaler, average=self.average, on_step=on_step, ranking=self.ranking,
                            mean_loss=self.world.mean_loss)
        except NonFiniteLoss as exc:
            kept = (f"the last good checkpoint is {self.out / LAST_FILE} (epoch {self.epoch})"
                    if (self.out / LAST_FILE).exists() else "no checkpoint had been written yet")
            raise TrainingError(
                f"the training loss became {exc.value} at epoch {self.epoch + 1}, step {self.step + 1}: "
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
        last_epoch = partial or (self.config.epochs is not None and self.epoch + 1 >= self.config.epochs)
        # Validation may take at most about VAL_TIME_SHARE of the time (big images, small epochs): when the
        # last one took longer than that share of the training since, this epoch is not validated.
        due = last_epoch or started - self.last_val_end >= self.val_seconds * (1 / VAL_TIME_SHARE - 1)
        due = self.world.agree(due)[0]  # each rank's clock differs; all validate, or none
        if self.val_names and due:
            result = evaluate(self._counting_model(), self.val_loader, self.precision, DEFAULT_DENSITY_SCALE,
                              should_stop=self.stop_requested, combine=self.world.all_sum)
            if result is None:
                self._save(self.out / LAST_FILE, self.last_metrics, with_state=True)
                return False
            metrics.update(val_mae=result["mae"], val_rmse=result["rmse"])
            self.last_val_end = time.monotonic()
            self.val_seconds = self.last_val_end - started
            self.session_val_seconds += self.val_seconds
        if not partial:
            self.epoch, self.epoch_step = self.epoch + 1, 0
        metrics["epoch"] = self.epoch if not partial else self.epoch + 1
        rank = {"rank_loss": metrics["rank_loss"]} if "rank_loss" in metrics else {}
        validated = "val_mae" in metrics
        score = metrics.get("val_mae") if self.val_names else metrics["train_loss"]
        improved = score is not None and score < self.best_score
        if improved:
            self.best_score, self.best_metrics = float(score), metrics
            self._save(self.out / BEST_FILE, metrics, with_state=False)
        self.last_metrics = metrics
        last = self._save(self.out / LAST_FILE, metrics, with_state=True)
        self.log.emit("epoch", epoch=metrics["epoch"], loss=metrics["train_loss"],
                      val_mae=metrics.get("val_mae"), val_rmse=metrics.get("val_rmse"),
                      checkpoint=str(self.out / BEST_FILE if improved else last), best=improved,
                      partial=partial, validated=validated, step=self.step,
                      lr=self.optimizer.param_groups[0]["lr"], seconds=round(self._elapsed(), 1), **rank)
        return True

    # ---------------------------------------------------------------- helpers
    def _counting_model(self) -> torch.nn.Module:
        """The weights that are validated and saved for counting: the moving average when there is one."""
        return self.average.model if self.average is not None else self.model

    def _elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.session_start

    def _progress(self) -> float:
        """How far the run is, 0..1, by steps and/or by time (the further of the two)."""
        done = 0.0
        if self.config.epochs:
            done = self.step / (self.config.epochs * self.steps_per_epoch)
        if self.config.minutes:
            done = max(done, self._elapsed() / (self.config.minutes * 60))
        return done

    def _report_progress(self, loss: float, images: int, final: bool, rank_loss: float | None = None) -> None:
        config, by_time = self.config, self.config.epochs is None
        train_seconds = time.monotonic() - self.session_start - self.session_val_seconds
        total_steps = config.epochs * self.steps_per_epoch if config.epochs else None
        eta = eta_seconds(
            steps_left=None if total_steps is None else total_steps - self.step,
            seconds_per_step=train_seconds / max(self.session_steps, 1),
            validations_left=(config.epochs - self.epoch) if config.epochs and self.val_names else 0,
            seconds_per_validation=self.val_seconds,
            budget_left=max(config.minutes * 60 - self._elapsed(), 0.0) if config.minutes else None)
        self.meter.add(loss, images, force=final, rank_loss=rank_loss, done=round(self._elapsed()) if by_time else self.step,
                       total=round(config.minutes * 60) if by_time else total_steps, epoch=self.epoch + 1,
                       step=self.step, lr=self.optimizer.param_groups[0]["lr"], eta_s=eta)

    def _save(self, path: Path, metrics: dict, with_state: bool) -> Path:
        from engine.models.checkpoint import save_checkpoint

        if not self.world.is_main:  # rank 0 writes; every rank holds the same weights
            return path
        config, model = self.config, self._counting_model()
        record = {
            "arch": config.model, "model_config": dict(model.config), "stride": int(type(model).stride),
            "input_multiple": int(model.input_multiple), "normalization": DEFAULT_NORMALIZATION,
            "density_scale": DEFAULT_DENSITY_SCALE, "density": asdict(self.density),
            "train_summary": {
                "dataset": str(Path(config.dataset).resolve()), "train_images": len(self.train_names),
                "val_images": len(self.val_names), "epochs": self.epoch, "steps": self.step,
                "seconds": round(self._elapsed(), 1), "device": str(self.device),
                "pretrained": self.pretrained_note,
                "lr": config.lr, "batch": config.batch, "crop": config.crop, "seed": config.seed,
                "unlabeled_images": len(self.rank_stacks) if self.rank_stacks is not None else 0,
                "rank_weight": config.rank_weight if self.rank_stacks is not None else None,
                "world_size": self.world.size,
            },
            "metrics": {k: v for k, v in metrics.items() if v is not None},
            # Plain contiguous CPU tensors: the file loads anywhere, whatever memory format training used.
            "state_dict": {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()},
        }
        if with_state:
            record["training_state"] = {
                "model": {k: v.detach().to("cpu").contiguous() for k, v in self.model.state_dict().items()},
                "average_updates": self.average.updates if self.average is not None else 0,
                "epoch": self.epoch, "epoch_step": self.epoch_step, "step": self.step,
                "elapsed_s": self._elapsed(), "optimizer": self.optimizer.state_dict(),
                "global_batch": self.global_batch,
                "scheduler": self.schedule.state_dict(),
                "scaler": self.scaler.state_dict() if self.scaler is not None else None,
                "rng_torch": torch.get_rng_state(), "best_score": self.best_score,
                "best_metrics": {k: v for k, v in self.best_metrics.items() if v is not None},
            }
        try:
            return save_checkpoint(path, record)
        except OSError as exc:  # a full disk, a vanished network drive: the file was written atomically
            kept = f"the previous {path.name} is intact" if path.exists() else f"no {path.name} was written"
            raise TrainingError(f"cannot save {path}: {exc.strerror or exc}. Training stopped; {kept}. Free "
                                "some space and continue the run with --resume.") from None
