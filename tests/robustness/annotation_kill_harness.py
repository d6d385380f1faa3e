"""Kill -9 a process that saves a big sidecar in a loop, and check what is on disk after each kill.

Used by tests/robustness/test_annotation_kill.py (a few dozen kills) and bench/fault_annotation.py (hundreds).
Each round starts a fresh child (``python annotation_kill_harness.py child MODE FOLDER N``: a new interpreter,
so no fork after torch), which saves versions 1, 2, 3, ... of the image's points in turn. Every version is told
apart by its content: it is the same N base points plus one marker point whose x is the version's number, so a
file that holds an older version than the last completed save is caught as a lost save, not taken for "the
other one". Mode ``save`` goes through ``Dataset.save_points``, the path every save of the window and the engine
takes; most of its time is spent formatting the JSON, before anything touches the disk. Mode ``write`` formats
the text first and then hands it to ``atomic_write_bytes`` (what ``save_points`` ends with), so nearly every
kill lands in the file-system calls: temporary file, write, fsync, rename. Rounds alternate between the two.
Mode ``lossy`` (used only to show that this harness catches a lost save) reports every other save as done
without writing it. Before and after each save the child prints a line, so after the kill the parent knows
which save was the last completed and whether one was in progress. The file must then hold exactly the last
completed version, or exactly the one in progress, and the folder must scan as before.
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
CHILD_MODES = (*MODES, "lossy")


def version(n_points: int, number: int) -> np.ndarray:
    """Version ``number`` of the points: N fixed base points plus a marker point at x = number."""
    rng = np.random.default_rng(8)
    base = rng.uniform((0, 0), SIZE, size=(n_points, 2))
    return np.vstack([base, [[float(number), 2.5]]])


def version_number(points: np.ndarray, n_points: int) -> int | None:
    """Which version ``points`` is, exactly, or None when it is none of them."""
    if len(points) != n_points + 1:
        return None
    number = points[-1, 0]
    if number != int(number) or not np.array_equal(points, version(n_points, int(number))):
        return None
    return int(number)


def make_dataset(folder: Path, n_points: int) -> Path:
    """A folder with one image whose sidecar holds version 0."""
    from PIL import Image

    from engine.dataset import Dataset

    folder.mkdir(parents=True, exist_ok=True)
    Image.new("L", (SIZE[0] // 10, SIZE[1] // 10)).resize(SIZE).save(folder / IMAGE)
    Dataset(folder).save_points(IMAGE, version(n_points, 0))
    return folder


@dataclass
class KillCounts:
    tried: int = 0
    saw_old: int = 0  # the last completed version (a save in progress had not renamed yet, or none was)
    saw_new: int = 0  # the version the interrupted save was writing (the rename had happened)
    lost: int = 0  # a complete but older version than the last completed save: a save was lost
    corrupt: int = 0
    during_save: int = 0  # the child had started a save and not finished it when it was killed
    stray_temp_files: int = 0  # temporary files left beside the sidecar, in all rounds together
    scan_broken: int = 0  # rounds after which the folder no longer scans as one image with a valid sidecar
    problems: list[str] = field(default_factory=list)
    by_mode: dict[str, int] = field(default_factory=dict)

    @property
    def handled(self) -> int:
        return self.saw_old + self.saw_new

    def line(self) -> str:
        return (f"kills tried {self.tried}, complete old version {self.saw_old}, complete new version "
                f"{self.saw_new}, lost saves {self.lost}, corrupt {self.corrupt}, kills inside a save "
                f"{self.during_save}, stray temp files "
                f"{self.stray_temp_files}, broken scans {self.scan_broken}")


def run_kills(folder: Path, rounds: int, n_points: int, max_delay_s: float = 0.35, seed: int = 0,
              log=None, modes: tuple[str, ...] = MODES) -> KillCounts:
    """``rounds`` times: start a saving child, kill -9 it after a random delay, validate the folder."""
    from engine.atomic import is_temp_file
    from engine.dataset import Dataset, read_sidecar, sidecar_path

    rng = random.Random(seed)
    counts = KillCounts()
    sidecar = sidecar_path(folder / IMAGE)
    for round_ in range(rounds):
        mode = modes[round_ % len(modes)]
        try:
            start = version_number(read_sidecar(sidecar).points, n_points)
        except Exception:  # noqa: BLE001 (a broken file was already counted in the round that broke it)
            start = None
        child = subprocess.Popen([sys.executable, __file__, "child", mode, str(folder), str(n_points),
                                  str(start or 0)],
                                 stdout=subprocess.PIPE, text=True, cwd=_repo_root(),
                                 env={**os.environ, "PYTHONPATH": str(_repo_root())}, stderr=subprocess.DEVNULL)
        try:
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the writer child did not start (exit code {child.wait()})")
            time.sleep(rng.uniform(0.0, max_delay_s))
            child.send_signal(signal.SIGKILL)
            child.wait()
            lines = child.stdout.read().split()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdout.close()
        counts.tried += 1
        counts.by_mode[mode] = counts.by_mode.get(mode, 0) + 1
        completed = max([int(line[3:]) for line in lines if line.startswith("end")], default=start or 0)
        in_progress = int(lines[-1][5:]) if lines and lines[-1].startswith("begin") else None
        counts.during_save += in_progress is not None
        try:
            found = version_number(read_sidecar(sidecar).points, n_points)
            reason = "holds none of the versions written"
        except Exception as exc:  # noqa: BLE001 (anything unreadable is exactly what this looks for)
            found, reason = None, f"unreadable: {exc}"
        if found is not None and found == in_progress:
            counts.saw_new += 1
        elif found is not None and found == completed:
            counts.saw_old += 1
        elif found is not None:
            counts.lost += 1
            counts.problems.append(f"round {round_}: holds version {found}, but version {completed} was saved")
        else:
            counts.corrupt += 1
            counts.problems.append(f"round {round_}: {reason}")
        counts.stray_temp_files = sum(1 for p in folder.iterdir() if is_temp_file(p))
        dataset = Dataset(folder)
        entry = dataset.entry(IMAGE) if dataset.names() == [IMAGE] else None
        if entry is None or dataset.problems or not entry.annotated or entry.count != n_points + 1:
            counts.scan_broken += 1
            counts.problems.append(f"round {round_}: scan lists {dataset.names()}, problems {dataset.problems}")
        if log is not None and (round_ + 1) % 50 == 0:
            log(f"  {round_ + 1}/{rounds}: {counts.line()}")
    return counts


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def _child(mode: str, folder: Path, n_points: int, start: int) -> None:
    from engine.dataset import Dataset
    from engine.dataset.sidecar import Annotation, annotation_to_json, atomic_write_bytes, sidecar_path

    dataset = Dataset(folder)
    entry = dataset.entry(IMAGE)
    print("ready", flush=True)
    number = start
    while True:
        number += 1
        points = version(n_points, number)
        if mode == "write":
            text = annotation_to_json(Annotation(IMAGE, entry.width, entry.height, points)).encode()
        print(f"begin{number}", flush=True)
        if mode == "save" or (mode == "lossy" and number % 2):
            dataset.save_points(IMAGE, points)
        elif mode == "write":
            atomic_write_bytes(sidecar_path(folder / IMAGE), text)
        print(f"end{number}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "child" and sys.argv[2] in CHILD_MODES:
        _child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit("usage: annotation_kill_harness.py child save|write|lossy FOLDER N_POINTS START "
                 "(started by run_kills)")


def sidecar_size(folder: Path) -> int:
    from engine.dataset import sidecar_path

    return sidecar_path(folder / IMAGE).stat().st_size
