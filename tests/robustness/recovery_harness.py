"""Test helpers for crash recovery: a small dataset, and a real window process killed with SIGKILL.

Imported by the robustness tests (after they put this folder on sys.path) and by bench/fault_annotation.py.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CHILD = Path(__file__).with_name("recovery_child.py")
NAMES = ("a.png", "b.png", "c.png")


def make_dataset(folder: Path, first_points: int = 50_000) -> Path:
    """Three 400 x 300 images: a.png with ``first_points`` points saved, b.png with 3, c.png with none."""
    from PIL import Image

    from engine.dataset import Dataset

    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(NAMES):
        Image.new("RGB", (400, 300), (40 * index, 90, 120)).save(folder / name)
    dataset = Dataset(folder)
    rng = np.random.default_rng(3)
    dataset.save_points(NAMES[0], rng.uniform((0, 0), (400, 300), size=(first_points, 2)))
    dataset.save_points(NAMES[1], [[10.0, 10.0], [20.0, 20.0], [30.0, 30.0]])
    return folder


def kill_after(folder: Path, scenario: str, timeout: float = 90.0, until=None) -> tuple[dict | None, list[str]]:
    """Run recovery_child.py, SIGKILL it, and return (the state it printed as journaled, all its lines).

    Killed when it prints ``journaled ...``, or, with ``until(lines) -> bool``, as soon as that is true.
    """
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    child = subprocess.Popen([sys.executable, str(CHILD), str(folder), scenario], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    state = None
    selector = selectors.DefaultSelector()
    selector.register(child.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not selector.select(timeout=0.5):
                if child.poll() is not None:
                    break
                continue
            line = child.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
            if line.startswith("journaled "):
                state = json.loads(line[len("journaled "):])
                break
            if until is not None and until(lines):
                break
        else:
            raise TimeoutError(f"recovery child did not get there in {timeout} s: {lines[-3:]}")
        if child.poll() is not None:
            raise RuntimeError(f"recovery child ended by itself ({child.returncode}): {child.stderr.read()[-2000:]}")
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        lines += [line.strip() for line in child.stdout.read().splitlines()]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        selector.close()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    return state, lines
