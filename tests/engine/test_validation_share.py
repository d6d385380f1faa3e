"""How much of a run validation may take (--val-time): the rule, its default, its bounds and the flag."""

import argparse
import json

import pytest

from engine.commands import train as train_command
from engine.density import DensitySettings
from engine.training.budget import validation_due
from engine.training.config import DEFAULT_VAL_TIME_SHARE, TrainConfig, TrainingError, resolve_config


def resolved(**values) -> TrainConfig:
    return resolve_config(TrainConfig(dataset="d", out="o", **values), model_defaults={}, size_multiple=16,
                          device_type="cpu", spare_threads=0, dataset_density=DensitySettings()).config


def test_a_validation_waits_until_the_training_since_makes_it_its_share():
    # A 60 s validation at a quarter of the time needs 180 s of training before the next one; at a tenth, 540 s.
    assert not validation_due(179.0, 60.0, 0.25)
    assert validation_due(180.0, 60.0, 0.25)
    assert not validation_due(539.0, 60.0, 0.1)
    assert validation_due(540.0, 60.0, 0.1)
    assert validation_due(0.0, 0.0, 0.1)  # nothing validated yet: the first epoch is


def test_the_share_is_filled_in_checked_and_recorded():
    assert resolved().val_time_share == DEFAULT_VAL_TIME_SHARE == 0.1
    assert resolved(val_time_share=0.1).val_time_share == 0.1
    for wrong in (0.0, 1.0, -0.2, 3.0):
        with pytest.raises(TrainingError, match="--val-time must be between 0 and 1"):
            resolved(val_time_share=wrong)


def test_the_flag_sets_the_share_and_a_resume_keeps_it(tmp_path):
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    run = tmp_path / "run"
    run.mkdir()
    config = train_command.build_config(parser.parse_args(["D", "--out", str(run), "--val-time", "0.1"]))
    assert config.val_time_share == 0.1
    (run / "config.json").write_text(json.dumps(config.to_json()))
    assert train_command.build_config(parser.parse_args(["D", "--out", str(run), "--resume"])).val_time_share == 0.1
    assert train_command.build_config(parser.parse_args(["D", "--out", str(tmp_path / "new")])).val_time_share is None
