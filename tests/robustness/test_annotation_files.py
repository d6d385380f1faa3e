"""Hostile and damaged annotation files: a plain-words reason, the file kept, nothing silently dropped.

Sidecars: every case is reported by the folder scan (never an exception out of Dataset), kept byte for byte,
and renamed aside (never overwritten) when the image's points are saved. Points outside the image: kept in
the file, flagged, and left out of what learns or scores. Importers: a bad .mat is reported and the import
goes on with the other images.
"""

import json
import sys
from pathlib import Path

import h5py
import numpy as np
import scipy.io

sys.path.insert(0, str(Path(__file__).parent))
from sidecar_cases import SIDECAR_CASES, VALID, make_image, write_case

from engine.counting.targets import gather_targets
from engine.training.crops import labelled_images
from engine.dataset import Dataset, read_sidecar, sidecar_path
from engine.dataset.importers import import_dataset
from engine.events import ListSink


def test_every_hostile_sidecar_is_reported_kept_and_moved_aside_on_save(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    sidecars = {name: write_case(folder, name, content) for name, content, _ in SIDECAR_CASES}
    originals = {name: path.read_bytes() for name, path in sidecars.items() if path.is_file()}
    make_image(folder / "good.png")
    sidecar_path(folder / "good.png").write_text(VALID)

    dataset = Dataset(folder)  # must not raise, whatever the files hold
    handled = 0
    for name, _, words in SIDECAR_CASES:
        entry = dataset.entry(f"{name}.png")
        assert entry.sidecar_error is not None and words in entry.sidecar_error, (name, entry.sidecar_error)
        assert not entry.annotated and entry.count is None
        assert any(p.startswith(sidecars[name].name) and "kept as it is" in p for p in dataset.problems), name
        assert dataset.split_of(f"{name}.png") == "unlabeled"  # never trained on, never scored
        handled += 1
    assert dataset.entry("good.png").count == 1
    for name, data in originals.items():
        assert sidecars[name].read_bytes() == data, f"{name} was changed by the scan"

    # Saving points for those images keeps the old file under another name, byte for byte.
    for name, _, _ in SIDECAR_CASES:
        if name in originals:
            moved = dataset.save_points(f"{name}.png", [[3.0, 4.0]])
            assert moved is not None and moved.name.startswith(f"{name}.png.points.json.malformed-")
            assert moved.read_bytes() == originals[name]
            assert read_sidecar(sidecars[name]).points.tolist() == [[3.0, 4.0]]
    print(f"sidecar cases tried {len(SIDECAR_CASES)}, reported with a reason and kept {handled}")
    assert handled == len(SIDECAR_CASES) >= 30


def test_a_sidecar_with_a_byte_order_mark_is_read(tmp_path):
    """Re-saved by a Windows editor: the points are fine, so they are read."""
    make_image(tmp_path / "x.png")
    sidecar_path(tmp_path / "x.png").write_bytes(b"\xef\xbb\xbf" + VALID.encode())
    assert Dataset(tmp_path).entry("x.png").count == 1


def _dataset_with_outside_points(folder: Path) -> Dataset:
    folder.mkdir()
    make_image(folder / "x.png")
    dataset = Dataset(folder)
    dataset.save_points("x.png", [[1.0, 1.0], [39.5, 29.5], [-2.0, 5.0], [40.0, 3.0], [5.0, 31.0]])
    return Dataset(folder)


def test_points_outside_the_image_are_kept_flagged_and_left_out_of_training_and_counts(tmp_path):
    dataset = _dataset_with_outside_points(tmp_path / "data")
    entry = dataset.entry("x.png")
    assert entry.count == 5 and entry.outside == 3
    assert len(dataset.load_points("x.png")) == 5  # kept in the file
    assert dataset.load_points_inside("x.png").tolist() == [[1.0, 1.0], [39.5, 29.5]]
    [problem] = dataset.problems
    assert "3 of 5 point(s) lie outside the 40 x 30 image" in problem and "kept in the points file" in problem
    _, points = labelled_images(dataset, ["x.png"])
    assert len(points[0]) == 2  # training targets are made from the points inside only
    [target], problems = gather_targets(tmp_path / "data")
    assert target.annotated_count == 2  # compared with a predicted count: inside only
    assert any("3 of 5 point(s) lie outside" in p.message for p in problems)
    [single], problems = gather_targets(tmp_path / "data" / "x.png")
    assert single.annotated_count == 2 and problems


def test_a_sidecar_written_for_another_image_size_is_flagged(tmp_path):
    make_image(tmp_path / "x.png", size=(80, 60))
    sidecar_path(tmp_path / "x.png").write_text(VALID)  # written for 40 x 30
    dataset = Dataset(tmp_path)
    assert dataset.entry("x.png").count == 1
    assert any("written for a 40 x 30 image, but the image is 80 x 60" in p for p in dataset.problems)


def _shanghaitech(src: Path) -> None:
    (src / "images").mkdir(parents=True)
    (src / "ground-truth").mkdir()
    for index in range(1, 6):
        make_image(src / "images" / f"IMG_{index}.jpg")
    from engine.dataset.formats.matfile import write_image_info_mat

    write_image_info_mat(src / "ground-truth" / "GT_IMG_1.mat", np.array([[1.0, 2.0], [3.0, 4.0]]))
    scipy.io.savemat(src / "ground-truth" / "GT_IMG_2.mat", {"density": np.zeros((3, 3))})  # no image_info
    struct = np.zeros((1, 1), dtype=[("number", object)])  # image_info without 'location'
    struct[0, 0]["number"] = np.array([[2]])
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = struct
    scipy.io.savemat(src / "ground-truth" / "GT_IMG_3.mat", {"image_info": cell})
    good = (src / "ground-truth" / "GT_IMG_1.mat").read_bytes()
    (src / "ground-truth" / "GT_IMG_4.mat").write_bytes(good[: len(good) // 2])  # truncated
    with h5py.File(src / "ground-truth" / "GT_IMG_5.mat", "w") as handle:  # v7.3 (HDF5), no known variable
        handle["something"] = np.zeros(3)


def test_import_reports_each_bad_mat_file_and_goes_on(tmp_path):
    _shanghaitech(tmp_path / "src")
    events = ListSink()
    summary = import_dataset(tmp_path / "src", tmp_path / "out", fmt="shanghaitech", events=events)
    reasons = {Path(path).name: reason for path, reason in summary.skipped}
    assert summary.annotated == 1 and summary.points == 2
    assert set(reasons) == {"GT_IMG_2.mat", "GT_IMG_3.mat", "GT_IMG_4.mat", "GT_IMG_5.mat"}, reasons
    assert "variables found: density" in reasons["GT_IMG_2.mat"]
    assert "'image_info' has no 'location' field" in reasons["GT_IMG_3.mat"]
    assert "unreadable" in reasons["GT_IMG_4.mat"]
    assert "holds none of the point variables" in reasons["GT_IMG_5.mat"]
    warnings = [e["message"] for e in events.events if e["type"] == "warning"]
    assert sum("skipped IMG_" in w for w in warnings) == 4
    # Nothing silently: the images of the bad files are not imported as if they had no objects.
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.suffix == ".jpg") == ["IMG_1.jpg"]
    assert all((tmp_path / "src" / "ground-truth" / f"GT_IMG_{i}.mat").exists() for i in range(1, 6))


def test_import_keeps_points_outside_the_image_and_the_dataset_flags_them(tmp_path):
    src = tmp_path / "src"
    (src / "images").mkdir(parents=True)
    make_image(src / "images" / "IMG_1.jpg")
    from engine.dataset.formats.matfile import write_image_info_mat

    write_image_info_mat(src / "GT_IMG_1.mat", np.array([[1.0, 2.0], [45.0, 2.0], [np.nan, 3.0]]))
    events = ListSink()
    summary = import_dataset(src, tmp_path / "out", fmt="shanghaitech", events=events)
    assert (summary.points, summary.outside_points, summary.dropped_points) == (2, 1, 1)
    assert read_sidecar(sidecar_path(tmp_path / "out" / "IMG_1.jpg")).points.tolist() == [[1.0, 2.0], [45.0, 2.0]]
    assert any("outside" in p for p in Dataset(tmp_path / "out").problems)
    assert json.dumps(summary.to_dict())  # the done event stays serialisable
