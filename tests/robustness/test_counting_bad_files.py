"""Batch counting a folder with bad files mixed in: every good image counted, every bad one named with why.

The folder holds the hostile image set (tests/robustness/hostile_images.py), two red-dot images whose count is
known exactly (the test model of tests/engine/count_fixtures.py counts pure-red pixels), a folder named like
an image, and (when not running as root, who may read anything) a file this user may not read.
"""

import csv
import json
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "engine"))

from count_fixtures import red_counter_checkpoint, red_counter_registered, spread_pixels, write_red_image
from hostile_images import write_image_cases

from engine.cli import main
from engine.counting.targets import gather_targets
from engine.counting.infer import count_images

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def red_checkpoint(tmp_path):
    with red_counter_registered():
        yield red_counter_checkpoint(tmp_path / "red.pt", stride=4, density_scale=50.0)


@pytest.fixture
def mixed_folder(tmp_path):
    """(folder, {good name: exact count or None}, {bad name: words its reason must contain})."""
    folder = tmp_path / "mixed"
    cases = write_image_cases(folder)
    good = {case.name: None for case in cases if case.good}
    bad = {case.name: case.error for case in cases if not case.good}
    for name, count in (("red_3.png", 3), ("red_7.png", 7)):
        write_red_image(folder, name, spread_pixels(count, 64, 48))
        good[name] = count
    (folder / "x.jpg").mkdir()
    bad["x.jpg"] = "folder, not an image"
    if not AS_ROOT:
        locked = folder / "locked.png"
        write_red_image(folder, "locked.png", spread_pixels(2, 64, 48))
        locked.chmod(0)
        bad["locked.png"] = "permission denied"
    return folder, good, bad


def _events(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_the_count_command_counts_every_good_file_and_lists_every_bad_one(red_checkpoint, mixed_folder,
                                                                           tmp_path, capsys):
    folder, good, bad = mixed_folder
    out = tmp_path / "counts.csv"
    code = main(["count", str(folder), "--checkpoint", str(red_checkpoint), "--out", str(out),
                 "--density-dir", str(tmp_path / "maps"), "--events", "jsonl"])
    events = _events(capsys.readouterr().out)
    assert code == 0, [e for e in events if e["type"] == "error"]

    with open(out, newline="", encoding="utf-8") as handle:
        rows = {row["image"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(good)  # every good image, and only those, has a row
    for name, count in good.items():
        if count is not None:
            assert float(rows[name]["count"]) == pytest.approx(count, abs=1e-3)
    results = {e["image"] for e in events if e["type"] == "result"}
    assert results == set(good)

    done = next(e for e in events if e["type"] == "done")
    assert done["counted"] == len(good) and done["skipped"] == len(bad)
    reasons = {item["image"]: item["reason"] for item in done["skipped_files"]}
    assert set(reasons) == set(bad)
    warnings = " | ".join(e["message"] for e in events if e["type"] == "warning")
    for name, words in bad.items():
        assert words in reasons[name], (name, reasons[name])
        assert f"{name}: " in warnings and words in warnings
    assert not (tmp_path / "counts.csv.partial").exists()
    # The bad files are listed beside the table too, for whoever opens only the folder.
    with open(tmp_path / "counts.skipped.csv", newline="", encoding="utf-8") as handle:
        listed = {row["image"]: row["reason"] for row in csv.DictReader(handle)}
    assert listed == reasons and done["skipped_csv"] == str(tmp_path / "counts.skipped.csv")

    # A later run with nothing to skip removes the old list rather than leave it describing another run.
    for name in bad:
        (folder / name).rmdir() if (folder / name).is_dir() else (folder / name).unlink()
    code = main(["count", str(folder), "--checkpoint", str(red_checkpoint), "--out", str(out), "--events", "jsonl"])
    done = next(e for e in _events(capsys.readouterr().out) if e["type"] == "done")
    assert code == 0 and done["skipped"] == 0 and done["skipped_csv"] is None
    assert not (tmp_path / "counts.skipped.csv").exists()


def test_count_images_yields_an_error_result_for_damage_found_only_by_decoding(red_checkpoint, mixed_folder):
    """gather_targets keeps what the scan cannot fault; count_images reports the rest, in order, and goes on."""
    folder, good, bad = mixed_folder
    targets, problems = gather_targets(folder)
    found_at_scan = {problem.path.name for problem in problems if problem.skipped}
    assert "bad_corrupt.jpg" not in found_at_scan and "bad_truncated.jpg" in found_at_scan
    assert found_at_scan | {"bad_corrupt.jpg"} == set(bad)
    paths = [target.path for target in targets]
    results = list(count_images(paths, red_checkpoint, "cpu", batch_size=3))
    assert [result.index for result in results] == list(range(len(paths)))
    failed = {result.path.name: result.error for result in results if not result.ok}
    assert list(failed) == ["bad_corrupt.jpg"] and "damaged image data" in failed["bad_corrupt.jpg"]
    assert {result.path.name for result in results if result.ok} == set(good)


def test_a_folder_of_only_bad_files_is_an_error_that_names_them(red_checkpoint, tmp_path, capsys):
    folder = tmp_path / "bad_only"
    folder.mkdir()
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.jpg").write_text("not a picture")
    out = tmp_path / "counts.csv"
    code = main(["count", str(folder), "--checkpoint", str(red_checkpoint), "--out", str(out),
                 "--events", "jsonl"])
    events = _events(capsys.readouterr().out)
    assert code == 1 and not out.exists()
    error = next(e for e in events if e["type"] == "error")
    assert "no readable images" in error["message"]
    warnings = [e["message"] for e in events if e["type"] == "warning"]
    assert any("empty.png: the file is empty" in w for w in warnings)
    assert any("notes.jpg: not a readable image" in w for w in warnings)


def test_a_file_this_user_may_not_read_is_named_with_why(tmp_path, monkeypatch):
    """Root reads anything, so under root the refusal is simulated where Pillow opens the file."""
    from engine.dataset import images as images_module
    from engine.dataset import read_image
    from engine.dataset.images import ImageReadError

    path = write_red_image(tmp_path, "locked.png", spread_pixels(2, 64, 48))
    if AS_ROOT:
        def refuse(*_args, **_kwargs):
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(images_module.Image, "open", refuse)
    else:
        path.chmod(0)
    with pytest.raises(ImageReadError, match="permission denied"):
        read_image(path)
    targets, problems = gather_targets(tmp_path)
    assert targets == [] and [p.reason for p in problems] == ["permission denied: this user may not read the file"]
