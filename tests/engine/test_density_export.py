"""``python -m engine density``: images and density maps of a dataset written to HDF5, read back with h5py."""

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from engine.cli import build_parser
from engine.dataset import Dataset, read_image
from engine.dataset.sidecar import Annotation, sidecar_path, write_sidecar
from engine.density import DensitySettings, density_map
from engine.events import ListSink
from engine.dataset.synthetic import synthetic_cells

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _run(*argv):
    args = build_parser().parse_args(["density", *map(str, argv)])
    sink = ListSink()
    return args._run(args, sink), sink


def _add_image(folder: Path, name: str, size=(48, 64), count=20, seed=0, annotate=True, extra_points=()):
    image, points = synthetic_cells(size[0], size[1], count, seed=seed)
    path = folder / name
    Image.fromarray(image).save(path, quality=95)
    if annotate:
        points = np.vstack([points, np.asarray(extra_points, dtype=float).reshape(-1, 2)])
        write_sidecar(sidecar_path(path), Annotation(name, size[1], size[0], points))
    return path


@pytest.fixture
def same_size(tmp_path):
    """Three annotated 48x64 images and one without annotation."""
    folder = tmp_path / "same"
    folder.mkdir()
    for index, count in enumerate((12, 30, 7)):
        _add_image(folder, f"cells_{index + 1}.png", count=count, seed=index)
    _add_image(folder, "unlabeled.png", seed=9, annotate=False)
    return folder


def _no_temp_files(folder: Path):
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_same_sized_images_go_into_stacked_arrays(same_size, tmp_path):
    out = tmp_path / "out" / "cells.h5"
    code, sink = _run(same_size, "--out", out)
    assert code == 0, sink.events
    dataset = Dataset(same_size)
    settings = dataset.settings.density
    with h5py.File(out, "r") as handle:
        assert handle.attrs["layout"] == "stacked"
        assert handle.attrs["format"] == "crowdgui-density"
        assert handle.attrs["mode"] == settings.mode and handle.attrs["sigma"] == settings.sigma
        assert handle.attrs["stride"] == 1
        names = [n.decode() if isinstance(n, bytes) else n for n in handle["names"][:]]
        assert names == ["cells_1.png", "cells_2.png", "cells_3.png"]  # the unlabeled image is left out
        assert handle["images"].shape == (3, 48, 64, 3) and handle["images"].dtype == np.uint8
        assert handle["labels"].shape == (3, 48, 64, 1) and handle["labels"].dtype == np.float32
        assert handle["images"].compression == "gzip" and handle["labels"].compression == "gzip"
        np.testing.assert_array_equal(handle["counts"][:], [12, 30, 7])
        for index, name in enumerate(names):
            np.testing.assert_array_equal(handle["images"][index], read_image(same_size / name))
            expected = density_map(dataset.load_points(name), (48, 64), settings)
            np.testing.assert_array_equal(handle["labels"][index, :, :, 0], expected)
            total = handle["labels"][index].sum(dtype=np.float64)
            assert total == pytest.approx(handle["counts"][index], rel=1e-5)
    assert [e["image"] for e in sink.of_type("result")] == names
    assert sink.of_type("start")[0]["total"] == 3
    assert sink.of_type("progress")[-1]["done"] == 3
    assert sink.of_type("done")[0]["images"] == 3
    assert _no_temp_files(out.parent)


def test_stride_pools_the_labels(same_size, tmp_path):
    out = tmp_path / "s4.h5"
    assert _run(same_size, "--out", out, "--stride", "4")[0] == 0
    with h5py.File(out, "r") as handle:
        assert handle.attrs["stride"] == 4
        assert handle["labels"].shape == (3, 12, 16, 1)
        np.testing.assert_allclose(handle["labels"][:].sum(axis=(1, 2, 3)), [12, 30, 7], rtol=1e-5)


def test_mixed_sizes_go_into_one_group_per_image(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    _add_image(folder, "small.png", size=(40, 50), count=9, seed=1)
    _add_image(folder, "big.png", size=(70, 90), count=25, seed=2)
    out = tmp_path / "mixed.h5"
    code, sink = _run(folder, "--out", out, "--stride", "8")
    assert code == 0, sink.events
    with h5py.File(out, "r") as handle:
        assert handle.attrs["layout"] == "groups"
        assert sorted(handle.keys()) == ["big.png", "small.png"]
        for name, (height, width), count in (("small.png", (40, 50), 9), ("big.png", (70, 90), 25)):
            group = handle[name]
            np.testing.assert_array_equal(group["image"][:], read_image(folder / name))
            assert group["density"].shape == (-(-height // 8), -(-width // 8))
            assert group["density"].dtype == np.float32
            assert int(group["count"][()]) == count
            assert float(group["density"][:].sum()) == pytest.approx(count, rel=1e-5)
    code, sink = _run(folder, "--out", tmp_path / "forced.h5", "--layout", "stacked")
    assert code == 1 and "same size" in sink.of_type("error")[0]["message"]
    assert not (tmp_path / "forced.h5").exists()


def test_settings_come_from_the_dataset_unless_given(same_size, tmp_path):
    dataset = Dataset(same_size)
    dataset.settings.density = DensitySettings(mode="adaptive", sigma=3.0, beta=0.5, k=2)
    dataset.save_settings()

    assert _run(same_size, "--out", tmp_path / "saved.h5")[0] == 0
    with h5py.File(tmp_path / "saved.h5", "r") as handle:
        assert (handle.attrs["mode"], handle.attrs["beta"], handle.attrs["k"]) == ("adaptive", 0.5, 2)
        expected = density_map(dataset.load_points("cells_2.png"), (48, 64), dataset.settings.density)
        np.testing.assert_array_equal(handle["labels"][1, :, :, 0], expected)

    assert _run(same_size, "--out", tmp_path / "given.h5", "--mode", "fixed", "--sigma", "2.5")[0] == 0
    with h5py.File(tmp_path / "given.h5", "r") as handle:
        assert (handle.attrs["mode"], handle.attrs["sigma"], handle.attrs["beta"]) == ("fixed", 2.5, 0.5)
        expected = density_map(dataset.load_points("cells_2.png"), (48, 64), DensitySettings(sigma=2.5))
        np.testing.assert_array_equal(handle["labels"][1, :, :, 0], expected)


def test_per_image_files_follow_the_csrnet_layout(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    _add_image(folder, "IMG_1.jpg", count=11, seed=1)
    _add_image(folder, "IMG_2.jpg", count=17, seed=2)
    _add_image(folder, "dup.jpg", count=3, seed=3)
    _add_image(folder, "dup.png", count=4, seed=4)
    target = tmp_path / "ground-truth"
    code, sink = _run(folder, "--per-image", target, "--stride", "2")
    assert code == 0, sink.events
    assert sorted(p.name for p in target.iterdir()) == ["IMG_1.h5", "IMG_2.h5", "dup.jpg.h5", "dup.png.h5"]
    assert any("dup" in w["message"] for w in sink.of_type("warning"))
    for name, count in (("IMG_1", 11), ("IMG_2", 17)):
        with h5py.File(target / f"{name}.h5", "r") as handle:
            assert handle["density"].shape == (24, 32) and handle["density"].dtype == np.float32
            assert handle.attrs["count"] == count and handle.attrs["image"] == f"{name}.jpg"
            assert float(handle["density"][:].sum()) == pytest.approx(count, rel=1e-5)
    assert "out" not in sink.of_type("done")[0]


def test_existing_outputs_are_kept_unless_forced(same_size, tmp_path):
    out = tmp_path / "cells.h5"
    out.write_bytes(b"precious")
    code, sink = _run(same_size, "--out", out)
    assert code == 1 and "--force" in sink.of_type("error")[0]["message"]
    assert out.read_bytes() == b"precious"
    assert _run(same_size, "--out", out, "--force")[0] == 0
    with h5py.File(out, "r") as handle:
        assert len(handle["images"]) == 3


def test_bad_sidecars_and_outside_points_are_reported(same_size, tmp_path):
    sidecar_path(same_size / "cells_2.png").write_text("{ not json", encoding="utf-8")
    _add_image(same_size, "cells_4.png", count=5, seed=4, extra_points=[[-3.0, 10.0], [64.0, 5.0]])
    out = tmp_path / "partial.h5"
    code, sink = _run(same_size, "--out", out)
    assert code == 0
    messages = " ".join(w["message"] for w in sink.of_type("warning"))
    assert "cells_2.png.points.json" in messages and "2 point(s) outside" in messages
    with h5py.File(out, "r") as handle:
        names = [n.decode() if isinstance(n, bytes) else n for n in handle["names"][:]]
        assert names == ["cells_1.png", "cells_3.png", "cells_4.png"]
        np.testing.assert_array_equal(handle["counts"][:], [12, 7, 5])
        assert float(handle["labels"][2].sum()) == pytest.approx(5, rel=1e-5)


def test_split_selection_and_nothing_to_export(same_size, tmp_path):
    dataset = Dataset(same_size)
    dataset.save_points("cells_3.png", dataset.load_points("cells_3.png"), split="test")
    code, sink = _run(same_size, "--out", tmp_path / "test.h5", "--split", "test")
    assert code == 0 and [e["image"] for e in sink.of_type("result")] == ["cells_3.png"]

    empty = tmp_path / "empty"
    empty.mkdir()
    _add_image(empty, "a.png", annotate=False)
    code, sink = _run(empty, "--out", tmp_path / "none.h5")
    assert code == 1 and "no annotated images" in sink.of_type("error")[0]["message"]
    assert not (tmp_path / "none.h5").exists()

    code, sink = _run(same_size)
    assert code == 2 and "--out" in sink.of_type("error")[0]["message"]


def test_command_line_prints_json_events(same_size, tmp_path):
    out = tmp_path / "cli.h5"
    result = subprocess.run([sys.executable, "-m", "engine", "density", str(same_size), "--out", str(out),
                             "--mode", "adaptive", "--events", "jsonl"],
                            capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["type"] == "start" and events[-1]["type"] == "done"
    assert [e["count"] for e in events if e["type"] == "result"] == [12, 30, 7]
    with h5py.File(out, "r") as handle:
        assert handle.attrs["mode"] == "adaptive"


def test_cancel_between_images_leaves_no_partial_file(same_size, tmp_path, monkeypatch):
    import os
    import signal

    import engine.commands.density as command

    calls = []

    def density_then_cancel(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the window's Cancel arrives while the second image is being made
            os.kill(os.getpid(), signal.SIGTERM)
        return density_map(*args, **kwargs)

    monkeypatch.setattr(command, "density_map", density_then_cancel)
    out, per_image = tmp_path / "cancelled.h5", tmp_path / "maps"
    args = build_parser().parse_args(["density", str(same_size), "--out", str(out),
                                      "--per-image", str(per_image)])
    sink = ListSink()
    handler_before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        args._run(args, sink)
    assert len(calls) == 2
    assert not out.exists() and _no_temp_files(tmp_path)
    # The per-image files of the finished images are complete, so they are kept.
    assert sorted(p.name for p in per_image.iterdir()) == ["cells_1.h5", "cells_2.h5"]
    assert "cancelled after 2 of 3" in sink.of_type("warning")[-1]["message"]
    assert signal.getsignal(signal.SIGTERM) == handler_before  # the handler was put back
