"""``python -m engine count`` and ``evaluate``: files, events and errors, with a model of known output."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # --import-mode=importlib does not add it; the helpers live here
from count_fixtures import (
    csv_rows as _rows,
)
from count_fixtures import (
    fcrn_checkpoint,
    pixel_centres,
    red_counter_checkpoint,
    red_counter_registered,
    spread_pixels,
    write_red_image,
)
from count_fixtures import (
    jsonl_events as _events,
)

from engine.cli import main


@pytest.fixture
def red_checkpoint(tmp_path):
    with red_counter_registered():
        yield red_counter_checkpoint(tmp_path / "red.pt", stride=4, density_scale=50.0, sigma=2.0)


@pytest.fixture
def mixed_folder(tmp_path):
    """a: 3 objects, annotated right; b: 5, no annotation; c: 2, annotated 4; d: 4, malformed sidecar; a
    broken image."""
    folder = tmp_path / "mixed"
    three, five, two, four = (spread_pixels(n, 64, 48) for n in (3, 5, 2, 4))
    write_red_image(folder, "a.png", three, annotated_points=pixel_centres(three))
    write_red_image(folder, "b.png", five)
    write_red_image(folder, "c.png", two, annotated_points=pixel_centres(spread_pixels(4, 64, 48)))
    write_red_image(folder, "d.png", four)
    (folder / "d.png.points.json").write_text("{ not json", encoding="utf-8")
    (folder / "broken.png").write_bytes(b"")
    return folder


def test_count_folder_writes_csv_densities_points_and_events(red_checkpoint, mixed_folder, tmp_path, capsys):
    out, densities = tmp_path / "out" / "counts.csv", tmp_path / "maps"
    code = main(["count", str(mixed_folder), "--checkpoint", str(red_checkpoint), "--out", str(out),
                 "--density-dir", str(densities), "--points", "--batch", "2", "--events", "jsonl"])
    events = _events(capsys.readouterr().out)
    assert code == 0
    assert _rows(out) == [["image", "count", "annotated_count", "error", "area_px"],
                          ["a.png", "3.000", "3", "0.000", "3072"],
                          ["b.png", "5.000", "", "", "3072"],
                          ["c.png", "2.000", "4", "-2.000", "3072"],
                          ["d.png", "4.000", "", "", "3072"]]
    assert not out.with_name("counts.csv.partial").exists()

    results = [e for e in events if e["type"] == "result"]
    assert [e["image"] for e in results] == ["a.png", "b.png", "c.png", "d.png"]
    c_event = results[2]
    assert c_event["count"] == pytest.approx(2.0, abs=1e-4)
    assert (c_event["annotated_count"], c_event["error"], c_event["stride"]) == (4, pytest.approx(-2.0, abs=1e-4), 4)
    assert results[1]["annotated_count"] is None
    warnings = " | ".join(e["message"] for e in events if e["type"] == "warning")
    assert "broken.png" in warnings and "empty" in warnings
    assert "d.png.points.json" in warnings
    done = events[-1]
    assert done["type"] == "done" and done["counted"] == 4 and done["skipped"] == 1 and done["annotated"] == 2
    assert done["mae"] == pytest.approx(1.0, abs=1e-4) and done["rmse"] == pytest.approx(math.sqrt(2), abs=1e-4)

    manifest = json.loads((densities / "densities.json").read_text())
    assert manifest["stride"] == 4
    density = np.load(results[1]["density"])
    assert density.dtype == np.float32 and density.shape == (12, 16) and density.sum() == pytest.approx(5, abs=1e-4)
    points = np.array(_rows(Path(results[1]["points"]))[1:], dtype=float)
    assert len(points) == 5 == results[1]["points_count"]
    truth = pixel_centres(spread_pixels(5, 64, 48))
    assert np.abs(points[np.argsort(points[:, 0])] - truth[np.argsort(truth[:, 0])]).max() <= 2.0


def test_count_single_image_with_its_sidecar(red_checkpoint, tmp_path, capsys):
    pixels = spread_pixels(6, 64, 48)
    image = write_red_image(tmp_path / "one", "x.png", pixels, annotated_points=pixel_centres(pixels[:5]))
    out = tmp_path / "x.csv"
    assert main(["count", str(image), "--checkpoint", str(red_checkpoint), "--out", str(out),
                 "--events", "jsonl"]) == 0
    assert _rows(out)[1] == ["x.png", "6.000", "5", "1.000", "3072"]


def test_interrupted_count_keeps_finished_rows_in_partial_and_old_output(red_checkpoint, mixed_folder,
                                                                         tmp_path, capsys, monkeypatch):
    import engine.counting.infer

    real = engine.counting.infer.count_images

    def interrupted(*args, **kwargs):
        for number, result in enumerate(real(*args, **kwargs)):
            if number == 2:
                raise KeyboardInterrupt  # what SIGTERM becomes during a count
            yield result

    monkeypatch.setattr(engine.counting.infer, "count_images", interrupted)
    out = tmp_path / "counts.csv"
    out.write_text("previous results\n")
    code = main(["count", str(mixed_folder), "--checkpoint", str(red_checkpoint), "--out", str(out),
                 "--events", "jsonl"])
    events = _events(capsys.readouterr().out)
    assert code == 130
    assert out.read_text() == "previous results\n"
    partial = tmp_path / "counts.csv.partial"
    assert [row[0] for row in _rows(partial)] == ["image", "a.png", "b.png"]
    assert any(e["type"] == "warning" and "counts.csv.partial" in e["message"] for e in events)
    assert events[-1]["type"] == "error"


def test_count_reports_plain_errors(red_checkpoint, mixed_folder, tmp_path, capsys):
    out = tmp_path / "counts.csv"
    assert main(["count", str(mixed_folder), "--checkpoint", str(tmp_path / "missing.pt"), "--out", str(out),
                 "--events", "jsonl"]) == 1
    assert "no such checkpoint" in _events(capsys.readouterr().out)[-1]["message"]
    assert main(["count", str(mixed_folder), "--checkpoint", str(red_checkpoint), "--out", str(out),
                 "--points", "--events", "jsonl"]) == 2
    assert "--density-dir" in _events(capsys.readouterr().out)[-1]["message"]
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "x.jpg").write_bytes(b"GIF89a nonsense")
    assert main(["count", str(only_bad), "--checkpoint", str(red_checkpoint), "--out", str(out),
                 "--events", "jsonl"]) == 1
    assert not out.exists()
    assert main(["count", str(tmp_path / "nowhere"), "--checkpoint", str(red_checkpoint), "--out", str(out),
                 "--events", "jsonl"]) == 1


@pytest.fixture
def evaluation_set(tmp_path):
    """Test split: a (3 found, 3 true), b (2 found of 4 true), c (5 found, 4 true); d is train."""
    folder = tmp_path / "eval"
    five = spread_pixels(5, 64, 48)
    far = spread_pixels(2, 64, 48, offset=24)  # two true objects the model misses
    write_red_image(folder, "a.png", five[:3], annotated_points=pixel_centres(five[:3]), split="test")
    write_red_image(folder, "b.png", five[:2], annotated_points=pixel_centres(np.vstack([five[:2], far])),
                    split="test")
    write_red_image(folder, "c.png", five, annotated_points=pixel_centres(five[:4]), split="test")
    write_red_image(folder, "d.png", five, annotated_points=pixel_centres(five[:1]), split="train")
    return folder


def test_evaluate_reproduces_known_metrics(red_checkpoint, evaluation_set, capsys):
    code = main(["evaluate", str(evaluation_set), "--checkpoint", str(red_checkpoint), "--split", "test",
                 "--events", "jsonl"])
    events = _events(capsys.readouterr().out)
    assert code == 0
    results = {e["image"]: e for e in events if e["type"] == "result"}
    assert sorted(results) == ["a.png", "b.png", "c.png"]
    assert results["b.png"]["error"] == pytest.approx(-2.0, abs=1e-4)
    assert (results["b.png"]["tp"], results["b.png"]["fn"]) == (2, 2)
    done = events[-1]
    assert done["type"] == "done" and done["images"] == 3 and done["radius"] == 4.0  # 2 x sigma 2
    assert done["mae"] == pytest.approx(1.0, abs=1e-4)
    assert done["rmse"] == pytest.approx(math.sqrt(5 / 3), abs=1e-4)
    assert done["game1"] == pytest.approx(1.0, abs=1e-4)
    assert (done["tp"], done["fp"], done["fn"]) == (9, 1, 2)
    assert done["precision"] == pytest.approx(0.9) and done["recall"] == pytest.approx(9 / 11)


def test_evaluate_prints_a_report_and_rejects_an_empty_split(red_checkpoint, evaluation_set, tmp_path, capsys):
    out = tmp_path / "per_image.csv"
    assert main(["evaluate", str(evaluation_set), "--checkpoint", str(red_checkpoint), "--split", "all",
                 "--radius", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "MAE" in printed and "GAME(3)" in printed and "precision" in printed and "d.png" in printed
    assert [row[0] for row in _rows(out)] == ["image", "a.png", "b.png", "c.png", "d.png"]
    assert main(["evaluate", str(evaluation_set), "--checkpoint", str(red_checkpoint), "--split", "val",
                 "--events", "jsonl"]) == 1
    assert "no annotated images in split 'val'" in _events(capsys.readouterr().out)[-1]["message"]


@pytest.mark.slow
def test_count_command_in_a_child_process_prints_json_lines(tmp_path):
    from engine.dataset.synthetic import write_synthetic_dataset

    folder = write_synthetic_dataset(tmp_path / "cells", images=3, size=(64, 96), counts=(5, 10))
    (folder / "zz_broken.png").write_bytes(b"nope")
    checkpoint = fcrn_checkpoint(tmp_path / "fcrn.pt", width=4)
    out = tmp_path / "counts.csv"
    env = dict(os.environ, PYTHONPATH=str(HERE.parents[1]))
    completed = subprocess.run(
        [sys.executable, "-m", "engine", "count", str(folder), "--checkpoint", str(checkpoint), "--out", str(out),
         "--density-dir", str(tmp_path / "maps"), "--device", "cpu", "--events", "jsonl"],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path, check=False)
    assert completed.returncode == 0, completed.stderr
    events = _events(completed.stdout)  # every line parses
    kinds = [e["type"] for e in events]
    assert kinds.count("result") == 3 and kinds.count("warning") == 1 and kinds[-1] == "done"
    assert all(isinstance(e["count"], float) for e in events if e["type"] == "result")
    assert len(_rows(out)) == 4
    assert all(Path(e["density"]).is_file() for e in events if e["type"] == "result")


@pytest.mark.slow
def test_sigterm_stops_a_count_between_images_and_keeps_finished_rows(tmp_path):
    import signal
    import time

    with red_counter_registered():
        checkpoint = red_counter_checkpoint(tmp_path / "slow.pt", delay=0.3)
    folder = tmp_path / "many"
    for index in range(30):
        write_red_image(folder, f"img_{index:02d}.png", spread_pixels(2, 64, 48))
    out = tmp_path / "counts.csv"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parents[1]), str(HERE)]))
    child = subprocess.Popen(
        [sys.executable, "-m", "count_fixtures", "count", str(folder), "--checkpoint", str(checkpoint),
         "--out", str(out), "--batch", "1", "--device", "cpu", "--events", "jsonl"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until two images are done
            lines.append(child.stdout.readline())
            if sum('"type": "result"' in line for line in lines) >= 2:
                break
        child.send_signal(signal.SIGTERM)
        rest, stderr = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    events = _events("".join(lines) + rest)
    assert child.returncode == 130, stderr
    assert events[-1]["type"] == "error" and "interrupted" in events[-1]["message"]
    assert not out.exists()
    rows = _rows(tmp_path / "counts.csv.partial")
    finished = [e["image"] for e in events if e["type"] == "result"]
    assert 2 <= len(finished) < 30 and [row[0] for row in rows[1:]] == finished


def test_count_flips_averages_each_map_with_the_mirrored_images(red_checkpoint, mixed_folder, tmp_path, capsys,
                                                                 monkeypatch):
    from engine.counting import infer

    seen = []

    def doubled(model, record, image, density, **options):  # stands in for the mirrored pass: visible in the count
        seen.append(image.shape)
        return density * 2

    monkeypatch.setattr(infer, "mirror_averaged", doubled)
    out = tmp_path / "flipped.csv"
    assert main(["count", str(mixed_folder), "--checkpoint", str(red_checkpoint), "--out", str(out),
                 "--flips"]) == 0
    assert [row[1] for row in _rows(out)[1:]] == ["6.000", "10.000", "4.000", "8.000"]
    assert seen == [(48, 64, 3)] * 4
    assert main(["count", str(mixed_folder), "--checkpoint", str(red_checkpoint), "--out", str(out)]) == 0
    assert [row[1] for row in _rows(out)[1:]] == ["3.000", "5.000", "2.000", "4.000"] and len(seen) == 4
