"""The dataset on disk: reading images of every kind, atomic sidecars, bad files, ordering and splits."""

import json
import os
import stat

import numpy as np
import pytest
from PIL import Image

from engine.dataset import (
    Annotation,
    Dataset,
    ImageReadError,
    SidecarError,
    atomic_write_bytes,
    image_size,
    read_image,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)
from engine.dataset.store import natural_key


def _png(path, array, **kwargs):
    Image.fromarray(array, **kwargs).save(path)
    return path


def _rgb(height=12, width=16, value=100):
    return np.full((height, width, 3), value, dtype=np.uint8)


# ------------------------------------------------------------------ images
def test_sixteen_bit_png_is_scaled_to_its_own_range(tmp_path):
    array = np.zeros((10, 20), dtype=np.uint16)
    array[0, 0], array[5, 5] = 1000, 3000
    path = _png(tmp_path / "deep.png", array)
    assert Image.open(path).mode.startswith("I")  # really stored as 16 bits
    pixels = read_image(path)
    assert pixels.shape == (10, 20, 3) and pixels.dtype == np.uint8
    assert pixels[5, 5, 0] == 255 and pixels[1, 1, 0] == 0 and pixels[0, 0, 0] == 85
    assert image_size(path) == (20, 10)


def test_sixteen_bit_png_with_small_values_is_still_stretched(tmp_path):
    # Integer images are scaled to their range even when every value would fit in 0..255.
    array = np.zeros((4, 4), dtype=np.uint16)
    array[0, 0] = 200
    pixels = read_image(_png(tmp_path / "dim.png", array))
    assert pixels[0, 0, 0] == 255


def test_grayscale_and_rgba_images_become_rgb(tmp_path):
    grey = np.arange(12 * 16, dtype=np.uint8).reshape(12, 16)
    pixels = read_image(_png(tmp_path / "grey.png", grey))
    assert pixels.shape == (12, 16, 3)
    assert np.array_equal(pixels[:, :, 0], grey) and np.array_equal(pixels[:, :, 2], grey)

    rgba = np.zeros((12, 16, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2], rgba[..., 3] = 10, 20, 30, 0  # fully transparent
    pixels = read_image(_png(tmp_path / "alpha.png", rgba))
    assert pixels.shape == (12, 16, 3)
    assert tuple(pixels[3, 3]) == (10, 20, 30)  # alpha dropped, colour kept


def test_exif_rotated_image_reports_displayed_size(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees when displayed
    Image.fromarray(_rgb(10, 30)).save(path, exif=exif)
    assert image_size(path) == (10, 30)
    assert read_image(path).shape == (30, 10, 3)


@pytest.mark.parametrize("content, reason", [(b"", "empty"), (b"not an image at all", "not a readable")])
def test_unreadable_image_raises_plain_reason(tmp_path, content, reason):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=reason):
        image_size(path)


def test_truncated_image_data_is_reported_when_decoded(tmp_path):
    good = _png(tmp_path / "good.png", np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(good.read_bytes()[:400])
    with pytest.raises(ImageReadError, match="damaged"):
        read_image(truncated)


# ---------------------------------------------------------------- sidecars
def test_sidecar_round_trip_is_exact(tmp_path):
    points = np.random.default_rng(1).uniform(0, 100, (50, 2))
    path = tmp_path / "a.png.points.json"
    write_sidecar(path, Annotation("a.png", 100, 80, points, split="test"))
    back = read_sidecar(path)
    assert np.array_equal(back.points, points)
    assert (back.image, back.width, back.height, back.split) == ("a.png", 100, 80, "test")


def test_atomic_write_keeps_old_file_when_replace_fails(tmp_path, monkeypatch):
    path = tmp_path / "a.png.points.json"
    write_sidecar(path, Annotation("a.png", 10, 10, [[1.0, 2.0]]))
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        write_sidecar(path, Annotation("a.png", 10, 10, [[5.0, 5.0], [6.0, 6.0]]))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png.points.json"]  # no temporary left


def test_atomic_write_gives_normal_permissions(tmp_path):
    # mkstemp makes owner-only files; a saved sidecar must be as readable as any file the user creates.
    path = tmp_path / "shared.json"
    atomic_write_bytes(path, b"{}")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    os.chmod(path, 0o640)
    atomic_write_bytes(path, b"{ }")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # a replaced file keeps its mode


def test_non_finite_points_are_refused_not_written(tmp_path):
    path = tmp_path / "a.png.points.json"
    with pytest.raises(ValueError, match="non-finite"):
        write_sidecar(path, Annotation("a.png", 10, 10, [[1.0, np.nan]]))
    assert not path.exists()


@pytest.mark.parametrize("text, reason", [
    ("{not json", "not valid JSON"),
    ('{"format": "other"}', "not a CrowdGUI"),
    ('{"format": "crowdgui-points", "version": 99, "image": "a", "width": 1, "height": 1, "points": []}',
     "version"),
    ('{"format": "crowdgui-points", "version": 1, "image": "a", "width": 1, "height": 1, "points": [[1]]}',
     "pairs"),
    ('{"format": "crowdgui-points", "version": 1, "image": "a", "width": 1, "height": 1, "points": [],'
     ' "split": "holdout"}', "unknown split"),
])
def test_malformed_sidecar_raises_plain_reason(tmp_path, text, reason):
    path = tmp_path / "a.png.points.json"
    path.write_text(text)
    with pytest.raises(SidecarError, match=reason):
        read_sidecar(path)


# ----------------------------------------------------------------- dataset
def test_corrupt_image_is_listed_with_reason_and_left_out_of_splits(tmp_path):
    _png(tmp_path / "good.png", _rgb())
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    write_sidecar(sidecar_path(tmp_path / "broken.jpg"), Annotation("broken.jpg", 16, 12, [[1, 1]]))
    dataset = Dataset(tmp_path)
    assert dataset.names() == ["broken.jpg", "good.png"]
    broken = dataset.entry("broken.jpg")
    assert not broken.usable and "not a readable image" in broken.image_error
    assert any("broken.jpg" in problem and "skipped" in problem for problem in dataset.problems)
    everything = sum((dataset.images_in(s) for s in ("train", "val", "test", "unlabeled")), [])
    assert everything == ["good.png"]


def test_malformed_sidecar_is_reported_then_moved_aside_on_save(tmp_path):
    _png(tmp_path / "a.png", _rgb())
    bad = sidecar_path(tmp_path / "a.png")
    bad.write_text("{ this is somebody's half-written file")
    dataset = Dataset(tmp_path)
    entry = dataset.entry("a.png")
    assert not entry.annotated and "not valid JSON" in entry.sidecar_error
    assert any("kept as it is" in problem for problem in dataset.problems)
    with pytest.raises(SidecarError):
        dataset.load_annotation("a.png")

    moved = dataset.save_points("a.png", [[3.0, 4.0]])
    assert moved is not None and moved.read_text() == "{ this is somebody's half-written file"
    assert np.array_equal(read_sidecar(bad).points, [[3.0, 4.0]])
    moved_again = Dataset(tmp_path)  # the new sidecar is valid: nothing more is moved
    assert moved_again.entry("a.png").annotated and moved_again.problems == []


def test_sidecar_that_appears_after_the_scan_is_checked_before_saving(tmp_path):
    _png(tmp_path / "a.png", _rgb())
    dataset = Dataset(tmp_path)
    sidecar_path(tmp_path / "a.png").write_text("garbage written by another program")
    moved = dataset.save_points("a.png", [[1.0, 1.0]])
    assert moved is not None and moved.read_text() == "garbage written by another program"


def test_two_malformed_sidecars_moved_aside_in_the_same_second_both_survive(tmp_path):
    _png(tmp_path / "a.png", _rgb())
    kept = []
    for text in ("first broken", "second broken"):
        sidecar_path(tmp_path / "a.png").write_text(text)
        kept.append(Dataset(tmp_path).save_points("a.png", [[1.0, 1.0]]))
    assert kept[0] != kept[1]
    assert {kept[0].read_text(), kept[1].read_text()} == {"first broken", "second broken"}


def test_bad_points_leave_malformed_sidecar_in_place(tmp_path):
    _png(tmp_path / "a.png", _rgb())
    sidecar_path(tmp_path / "a.png").write_text("broken")
    dataset = Dataset(tmp_path)
    with pytest.raises(ValueError):
        dataset.save_points("a.png", [[1.0, np.inf]])
    assert sidecar_path(tmp_path / "a.png").read_text() == "broken"
    assert len(list(tmp_path.iterdir())) == 2


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _check_read_only_save_fails_cleanly(tmp_path):
    dataset = Dataset(tmp_path)
    before = _snapshot(tmp_path)
    with pytest.raises(PermissionError):
        dataset.save_points("a.png", [[1.0, 1.0], [2.0, 2.0]])
    with pytest.raises(PermissionError):
        dataset.save_points("b.png", [[1.0, 1.0]])  # the one with a malformed sidecar
    assert _snapshot(tmp_path) == before


def _read_only_folder(tmp_path):
    _png(tmp_path / "a.png", _rgb())
    _png(tmp_path / "b.png", _rgb())
    write_sidecar(sidecar_path(tmp_path / "a.png"), Annotation("a.png", 16, 12, [[5.0, 5.0]]))
    sidecar_path(tmp_path / "b.png").write_text("broken")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_folder_save_raises_and_changes_nothing(tmp_path):
    _read_only_folder(tmp_path)
    tmp_path.chmod(0o555)
    try:
        _check_read_only_save_fails_cleanly(tmp_path)
    finally:
        tmp_path.chmod(0o755)


def test_read_only_folder_simulated_save_raises_and_changes_nothing(tmp_path, monkeypatch):
    # The same check with the file system's refusal simulated, so it also runs as root (which chmod
    # cannot stop): creating files and renaming in the folder fail as in a read-only folder.
    import tempfile

    _read_only_folder(tmp_path)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    monkeypatch.setattr(os, "replace", refuse)
    _check_read_only_save_fails_cleanly(tmp_path)


def test_natural_sort_order_and_hidden_files(tmp_path):
    for name in ("IMG_10.jpg", "IMG_2.jpg", "img_1.jpg", "IMG_02.jpg", "IMG_1b.jpg", "._IMG_3.jpg"):
        Image.fromarray(_rgb()).save(tmp_path / name, format="JPEG")
    (tmp_path / "notes.txt").write_text("not an image")
    assert Dataset(tmp_path).names() == ["img_1.jpg", "IMG_1b.jpg", "IMG_02.jpg", "IMG_2.jpg", "IMG_10.jpg"]
    assert sorted(["b10", "B2", "a"], key=natural_key) == ["a", "B2", "b10"]


def test_split_is_stable_and_explicit_split_wins(tmp_path):
    names = [f"img_{i:03d}.png" for i in range(40)]
    for name in names[:20]:
        _png(tmp_path / name, _rgb(4, 4))
        write_sidecar(sidecar_path(tmp_path / name), Annotation(name, 4, 4, [[1, 1]]))
    first = {name: Dataset(tmp_path).split_of(name) for name in names[:20]}
    assert set(first.values()) == {"train", "val"}  # 20 images at 20 % validation: both appear

    for name in names[20:]:  # adding images must not move the old ones
        _png(tmp_path / name, _rgb(4, 4))
        write_sidecar(sidecar_path(tmp_path / name), Annotation(name, 4, 4, [[1, 1]]))
    dataset = Dataset(tmp_path)
    assert {name: dataset.split_of(name) for name in names[:20]} == first

    dataset.save_points(names[0], [[2, 2]], split="test")
    assert Dataset(tmp_path).split_of(names[0]) == "test"
    _png(tmp_path / "new.png", _rgb(4, 4))
    assert Dataset(tmp_path).split_of("new.png") == "unlabeled"


def test_save_points_writes_real_image_size(tmp_path):
    _png(tmp_path / "a.png", _rgb(12, 16))
    dataset = Dataset(tmp_path)
    dataset.save_points("a.png", np.array([[1.5, 2.5]]))
    data = json.loads(sidecar_path(tmp_path / "a.png").read_text())
    assert (data["width"], data["height"], data["points"]) == (16, 12, [[1.5, 2.5]])


def test_proposed_points_round_trip_and_keep_the_image_unannotated(tmp_path):
    from engine.dataset.synthetic import write_synthetic_dataset

    write_synthetic_dataset(tmp_path, images=1, size=(48, 64), counts=(3, 3), seed=0, annotate=False)
    dataset = Dataset(tmp_path)
    name = dataset.names()[0]
    dataset.save_points(name, [[1.0, 2.0]], proposed=[[10.5, 11.0], [20.0, 21.25]])
    entry = dataset.entry(name)
    assert (entry.annotated, entry.count, entry.proposed) == (False, 1, 2)
    assert dataset.split_of(name) == "unlabeled"  # pending proposals keep it out of training
    again = Dataset(tmp_path)
    assert again.entry(name).proposed == 2 and not again.entry(name).annotated
    np.testing.assert_array_equal(again.load_proposed(name), [[10.5, 11.0], [20.0, 21.25]])
    # Saving confirmed points alone keeps the proposals; accepting them clears the key from the file.
    again.save_points(name, [[1.0, 2.0], [3.0, 4.0]])
    assert Dataset(tmp_path).entry(name).proposed == 2
    again.save_points(name, [[1.0, 2.0], [3.0, 4.0], [10.5, 11.0]], proposed=[])
    assert '"proposed"' not in again.entry(name).sidecar.read_text()
    final = Dataset(tmp_path).entry(name)
    assert (final.annotated, final.count, final.proposed) == (True, 3, 0)


def test_non_finite_proposals_are_refused_on_read(tmp_path):
    from engine.dataset.sidecar import SidecarError, read_sidecar

    path = tmp_path / "a.png.points.json"
    path.write_text('{"format": "crowdgui-points", "version": 1, "image": "a.png", "width": 4, "height": 4, '
                    '"points": [], "proposed": [[1, NaN]]}')
    with pytest.raises(SidecarError, match="1 proposed point"):
        read_sidecar(path)


def test_restore_sidecar_puts_back_the_exact_bytes_or_no_file(tmp_path):
    _png(tmp_path / "a.png", _rgb())
    dataset = Dataset(tmp_path)
    path = sidecar_path(tmp_path / "a.png")
    original = b'{"format": "crowdgui-points", "version": 1, "image": "a.png", "width": 16, "height": 12, ' \
               b'"split": null, "points": []}'
    dataset.save_points("a.png", [[1, 2]])
    dataset.restore_sidecar("a.png", original)
    assert path.read_bytes() == original
    assert dataset.entry("a.png").status == "complete" and dataset.entry("a.png").count == 0
    dataset.restore_sidecar("a.png", None)
    assert not path.exists() and dataset.entry("a.png").status == "unlabeled"
