"""Every command that takes a model refuses a hostile or broken one: an error, a non-zero exit, no traceback.

All 24 hostile files go through ``count`` in-process (the same main() the terminal runs); a few go through a
real ``python -m engine`` child, where a traceback would show on stderr; evaluate, propose and train
--pretrained take the code-carrying ones.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from checkpoint_cases import write_checkpoint_cases

from engine.cli import main
from engine.dataset.synthetic import write_synthetic_dataset


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    marker = root / "CODE_RAN"
    cases = {case.name: case for case in write_checkpoint_cases(root / "files", marker)}
    dataset = write_synthetic_dataset(root / "cells", images=2, size=(32, 32), counts=(2, 4), seed=1)
    return root, marker, cases, dataset


def _errors(text: str) -> list[str]:
    return [event["message"] for event in map(json.loads, text.splitlines()) if event.get("type") == "error"]


def test_count_refuses_every_case_with_its_message(setup, capsys):
    root, marker, cases, dataset = setup
    for case in cases.values():
        out = root / f"{case.name}.csv"
        code = main(["count", str(dataset), "--checkpoint", str(case.path), "--out", str(out),
                     "--events", "jsonl"])
        errors = _errors(capsys.readouterr().out)
        assert code != 0, case.name
        assert len(errors) == 1 and case.words in errors[0] and errors[0].startswith(case.name), errors
        assert not out.exists()
    assert not marker.exists()


@pytest.mark.parametrize("name, events", [("evil_system.pt", True), ("truncated_half.pt", False),
                                          ("torchvision_state_dict.pth", False)])
def test_count_in_a_real_child_exits_non_zero_without_traceback(setup, name, events):
    root, marker, cases, dataset = setup
    argv = [sys.executable, "-m", "engine", "count", str(dataset), "--checkpoint", str(cases[name].path),
            "--out", str(root / "child.csv")] + (["--events", "jsonl"] if events else [])
    result = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    shown = " ".join(_errors(result.stdout)) if events else result.stderr + result.stdout
    assert cases[name].words in shown and name in shown, shown
    assert not marker.exists()


def test_evaluate_and_propose_refuse_code(setup, capsys):
    _root, marker, cases, dataset = setup
    assert main(["evaluate", str(dataset), "--checkpoint", str(cases["evil_exec.pt"].path), "--split", "all",
                 "--events", "jsonl"]) != 0
    assert "could run code" in " ".join(_errors(capsys.readouterr().out))
    before = sorted(p.name for p in dataset.iterdir())
    assert main(["propose", str(dataset), "--checkpoint", str(cases["evil_swapped_pickle.pt"].path),
                 "--events", "jsonl"]) != 0
    assert "could run code" in " ".join(_errors(capsys.readouterr().out))
    assert sorted(p.name for p in dataset.iterdir()) == before  # no sidecar touched
    assert not marker.exists()


def test_train_refuses_code_as_pretrained_weights(setup, capsys):
    root, marker, cases, dataset = setup
    code = main(["train", str(dataset), "--out", str(root / "run"), "--model", "csrnet", "--pretrained",
                 str(cases["evil_system.pt"].path), "--epochs", "1", "--device", "cpu", "--events", "jsonl"])
    message = " ".join(_errors(capsys.readouterr().out))
    assert code != 0
    assert "could run code" in message and "posix.system" in message
    assert "weights_only` set to `False`" not in message  # PyTorch's advice to load it unsafely is not passed on
    assert not marker.exists()


def test_train_resume_refuses_a_hostile_last_checkpoint(setup, capsys):
    root, marker, cases, dataset = setup
    run = root / "resume_run"
    run.mkdir()
    (run / "last.pt").write_bytes(cases["evil_popen.pt"].path.read_bytes())
    code = main(["train", str(dataset), "--out", str(run), "--resume", "--model", "unet", "--width", "4",
                 "--epochs", "1", "--device", "cpu", "--events", "jsonl"])
    message = " ".join(_errors(capsys.readouterr().out))
    assert code != 0
    assert "cannot resume" in message and "could run code" in message, message
    assert not marker.exists()
