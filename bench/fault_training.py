"""Fault runs for training, too slow for the test suite: many kills, and a real full disk.

1. ``kills``: ``python -m engine train`` (tiny U-Net, CPU) is killed with SIGKILL at random moments, again and
   again, each time resumed with ``--resume``. After every kill last.pt must load and its step count must never
   go backwards; at the end the run must finish its epochs with the full step count.
2. ``disk-full`` (root only: it mounts a small tmpfs): the run folder lives on a tmpfs; after one epoch the
   remaining space is filled, and a resumed run must stop with the plain "cannot save" message while last.pt
   and best.pt stay byte for byte the same; once space is freed, --resume finishes the run.

    python bench/fault_training.py                  # 20 kills, then the disk-full run
    python bench/fault_training.py --kills 100 --seed 3
    python bench/fault_training.py --skip-disk-full
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.models.checkpoint import CheckpointError, load_checkpoint
from engine.dataset.synthetic import write_synthetic_dataset

EPOCHS = 60  # long enough that every kill lands inside the run
STEPS_PER_EPOCH = 40  # samples_per_epoch 80 / batch 2
START_RUN = r"""
import sys
from engine.events import JsonlSink
from engine.training.fit import TrainConfig, fit
fit(TrainConfig(dataset=sys.argv[1], out=sys.argv[2], model="unet", model_config={"width": 4},
                epochs=int(sys.argv[3]), crop=32, batch=2, device="cpu", threads=1, samples_per_epoch=80),
    JsonlSink())
"""


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def train_command(dataset: Path, run: Path, resume: bool) -> list[str]:
    if not resume:  # the first session sets samples_per_epoch, which config.json carries into every resume
        return [sys.executable, "-c", START_RUN, str(dataset), str(run), str(EPOCHS)]
    return [sys.executable, "-m", "engine", "train", str(dataset), "--out", str(run), "--resume", "--events",
            "jsonl"]


def saved_step(path: Path) -> int | None:
    if not path.exists():
        return None
    return int(load_checkpoint(path)["training_state"]["step"])


def kills(dataset: Path, work: Path, count: int, rng: random.Random) -> bool:
    run = work / "killed_run"
    tried = intact = 0
    last_step = 0
    finished = False
    while not finished:
        resume = (run / "last.pt").exists()
        child = subprocess.Popen(train_command(dataset, run, resume), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, env=env(), cwd=ROOT)
        if tried < count:
            # Anywhere from start-up (torch import) to well inside an epoch or a checkpoint write.
            time.sleep(rng.uniform(2.0, 8.0))
        if child.poll() is None and tried < count:
            child.send_signal(signal.SIGKILL)
            child.wait()
            tried += 1
            try:
                step = saved_step(run / "last.pt")
            except CheckpointError as exc:
                print(f"kill {tried}: last.pt DAMAGED: {exc}")
                return False
            if step is not None and step < last_step:
                print(f"kill {tried}: step went back from {last_step} to {step}")
                return False
            intact += 1
            last_step = step or 0
            strays = [p.name for p in run.glob(".*.tmp")] if run.exists() else []
            print(f"kill {tried:3d}: last.pt {'absent' if step is None else f'step {step}'}"
                  f"{f', stray temp files {len(strays)}' if strays else ''}")
        else:
            _, err = child.communicate(timeout=600)
            if child.returncode != 0:
                print(f"a session failed (exit {child.returncode}): {err.decode()[-800:]}")
                return False
            finished = saved_step(run / "last.pt") is not None and \
                int(load_checkpoint(run / "last.pt")["training_state"]["epoch"]) >= EPOCHS
    final = load_checkpoint(run / "last.pt")["training_state"]
    strays = len(list(run.glob(".*.tmp")))  # a resumed session removes a killed write's temporary file
    print(f"kills: {tried} tried, last.pt intact after {intact}; finished at epoch {final['epoch']}, "
          f"step {final['step']} (expected {EPOCHS * STEPS_PER_EPOCH}); stray temporary files left: {strays}")
    return intact == tried and final["step"] == EPOCHS * STEPS_PER_EPOCH and strays == 0


def disk_full(dataset: Path, work: Path) -> bool:
    if os.geteuid() != 0:
        print("disk-full: skipped (mounting a tmpfs needs root)")
        return True
    mount = work / "small_disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    try:
        run = mount / "run"
        first = subprocess.run([sys.executable, "-c", START_RUN, str(dataset), str(run), "1"], env=env(),
                               cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
        if first.returncode != 0:
            print("disk-full: the first epoch failed:", first.stderr[-800:])
            return False
        before = {name: (run / name).read_bytes() for name in ("last.pt", "best.pt")}
        checkpoint_bytes = len(before["last.pt"])
        ok = True
        # Completely full: the resumed run cannot even write config.json. Then room for config.json and
        # the history but not for a checkpoint: it trains an epoch and fails while saving last.pt.
        for room, expected in ((0, "cannot write"), (checkpoint_bytes // 2, "cannot save")):
            filler = mount / "filler"
            try:
                with open(filler, "wb") as handle:
                    while True:
                        handle.write(b"\0" * 4096)
                        handle.flush()
            except OSError:  # ENOSPC: the disk is full now
                pass
            os.truncate(filler, max(0, filler.stat().st_size - room))
            stats = os.statvfs(mount)
            resumed = subprocess.run(train_command(dataset, run, True) + ["--epochs", "3"], env=env(), cwd=ROOT,
                                     capture_output=True, text=True, timeout=600, check=False)
            events = [json.loads(line) for line in resumed.stdout.splitlines() if line.startswith("{")]
            errors = [e["message"] for e in events if e["type"] == "error"]
            # last.pt must be the old file byte for byte; best.pt (smaller: no optimizer state) may have been
            # replaced by a newer complete one before last.pt failed, so it must only load.
            same = (run / "last.pt").read_bytes() == before["last.pt"]
            best_changed = (run / "best.pt").read_bytes() != before["best.pt"]
            load_checkpoint(run / "best.pt")
            print(f"disk-full: {stats.f_bavail * stats.f_frsize} bytes free (last.pt: {checkpoint_bytes}), "
                  f"exit {resumed.returncode}, last.pt unchanged: {same}, best.pt "
                  f"{'replaced by a newer complete one' if best_changed else 'unchanged'} and loads")
            print(f"disk-full: error event: {errors[0] if errors else None}")
            ok = ok and resumed.returncode == 1 and same and bool(errors) and errors[0].startswith(expected)
            filler.unlink()
        again = subprocess.run(train_command(dataset, run, True) + ["--epochs", "3"], env=env(), cwd=ROOT,
                               capture_output=True, text=True, timeout=600, check=False)
        epoch = int(load_checkpoint(run / "last.pt")["training_state"]["epoch"])
        print(f"disk-full: after freeing space, --resume exit {again.returncode}, last.pt at epoch {epoch}")
        return ok and again.returncode == 0 and epoch == 3
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-disk-full", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dataset = write_synthetic_dataset(work / "cells", images=6, size=(64, 64), counts=(5, 15), seed=2)
        results = {"kills": kills(dataset, work, args.kills, random.Random(args.seed))}
        if not args.skip_disk_full:
            results["disk-full"] = disk_full(dataset, work)
    print(" ".join(f"{name}: {'OK' if ok else 'FAILED'}" for name, ok in results.items()))
    sys.exit(0 if all(results.values()) else 1)


if __name__ == "__main__":
    main()
