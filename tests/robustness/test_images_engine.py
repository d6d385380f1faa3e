"""Hostile and unusual image files in the engine: each one opens with the right size, or is refused in words.

Cases (tests/robustness/hostile_images.py): zero bytes, truncated JPEG and PNG, a JPEG with damaged image
data, text with an image name,
decompression bombs (PNG and JPEG headers claiming huge images), 16-bit PNG and TIFF, grey, RGBA, palette,
CMYK JPEG, all eight EXIF orientations; plus a folder named like an image, an image above the size limit,
a JPEG with data after its end (a phone's motion photo), and peak memory while decoding a big JPEG.
"""

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))

from hostile_images import (
    ROTATED,
    expected_orientation,
    gradient_rgb,
    jpeg_bytes,
    write_image_cases,
)

from engine.dataset import Dataset, ImageReadError, image_size, read_image, read_thumbnail
from engine.dataset import images as images_module


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    return folder, write_image_cases(folder)


def test_every_case_opens_with_its_size_or_is_refused_in_words(cases):
    folder, all_cases = cases
    assert len(all_cases) == 21
    for case in all_cases:
        path = folder / case.name
        if case.good:
            assert image_size(path) == case.size, case.name
            pixels = read_image(path)
            assert pixels.shape == (case.size[1], case.size[0], 3), case.name
            assert pixels.dtype == np.uint8 and pixels.flags.c_contiguous and pixels.flags.writeable
        else:
            for reader in (image_size, read_image) if case.detected_at_scan else (read_image,):
                with pytest.raises(ImageReadError) as raised:
                    reader(path)
                assert case.error in raised.value.reason, (case.name, raised.value.reason)
                assert str(raised.value).startswith(case.name + ": ")


def test_thumbnails_show_what_read_image_shows_small(cases):
    """16-bit images are not clipped to white, turned JPEGs are turned, bad files are refused in words."""
    folder, all_cases = cases
    for case in all_cases:
        path = folder / case.name
        if not case.good:
            with pytest.raises(ImageReadError):
                read_thumbnail(path, 36)
            continue
        full = read_image(path).astype(np.float64)
        small = read_thumbnail(path, 36)
        assert small.dtype == np.uint8 and small.ndim == 3 and small.shape[2] == 3, case.name
        assert max(small.shape[:2]) <= 36, case.name
        full_aspect, small_aspect = full.shape[1] / full.shape[0], small.shape[1] / small.shape[0]
        assert abs(np.log(small_aspect / full_aspect)) < 0.2, case.name  # turned as displayed
        # Quadrant means agree: the same picture, the same way up, the same brightness.
        for quadrant in ((0, 0), (0, 1), (1, 0), (1, 1)):
            def mean(a):
                h, w = a.shape[0] // 2, a.shape[1] // 2
                return a[quadrant[0] * h:(quadrant[0] + 1) * h, quadrant[1] * w:(quadrant[1] + 1) * w].mean()
            assert abs(mean(small.astype(np.float64)) - mean(full)) < 12, (case.name, quadrant)


def test_a_folder_scan_lists_every_bad_file_with_its_reason_and_keeps_the_good_ones(cases):
    folder, all_cases = cases
    dataset = Dataset(folder)
    assert dataset.names() == [case.name for case in all_cases]
    problems = "\n".join(dataset.problems)
    for case in all_cases:
        entry = dataset.entry(case.name)
        if case.good:
            assert entry.usable and (entry.width, entry.height) == case.size, case.name
        elif case.detected_at_scan:
            assert not entry.usable and f"{case.name}: " in problems and case.error in entry.image_error
        else:  # damage inside complete-looking data is found when decoding (the readers' tests above)
            assert entry.usable and case.name not in problems, case.name


def test_exif_orientations_turn_the_pixels_as_a_viewer_does(cases):
    folder, _ = cases
    stored = read_image(folder / "exif_1.jpg")  # the same compressed pixels in every file; only the tag differs
    for orientation in range(1, 9):
        shown = read_image(folder / f"exif_{orientation}.jpg")
        np.testing.assert_array_equal(shown, expected_orientation(stored, orientation), err_msg=str(orientation))
        assert (shown.shape[0] > shown.shape[1]) == (orientation in ROTATED)


def test_deep_grey_and_colour_conversions_keep_the_picture(cases):
    folder, _ = cases
    source = gradient_rgb(40, 30)
    for name in ("deep16.png", "deep16.tif"):  # 16-bit: scaled into its own range, order kept
        pixels = read_image(folder / name)[:, :, 0].astype(int)
        assert pixels.min() == 0 and pixels.max() == 255
        assert np.all(np.diff(pixels.ravel()) >= 0)  # the values rise along the rows, as written
    grey = read_image(folder / "grey.png")
    np.testing.assert_array_equal(grey[:, :, 0], source[:, :, 0])
    np.testing.assert_array_equal(grey[:, :, 2], source[:, :, 0])
    np.testing.assert_array_equal(read_image(folder / "rgba.png"), source)  # alpha dropped
    cmyk = read_image(folder / "cmyk.jpg").astype(int)
    assert np.abs(cmyk - source).mean() < 6  # CMYK JPEG converted back to RGB (JPEG loss only)


def test_a_folder_named_like_an_image_is_refused_in_words(tmp_path):
    (tmp_path / "x.jpg").mkdir()
    with pytest.raises(ImageReadError, match="folder, not an image"):
        read_image(tmp_path / "x.jpg")
    with pytest.raises(ImageReadError, match="does not exist"):
        image_size(tmp_path / "gone.png")


def test_the_size_limit_is_named_with_the_image_size(tmp_path, monkeypatch):
    path = tmp_path / "wide.png"
    Image.fromarray(gradient_rgb(300, 200)).save(path)
    monkeypatch.setattr(images_module, "MAX_PIXELS", 50_000)
    for reader in (image_size, read_image):
        with pytest.raises(ImageReadError) as raised:
            reader(path)
        assert "300 x 200 pixels" in raised.value.reason and "at most 0.05 megapixels" in raised.value.reason
    monkeypatch.setattr(images_module, "MAX_PIXELS", 60_000)
    assert read_image(path).shape == (200, 300, 3)


def test_the_default_limit_takes_a_20000_pixel_square_and_refuses_the_bombs():
    assert 20_000 * 20_000 <= images_module.MAX_PIXELS < 60_000 * 60_000
    assert Image.MAX_IMAGE_PIXELS >= images_module.MAX_PIXELS  # Pillow never refuses first, in its own words


def _jpeg_with_marker_bytes_before_the_scan() -> bytes:
    """A JPEG with a comment segment holding FF D9 (as an EXIF thumbnail does) before its image data."""
    data = jpeg_bytes(gradient_rgb(64, 48))
    comment = b"\xff\xfe" + (2 + 6).to_bytes(2, "big") + b"a\xff\xd9b\xff\xd9"
    return data[:2] + comment + data[2:]


def test_a_truncated_jpeg_is_found_even_with_an_end_marker_in_its_header(tmp_path):
    whole = _jpeg_with_marker_bytes_before_the_scan()
    (tmp_path / "whole.jpg").write_bytes(whole)
    assert image_size(tmp_path / "whole.jpg") == (64, 48)
    (tmp_path / "cut.jpg").write_bytes(whole[:len(whole) - 200])
    with pytest.raises(ImageReadError, match="truncated"):
        image_size(tmp_path / "cut.jpg")


def test_data_after_a_complete_jpeg_does_not_make_it_truncated(tmp_path):
    """Phones append a video or a vendor block after the picture; the picture still opens."""
    trailer = bytes(np.random.default_rng(0).integers(0, 255, 300_000, dtype=np.uint8).tobytes()).replace(
        b"\xff\xd9", b"\xff\x00")
    path = tmp_path / "motion.jpg"
    path.write_bytes(jpeg_bytes(gradient_rgb(64, 48)) + trailer)
    assert image_size(path) == (64, 48)
    assert read_image(path).shape == (48, 64, 3)
    # ... and a PNG with a few stray bytes after IEND is still complete.
    buffer = io.BytesIO()
    Image.fromarray(gradient_rgb(20, 10)).save(buffer, "PNG")
    (tmp_path / "padded.png").write_bytes(buffer.getvalue() + b"\0\0\n")
    assert image_size(tmp_path / "padded.png") == (20, 10)


PEAK_CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[2])
from engine.dataset.images import read_image
def high_water():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM"))
before = high_water()
shape = read_image(sys.argv[1]).shape
print(json.dumps({"shape": list(shape), "peak": high_water() - before}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc (Linux)")
@pytest.mark.parametrize("orientation", [1, 6])
def test_decoding_a_big_jpeg_needs_less_than_three_times_its_array(tmp_path, orientation):
    """Before the band-wise conversion, read_image peaked at 4.7x the RGB array (bench/image_memory.py)."""
    width, height = 4000, 3000
    path = tmp_path / "big.jpg"
    path.write_bytes(jpeg_bytes(gradient_rgb(width, height), orientation))
    root = str(Path(__file__).resolve().parents[2])
    done = subprocess.run([sys.executable, "-c", PEAK_CHILD, str(path), root], capture_output=True, text=True,
                          timeout=60, check=True)
    result = json.loads(done.stdout)
    shown = (width, height) if orientation not in ROTATED else (height, width)
    assert result["shape"] == [shown[1], shown[0], 3]
    array_bytes = width * height * 3
    # Pillow's decoded image (4 bytes per pixel) + the array (3) + one band: about 2.4x; 3x leaves room.
    assert result["peak"] < 3.0 * array_bytes, result["peak"] / array_bytes
