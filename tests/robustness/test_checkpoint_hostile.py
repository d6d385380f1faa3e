"""Hostile and foreign checkpoint files are refused in plain words, and code inside them never runs."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from checkpoint_cases import write_checkpoint_cases, write_valid_checkpoint

from engine.models.checkpoint import CheckpointError, load_checkpoint, load_model
from engine.training.runs import list_runs


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoints")
    marker = folder / "CODE_RAN"
    return write_checkpoint_cases(folder / "files", marker), marker


def test_the_code_carrying_files_really_carry_code(tmp_path):
    """Control: unpickled the unsafe way, a case file does run its code (so the marker checks mean something)."""
    marker = tmp_path / "CODE_RAN"
    evil = {case.name: case for case in write_checkpoint_cases(tmp_path / "files", marker)}
    torch.load(evil["evil_system.pt"].path, weights_only=False)
    assert marker.exists()


def test_every_hostile_or_foreign_file_is_refused_in_plain_words(cases):
    cases, marker = cases
    refused = []
    for case in cases:
        with pytest.raises(CheckpointError) as caught:
            load_model(case.path)
        message = str(caught.value)
        assert message.startswith(f"{case.name}: "), message
        assert case.words in message, (case.name, message)
        assert "Traceback" not in message and "weights_only` set to `False`" not in message
        assert len(message) < 400, message  # a sentence, not PyTorch's page of advice
        refused.append(case.name)
        assert not marker.exists(), f"code ran while loading {case.name}"
    print(f"checkpoint cases tried {len(cases)}, refused with a clear message {len(refused)}, "
          f"code-carrying {sum(c.carries_code for c in cases)}, code ran 0")
    assert len(refused) == len(cases) >= 24


def test_code_is_refused_with_what_it_would_have_called(cases):
    cases, marker = cases
    by_name = {case.name: case for case in cases}
    with pytest.raises(CheckpointError, match=r"\(posix\.system\), which could run code"):
        load_checkpoint(by_name["evil_system.pt"].path)
    with pytest.raises(CheckpointError, match=r"\(exec\)"):
        load_checkpoint(by_name["evil_exec.pt"].path)
    assert not marker.exists()


def test_missing_paths_and_folders(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "nothing.pt")
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_checkpoint(tmp_path)


def test_a_valid_checkpoint_still_loads(tmp_path):
    model, record = load_model(write_valid_checkpoint(tmp_path / "ok.pt"))
    assert record["arch"] == "unet" and not model.training


def test_a_hostile_best_pt_in_a_run_folder_is_not_listed_and_runs_nothing(cases, tmp_path):
    """The window lists a dataset's runs; a run folder without a log is read from its checkpoint."""
    cases, marker = cases
    by_name = {case.name: case for case in cases}
    run = tmp_path / "data" / "crowdgui_runs" / "20260101-000000-unet"
    run.mkdir(parents=True)
    (run / "best.pt").write_bytes(by_name["evil_system.pt"].path.read_bytes())
    assert [r.folder for r in list_runs(tmp_path / "data") if r.best_checkpoint is not None] == []
    assert not marker.exists()
    write_valid_checkpoint(run / "best.pt")  # control: the same folder with a real checkpoint is listed
    assert [r.folder for r in list_runs(tmp_path / "data") if r.best_checkpoint is not None] == [run]
