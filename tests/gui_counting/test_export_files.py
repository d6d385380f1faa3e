"""engine/counting/overlays.py: density bundles, overlay pictures (no Qt)."""

import h5py
import numpy as np
import pytest
from PIL import Image

from engine.counting.overlays import (
    CountedImage,
    blend_overlay,
    default_lut,
    density_to_image_grid,
    load_density,
    render_overlay,
    save_png,
    write_density_bundle,
)


def test_density_grid_keeps_the_count_and_cuts_the_padding():
    density = np.arange(12, dtype=np.float32).reshape(3, 4)  # stride 4: covers 12 x 16 pixels
    grid = density_to_image_grid(density, 4, height=10, width=16)
    assert grid.shape == (10, 16)
    # The last row of cells reaches past the image (rows 8..11 of which 8, 9 remain): half of it is cut.
    assert grid.sum() == pytest.approx(density[:2].sum() + density[2].sum() / 2)
    assert grid[0, 0] == pytest.approx(density[0, 0] / 16)


def test_bundle_holds_every_map_with_its_count(tmp_path):
    maps = {}
    images = []
    for index in range(3):
        maps[index] = np.random.default_rng(index).random((5, 7)).astype(np.float32)
        path = tmp_path / f"d{index}.npy"
        np.save(path, maps[index])
        name = f"img_{index}.png"
        images.append(CountedImage(name, tmp_path / name, float(maps[index].sum()), path,
                                   annotated_count=3.0 if index == 0 else None))
    images.append(CountedImage("lost.png", tmp_path / "lost.png", 1.0, tmp_path / "missing.npy"))
    target = tmp_path / "out" / "density.h5"
    assert write_density_bundle(target, images, stride=8, attributes={"checkpoint": "best.pt"}) == 3
    with h5py.File(target, "r") as bundle:
        assert bundle.attrs["stride"] == 8 and bundle.attrs["checkpoint"] == "best.pt"
        assert sorted(bundle["density"]) == ["img_0.png", "img_1.png", "img_2.png"]
        np.testing.assert_array_equal(bundle["density/img_1.png"][()], maps[1])
        assert bundle["density/img_0.png"].attrs["annotated_count"] == 3.0
        assert "annotated_count" not in bundle["density/img_2.png"].attrs
        assert bundle["density/img_2.png"].attrs["count"] == pytest.approx(maps[2].sum())
    assert [p.name for p in target.parent.iterdir()] == ["density.h5"]  # no temporary file left behind


def test_load_density_refuses_a_non_map(tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="2-D"):
        load_density(tmp_path / "bad.npy")
    np.save(tmp_path / "ok.npy", np.ones((1, 3, 4)))
    assert load_density(tmp_path / "ok.npy").shape == (3, 4)


def test_blend_leaves_empty_background_untouched_and_colours_dense_places():
    image = np.full((16, 16, 3), 100, dtype=np.uint8)
    density = np.zeros((2, 2), dtype=np.float32)
    density[1, 1] = 5.0  # stride 8: the bottom-right quarter is dense
    lut = default_lut()
    out = blend_overlay(image, density, stride=8, lut=lut, opacity=1.0)
    assert np.array_equal(out[:8, :8], image[:8, :8])
    np.testing.assert_array_equal(out[12, 12], lut[-1])
    half = blend_overlay(image, density, stride=8, lut=lut, opacity=0.5)
    np.testing.assert_allclose(half[12, 12], (image[12, 12] * 0.5 + lut[-1] * 0.5), atol=1)


def test_overlay_picture_has_the_image_size_and_a_label(tmp_path):
    image = np.zeros((120, 160, 3), dtype=np.uint8)
    density = np.zeros((15, 20), dtype=np.float32)
    picture = render_overlay(image, density, count=42.0, stride=8, points=np.array([[80.0, 60.0]]))
    assert picture.size == (160, 120)
    pixels = np.asarray(picture)
    assert pixels[:30, :80].max() == 255  # white count text in the top-left corner
    assert pixels[55:66, 75:86, 1].max() == 255  # the point's green ring
    path = save_png(picture, tmp_path / "a" / "img.png.overlay.png")
    assert Image.open(path).size == (160, 120)


def test_default_lut_runs_dark_to_bright():
    lut = default_lut()
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    brightness = lut.astype(int).sum(axis=1)
    assert brightness[0] < 10 and brightness[-1] > 600
    assert np.all(np.diff(brightness[::32]) > 0)


def test_an_alpha_table_blends_like_the_canvas():
    image = np.full((8, 8, 3), 200, dtype=np.uint8)
    density = np.full((1, 1), 1.0, dtype=np.float32)
    lut = np.zeros((4, 4), dtype=np.uint8)
    lut[:, 3] = [0, 85, 170, 255]  # black, fading in
    out = blend_overlay(image, density, stride=8, lut=lut, opacity=0.5, levels=(0.0, 1.0 / 64 * 3))
    # level = 1/3 of the scale -> table entry 1 -> alpha 1/3, times opacity 0.5: 200 * (1 - 1/6)
    np.testing.assert_allclose(out[0, 0], 200 * (1 - 85 / 255 * 0.5), atol=1)
