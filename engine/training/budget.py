"""How a run spends its budget: how far it is (for the LR schedule and the progress bar) and when to validate."""

from __future__ import annotations

from engine.training.config import TrainConfig


def run_progress(config: TrainConfig, step: int, steps_per_epoch: int, elapsed_s: float) -> float:
    """How far a run is, 0..1, by steps and/or by time (the further of the two)."""
    done = 0.0
    if config.epochs:
        done = step / (config.epochs * steps_per_epoch)
    if config.minutes:
        done = max(done, elapsed_s / (config.minutes * 60))
    return done


def validation_due(trained_since_s: float, last_validation_s: float, share: float) -> bool:
    """Whether an epoch's end should validate, so that validation takes at most about ``share`` of the run's
    time (big images, small epochs): only once the training since the last one (``trained_since_s``) is at least
    (1 / share - 1) times as long as that validation took. The run's last epoch is always validated."""
    return trained_since_s >= last_validation_s * (1 / share - 1)
