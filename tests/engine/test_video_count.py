"""``python -m engine count VIDEO``: frames counted like images, --every, --roi, --overlay, and bad videos."""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # --import-mode=importlib does not add it; the helpers live here
from count_fixtures import red_counter_checkpoint, red_counter_registered
from video_fixtures import (
    audio_only_file,
    frame_counts,
    lossless_video,
    noisy_video,
    truncated_copy,
    unknown_codec_video,
    write_video,
)

from engine.cli import main
from engine.dataset.video import VideoReader


def _events(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.fixture
def red_checkpoint(tmp_path):
    with red_counter_registered():
        yield red_counter_checkpoint(tmp_path / "red.pt", stride=4, density_scale=50.0)


def _count(video, checkpoint, out, *extra):
    return main(["count", str(video), "--checkpoint", str(checkpoint), "--out", str(out), "--batch", "4",
                 "--events", "jsonl", *extra])


def test_mp4_frames_count_as_the_same_frames_saved_as_images(red_checkpoint, tmp_path, capsys):
    video = write_video(tmp_path / "street.mp4", frame_counts(30))
    folder = tmp_path / "frames"
    folder.mkdir()
    with VideoReader(video) as reader:
        for frame in reader.frames():
            Image.fromarray(frame.image).save(folder / f"f{frame.index:03d}.png")
    assert _count(video, red_checkpoint, tmp_path / "video.csv") == 0
    assert _count(folder, red_checkpoint, tmp_path / "images.csv") == 0
    events = _events(capsys.readouterr().out)
    video_rows, image_rows = _rows(tmp_path / "video.csv"), _rows(tmp_path / "images.csv")
    assert video_rows[0] == ["frame", "time_s", "count"]
    assert [int(r[0]) for r in video_rows[1:]] == list(range(30))
    assert [float(r[1]) for r in video_rows[1:]] == pytest.approx([i / 10 for i in range(30)])
    by_video = np.array([float(r[2]) for r in video_rows[1:]])
    by_image = np.array([float(r[1]) for r in image_rows[1:]])
    assert np.abs(by_video - by_image).max() <= 1.0
    start = next(e for e in events if e["type"] == "start")
    assert (start["width"], start["height"], start["frames"], start["fps"]) == (64, 48, 30, 10.0)


def test_lossless_video_counts_every_object_and_every_nth_frame(red_checkpoint, tmp_path, capsys):
    counts = frame_counts(30)
    video = lossless_video(tmp_path / "cells.mkv", counts)
    assert _count(video, red_checkpoint, tmp_path / "all.csv") == 0
    rows = _rows(tmp_path / "all.csv")[1:]
    assert [float(r[2]) for r in rows] == pytest.approx(counts, abs=1e-3)
    assert _count(video, red_checkpoint, tmp_path / "third.csv", "--every", "3") == 0
    rows = _rows(tmp_path / "third.csv")[1:]
    assert [int(r[0]) for r in rows] == list(range(0, 30, 3))
    assert [float(r[2]) for r in rows] == pytest.approx(counts[::3], abs=1e-3)
    done = _events(capsys.readouterr().out)[-1]
    assert (done["type"], done["counted"]) == ("done", 10)


def test_roi_counts_only_inside_and_overlay_video_has_every_counted_frame(red_checkpoint, tmp_path, capsys):
    counts = [8] * 6
    video = lossless_video(tmp_path / "cells.mkv", counts)
    # spread_pixels puts 8 objects at x = 4, 16, 28, 40, 52 (row y = 4) and x = 4, 16, 28 (row y = 16).
    roi = tmp_path / "roi.json"
    roi.write_text(json.dumps([{"kind": "roi", "polygon": [[0, 0], [24, 0], [24, 48], [0, 48]]}]))
    overlay = tmp_path / "out" / "overlay.mp4"
    density_dir = tmp_path / "maps"
    assert _count(video, red_checkpoint, tmp_path / "roi.csv", "--roi", str(roi), "--overlay", str(overlay),
                  "--density-dir", str(density_dir)) == 0
    rows = _rows(tmp_path / "roi.csv")[1:]
    assert [float(r[2]) for r in rows] == pytest.approx([4] * 6, abs=1e-3)
    with VideoReader(overlay) as reader:
        assert len(list(reader.frames())) == 6
    maps = sorted(density_dir.glob("*.density.npy"))
    assert [p.name for p in maps][:2] == ["cells_f000000.density.npy", "cells_f000001.density.npy"]
    assert np.load(maps[0]).sum() == pytest.approx(8, abs=1e-3)  # the map is whole; the ROI picks from it
    assert not list(overlay.parent.glob(".*partial*"))


def test_truncated_video_keeps_the_counted_frames_in_the_partial_table(red_checkpoint, tmp_path, capsys):
    damaged = truncated_copy(noisy_video(tmp_path / "full.mkv"), tmp_path / "cut.mkv")
    out = tmp_path / "counts.csv"
    assert _count(damaged, red_checkpoint, out) == 1
    events = _events(capsys.readouterr().out)
    error = events[-1]
    assert error["type"] == "error" and "truncated" in error["message"]
    assert not out.exists()
    rows = _rows(out.with_name("counts.csv.partial"))
    assert rows[0] == ["frame", "time_s", "count"]
    assert 1 <= len(rows) - 1 == error["frames_read"] < 30


@pytest.mark.parametrize("make, words", [
    (lambda d: truncated_copy(write_video(d / "a.mp4", [1] * 30), d / "cut.mp4"), "cannot be opened as a video"),
    (lambda d: unknown_codec_video(d / "odd.avi"), "codec is unknown"),
    (lambda d: audio_only_file(d / "sound.mp4"), "has no video stream (it holds audio)"),
    (lambda d: (d / "notes.mov").write_text("not a video") and d / "notes.mov", "cannot be opened as a video"),
])
def test_unreadable_videos_fail_with_a_plain_message_and_write_nothing(red_checkpoint, tmp_path, capsys, make,
                                                                       words):
    video = make(tmp_path)
    out = tmp_path / "counts.csv"
    assert _count(video, red_checkpoint, out) == 1
    error = _events(capsys.readouterr().out)[-1]
    assert error["type"] == "error" and words in error["message"] and video.name in error["message"]
    assert not out.exists() and not out.with_name("counts.csv.partial").exists()


def test_variable_frame_rate_is_reported_and_times_follow_the_timestamps(red_checkpoint, tmp_path, capsys):
    times_ms = [0, 100, 150, 400, 450, 900, 1000, 1030]
    video = write_video(tmp_path / "phone.mkv", [2] * len(times_ms), times_ms=times_ms)
    out = tmp_path / "counts.csv"
    assert _count(video, red_checkpoint, out) == 0
    events = _events(capsys.readouterr().out)
    assert [float(r[1]) for r in _rows(out)[1:]] == pytest.approx([t / 1000 for t in times_ms])
    warnings = [e["message"] for e in events if e["type"] == "warning"]
    assert any("variable frame rate" in w for w in warnings)
    assert events[-1]["type"] == "done"


def test_bad_options_for_a_video_are_refused(red_checkpoint, tmp_path, capsys):
    video = write_video(tmp_path / "a.mp4", [1] * 3)
    assert _count(video, red_checkpoint, tmp_path / "c.csv", "--every", "0") == 2
    roi = tmp_path / "roi.json"
    roi.write_text('{"kind": "roi"}')
    assert _count(video, red_checkpoint, tmp_path / "c.csv", "--roi", str(roi)) == 2
    messages = [e["message"] for e in _events(capsys.readouterr().out) if e["type"] == "error"]
    assert "--every must be 1 or more" in messages[0]
    assert "expected a JSON list of regions" in messages[1]


def test_a_two_class_model_adds_a_count_column_per_class_to_the_video_table(tmp_path, capsys):
    import av

    from count_fixtures import red_pixel_image, spread_pixels

    # Frame i: i + 1 red objects ("live") and 2 green ones ("dead"), lossless so each count is exact.
    path = tmp_path / "two.mkv"
    container = av.open(str(path), "w")
    stream = container.add_stream("ffv1", rate=10)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "bgr0"
    for index in range(3):
        picture = red_pixel_image(spread_pixels(index + 1, 64, 48), 64, 48,
                                  green_pixels=spread_pixels(2, 64, 48, offset=5))
        for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    with red_counter_registered():
        checkpoint = red_counter_checkpoint(tmp_path / "two.pt", classes=["live", "dead"])
        assert _count(path, checkpoint, tmp_path / "v.csv") == 0
    events = _events(capsys.readouterr().out)
    assert _rows(tmp_path / "v.csv") == [["frame", "time_s", "count", "count:live", "count:dead"],
                                         ["0", "0.000", "3.000", "1.000", "2.000"],
                                         ["1", "0.100", "4.000", "2.000", "2.000"],
                                         ["2", "0.200", "5.000", "3.000", "2.000"]]
    results = [e for e in events if e["type"] == "result"]
    assert results[2]["counts_per_class"] == {"live": pytest.approx(3.0, abs=1e-4),
                                              "dead": pytest.approx(2.0, abs=1e-4)}
