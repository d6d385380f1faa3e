"""``python -m engine extract-frames``: frames become unlabeled dataset images that remember their source."""

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from video_fixtures import audio_only_file, frame_counts, frame_picture, lossless_video

from engine.cli import main
from engine.dataset.sidecar import read_sidecar, sidecar_path
from engine.dataset.store import Dataset
from engine.dataset.video import evenly_spaced


def test_every_nth_frame_is_saved_with_its_source_and_stays_unlabeled(tmp_path, capsys):
    counts = frame_counts(12)
    video = lossless_video(tmp_path / "street.mkv", counts)
    out = tmp_path / "dataset"
    assert main(["extract-frames", str(video), "--out", str(out), "--every", "5", "--events", "jsonl"]) == 0
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == ["street_f000000.png", "street_f000005.png", "street_f000010.png"]
    assert np.array_equal(np.asarray(Image.open(out / names[1]).convert("RGB")), frame_picture(counts[5]))
    annotation = read_sidecar(sidecar_path(out / names[1]))
    assert annotation.source == {"video": "street.mkv", "frame": 5, "time_s": 0.5}
    assert json.loads(sidecar_path(out / names[1]).read_text())["version"] == 2
    dataset = Dataset(out)
    assert {entry.status for entry in dataset} == {"unlabeled"}
    # Annotating keeps the source; the frame is then complete.
    dataset.save_points(names[1], [[10.0, 12.0]])
    assert read_sidecar(sidecar_path(out / names[1])).source["frame"] == 5
    assert Dataset(out).entry(names[1]).status == "complete"
    done = [json.loads(line) for line in capsys.readouterr().out.splitlines()][-1]
    assert (done["type"], done["written"]) == ("done", 3)


def test_count_spreads_frames_evenly_and_never_overwrites(tmp_path, capsys):
    video = lossless_video(tmp_path / "v.mkv", frame_counts(30))
    out = tmp_path / "dataset"
    out.mkdir()
    (out / "v_f000029.png").write_bytes(b"mine")
    assert main(["extract-frames", str(video), "--out", str(out), "--count", "4", "--events", "jsonl"]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == [f"v_f{i:06d}.png" for i in (0, 10, 19, 29)]
    assert (out / "v_f000029.png").read_bytes() == b"mine"
    warnings = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"warning"' in line]
    assert "already in dataset" in warnings[-1]["message"]


def test_evenly_spaced_includes_first_and_last():
    assert evenly_spaced(30, 4) == [0, 10, 19, 29]
    assert evenly_spaced(3, 10) == [0, 1, 2]
    assert evenly_spaced(100, 1) == [0]


def test_a_file_without_video_is_refused_plainly(tmp_path, capsys):
    sound = audio_only_file(tmp_path / "sound.mp4")
    assert main(["extract-frames", str(sound), "--out", str(tmp_path / "d"), "--every", "1",
                 "--events", "jsonl"]) == 1
    error = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert "no video stream" in error["message"]
