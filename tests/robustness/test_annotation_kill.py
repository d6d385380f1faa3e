"""Annotation saves under kill -9: the sidecar is always the complete old or the complete new version.

bench/fault_annotation.py runs the same harness for hundreds of kills and prints the counts.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import annotation_kill_harness as harness

from engine.atomic import atomic_path, atomic_write_bytes, is_temp_file
from engine.dataset import Dataset, read_sidecar, sidecar_path


def test_sidecar_is_complete_old_or_new_after_every_kill(tmp_path):
    folder = harness.make_dataset(tmp_path / "data", n_points=50_000)
    counts = harness.run_kills(folder, rounds=20, n_points=50_000, max_delay_s=0.3, seed=1)
    print(counts.line())
    assert counts.tried == 20
    assert counts.corrupt == 0, counts.problems
    assert counts.lost == 0, counts.problems
    assert counts.scan_broken == 0, counts.problems
    assert counts.handled == counts.tried
    assert counts.by_mode == {"save": 10, "write": 10}
    # The kills must really interrupt saves, or this test proves nothing.
    assert counts.during_save >= counts.tried // 2


def test_the_kill_check_catches_a_completed_save_that_was_lost(tmp_path):
    # A writer that says "saved" for every other version without writing it: the check above must see it.
    folder = harness.make_dataset(tmp_path / "data", n_points=1000)
    counts = harness.run_kills(folder, rounds=4, n_points=1000, max_delay_s=0.3, seed=1, modes=("lossy",))
    assert counts.lost >= 1, counts.line()


def test_stray_temp_files_are_never_listed_and_old_ones_are_removed(tmp_path):
    folder = harness.make_dataset(tmp_path / "data", n_points=10)
    sidecar = sidecar_path(folder / harness.IMAGE)
    # What writers killed between creating and renaming their temporary files leave behind (the same
    # mkstemp call atomic_path makes): an empty file and half a sidecar.
    strays = []
    for text in (b"", b'{"format": "crowdgui-points", "version": 1, "points": [[1, '):
        fd, name = tempfile.mkstemp(prefix=f".{sidecar.name}.", suffix=".tmp", dir=folder)
        os.write(fd, text)
        os.close(fd)
        strays.append(Path(name))
    assert all(is_temp_file(s) for s in strays)
    dataset = Dataset(folder)
    assert dataset.names() == [harness.IMAGE] and not dataset.problems
    assert all(s.exists() for s in strays), "a young temporary file may belong to a save in progress"
    old = time.time() - 2 * 3600
    for stray in strays:
        os.utime(stray, (old, old))
    Dataset(folder)
    assert not any(s.exists() for s in strays)
    assert len(read_sidecar(sidecar).points) == 10 + 1  # ten points and the version marker


def test_failed_write_leaves_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "a.png.points.json"
    atomic_write_bytes(target, b"old")
    try:
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half of the new")
            raise OSError("disk full")
    except OSError:
        pass
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png.points.json"]


def test_saves_are_flushed_to_disk_file_and_folder(tmp_path, monkeypatch):
    """fsync of the file before the rename and of the folder after it (a power cut keeps the new file)."""
    synced = []
    real_fsync = os.fsync

    def spy(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    folder = harness.make_dataset(tmp_path / "data", n_points=3)
    synced.clear()
    Dataset(folder).save_points(harness.IMAGE, np.array([[1.0, 2.0]]))
    sidecar = sidecar_path(folder / harness.IMAGE)
    assert any(is_temp_file(name) and Path(name).parent == folder for name in synced)  # the new content
    assert str(folder) in synced  # the rename
    assert synced.index(str(folder)) > max(i for i, n in enumerate(synced) if is_temp_file(n))
    assert read_sidecar(sidecar).points.tolist() == [[1.0, 2.0]]
