"""Kill -9 a process that saves a big sidecar in a loop, and check what is on disk after each kill.

Used by tests/robustness/test_annotation_kill.py (a few dozen kills) and bench/fault_annotation.py (hundreds).
Each round starts a fresh child (``python annotation_kill_harness.py child MODE FOLDER N``: a new interpreter,
so no fork after torch), which saves version A and version B of the image's points in turn. Mode ``save`` goes
through ``Dataset.save_points``, the path every save of the window and the engine takes; most of its time is
spent formatting the JSON, before anything touches the disk. Mode ``write`` hands the two ready sidecar texts
to ``atomic_write_bytes`` (what ``save_points`` ends with), so nearly every kill lands in the file-system
calls: temporary file, write, fsync, rename. Rounds alternate between the two. Before and after each save the
child prints a line, so after the kill the parent knows whether the kill landed inside a save. Then the parent
reads the sidecar back: it must be exactly A or exactly B, and the folder must scan as before.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

IMAGE = "big.png"
SIZE = (4000, 3000)  # width, height: the points are drawn inside this rectangle
MODES = ("save", "write")


def versions(n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Two distinct point sets: A, and B = A moved by half a pixel plus one more point (other length)."""
    rng = np.random.default_rng(8)
    a = rng.uniform((0, 0), SIZE, size=(n_points, 2))
    b = np.vstack([np.clip(a + 0.5, 0, np.subtract(SIZE, 1)), [[1.25, 2.5]]])
    return a, b


def make_dataset(folder: Path, n_points: int) -> Path:
    """A folder with one image whose sidecar holds version A."""
    from PIL import Image

    from engine.dataset import Dataset

    folder.mkdir(parents=True, exist_ok=True)
    Image.new("L", (SIZE[0] // 10, SIZE[1] // 10)).resize(SIZE).save(folder / IMAGE)
    Dataset(folder).save_points(IMAGE, versions(n_points)[0])
    return folder


@dataclass
class KillCounts:
    tried: int = 0
    saw_a: int = 0
    saw_b: int = 0
    saw_old: int = 0  # the version on disk before the interrupted save began
    saw_new: int = 0  # the version the interrupted save was writing (the rename had happened)
    corrupt: int = 0
    during_save: int = 0  # the child had started a save and not finished it when it was killed
    stray_temp_files: int = 0  # temporary files left beside the sidecar, in all rounds together
    scan_broken: int = 0  # rounds after which the folder no longer scans as one image with a valid sidecar
    problems: list[str] = field(default_factory=list)
    by_mode: dict[str, int] = field(default_factory=dict)

    @property
    def handled(self) -> int:
        return self.saw_a + self.saw_b

    def line(self) -> str:
        return (f"kills tried {self.tried}, complete old version {self.saw_old}, complete new version "
                f"{self.saw_new} (A {self.saw_a}, B {self.saw_b}), corrupt {self.corrupt}, kills inside a save "
                f"{self.during_save}, stray temp files "
                f"{self.stray_temp_files}, broken scans {self.scan_broken}")


def run_kills(folder: Path, rounds: int, n_points: int, max_delay_s: float = 0.35, seed: int = 0,
              log=None) -> KillCounts:
    """``rounds`` times: start a saving child, kill -9 it after a random delay, validate the folder."""
    from engine.atomic import is_temp_file
    from engine.dataset import Dataset, read_sidecar, sidecar_path

    a, b = versions(n_points)
    rng = random.Random(seed)
    counts = KillCounts()
    sidecar = sidecar_path(folder / IMAGE)
    for round_ in range(rounds):
        mode = MODES[round_ % len(MODES)]
        child = subprocess.Popen([sys.executable, __file__, "child", mode, str(folder), str(n_points)],
                                 stdout=subprocess.PIPE, text=True, cwd=_repo_root(),
                                 env={**os.environ, "PYTHONPATH": str(_repo_root())}, stderr=subprocess.DEVNULL)
        try:
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the writer child did not start (exit code {child.wait()})")
            time.sleep(rng.uniform(0.0, max_delay_s))
            child.send_signal(signal.SIGKILL)
            child.wait()
            tail = child.stdout.read().split()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdout.close()
        counts.tried += 1
        counts.by_mode[mode] = counts.by_mode.get(mode, 0) + 1
        if tail and tail[-1].startswith("begin"):
            counts.during_save += 1
        # Step k writes B when k is odd, A when even (see _child); the step in progress, or the last one done.
        step = int(tail[-1][5:] if tail[-1].startswith("begin") else tail[-1][3:]) if tail else 0
        new = b if step % 2 else a
        try:
            points = read_sidecar(sidecar).points
        except Exception as exc:  # noqa: BLE001 (anything unreadable is exactly what this looks for)
            points, reason = None, f"unreadable: {exc}"
        if points is not None and (np.array_equal(points, a) or np.array_equal(points, b)):
            counts.saw_a += np.array_equal(points, a)
            counts.saw_b += np.array_equal(points, b)
            if np.array_equal(points, new) or not (tail and tail[-1].startswith("begin")):
                counts.saw_new += 1
            else:
                counts.saw_old += 1
        else:
            counts.corrupt += 1
            counts.problems.append(f"round {round_}: " + (reason if points is None else
                                                          f"{len(points)} points, neither A nor B"))
        counts.stray_temp_files = sum(1 for p in folder.iterdir() if is_temp_file(p))
        dataset = Dataset(folder)
        entry = dataset.entry(IMAGE) if dataset.names() == [IMAGE] else None
        if entry is None or dataset.problems or not entry.annotated or entry.count not in (len(a), len(b)):
            counts.scan_broken += 1
            counts.problems.append(f"round {round_}: scan lists {dataset.names()}, problems {dataset.problems}")
        if log is not None and (round_ + 1) % 50 == 0:
            log(f"  {round_ + 1}/{rounds}: {counts.line()}")
    return counts


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def _child(mode: str, folder: Path, n_points: int) -> None:
    from engine.dataset import Dataset
    from engine.dataset.sidecar import Annotation, annotation_to_json, atomic_write_bytes, sidecar_path

    a, b = versions(n_points)
    dataset = Dataset(folder)
    if mode == "save":
        def save(points):
            dataset.save_points(IMAGE, points)
    else:
        entry = dataset.entry(IMAGE)
        texts = {id(p): annotation_to_json(Annotation(IMAGE, entry.width, entry.height, p)).encode()
                 for p in (a, b)}

        def save(points):
            atomic_write_bytes(sidecar_path(folder / IMAGE), texts[id(points)])
    print("ready", flush=True)
    step = 0
    while True:
        step += 1
        print(f"begin{step}", flush=True)
        save(b if step % 2 else a)
        print(f"end{step}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "child" and sys.argv[2] in MODES:
        _child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit("usage: annotation_kill_harness.py child save|write FOLDER N_POINTS (started by run_kills)")


def sidecar_size(folder: Path) -> int:
    from engine.dataset import sidecar_path

    return sidecar_path(folder / IMAGE).stat().st_size
