"""A training run killed with SIGKILL mid-epoch: last.pt is the complete file of the last finished epoch, and
``--resume`` continues the step count from it. The kill comes a moment after epoch 1's end event, and an
epoch is long enough (``samples_per_epoch``; ~3 s on an idle 2-core CPU, longer under load) for that moment to
fall inside epoch 2 — progress events are too sparse (one a second) to aim at on an idle machine.
"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from test_training_faults import ROOT, engine_env, saved_step

from engine.dataset.synthetic import write_synthetic_dataset
from engine.training.fit import LAST_FILE

STEPS_PER_EPOCH = 300  # samples_per_epoch 600 / batch 2
KILL_DELAY_S = 0.5  # after epoch 1 ended: well inside epoch 2, well after its first steps

START_RUN = r"""
import sys
from engine.events import JsonlSink
from engine.training.fit import TrainConfig, fit
fit(TrainConfig(dataset=sys.argv[1], out=sys.argv[2], model="unet", model_config={"width": 4}, epochs=3,
                crop=32, batch=2, device="cpu", threads=1, samples_per_epoch=int(sys.argv[3])), JsonlSink())
"""


@pytest.fixture
def dataset(tmp_path):
    return write_synthetic_dataset(tmp_path / "cells", images=6, size=(64, 64), counts=(5, 15), seed=2)


def test_a_run_killed_mid_epoch_resumes_from_its_last_checkpoint(dataset, tmp_path):
    run = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-c", START_RUN, str(dataset), str(run), str(2 * STEPS_PER_EPOCH)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=engine_env(),
                             cwd=ROOT)
    killed_at = None
    try:
        for line in child.stdout:
            event = json.loads(line)
            # Epoch 1's last.pt is on disk when its epoch event is written; epoch 2 is then under way.
            if event["type"] == "epoch" and event["epoch"] == 1:
                time.sleep(KILL_DELAY_S)
                child.send_signal(signal.SIGKILL)  # no handler, no clean-up: like a power cut
                killed_at = event["step"]
                break
    finally:
        child.kill()
        child.wait(30)
    assert killed_at == STEPS_PER_EPOCH, "the run ended before the kill"
    assert child.returncode == -signal.SIGKILL
    assert saved_step(run / LAST_FILE) == STEPS_PER_EPOCH  # the complete epoch-1 file, not a half of epoch 2

    # A kill during a checkpoint write leaves its temporary file (as big as a checkpoint): resuming removes it.
    stray = run / ".last.pt.k1ll3d_x.tmp"
    stray.write_bytes((run / LAST_FILE).read_bytes()[:1000])

    resumed = subprocess.run([sys.executable, "-m", "engine", "train", str(dataset), "--out", str(run), "--resume",
                              "--epochs", "2", "--events", "jsonl"], check=False,
                             capture_output=True, text=True, env=engine_env(), cwd=ROOT, timeout=300)
    events = [json.loads(line) for line in resumed.stdout.splitlines() if line.strip()]
    assert resumed.returncode == 0, resumed.stdout[-1500:] + resumed.stderr[-1500:]
    start = next(e for e in events if e["type"] == "start")
    assert start["resumed_from_step"] == STEPS_PER_EPOCH
    steps = [e["step"] for e in events if e["type"] == "progress"]
    assert steps and steps[0] > STEPS_PER_EPOCH and steps == sorted(steps)  # counting on, not from zero
    done = next(e for e in events if e["type"] == "done")
    assert done["steps"] == 2 * STEPS_PER_EPOCH and done["epochs"] == 2
    assert saved_step(run / LAST_FILE) == 2 * STEPS_PER_EPOCH
    assert not stray.exists()


