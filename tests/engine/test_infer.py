"""Counting with a checkpoint: exact counts from a known model, tiling, batching, streaming, bad images."""

import contextlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib does not add it; the helpers live here
from count_fixtures import (
    RedCounter,
    fcrn_checkpoint,
    red_counter_checkpoint,
    red_counter_registered,
    red_pixel_image,
    spread_pixels,
    write_red_image,
)

from engine.models.checkpoint import load_model
from engine.counting.infer import count_images, predict_density, receptive_margin
from engine.counting.tiles import plan_tiles


@pytest.fixture
def red_counter(tmp_path):
    """(model, record) of the exact-answer test model, loaded from a real checkpoint file."""
    with red_counter_registered():
        path = red_counter_checkpoint(tmp_path / "red.pt", stride=4, density_scale=50.0)
        RedCounter.calls.clear()
        yield load_model(path, "cpu")


# ------------------------------------------------------------------------------------------- tile plan
@pytest.mark.parametrize("height, width, budget, margin, align", [
    (203, 301, 120 * 120, 23, 8), (6000, 8000, 2**21, 40, 8), (50, 4000, 64 * 64, 16, 8), (64, 64, 10**6, 8, 8),
])
def test_tile_cores_cover_the_image_once_and_windows_fit_the_budget(height, width, budget, margin, align):
    tiles = plan_tiles(height, width, budget, margin, align)
    padded_h, padded_w = -(-height // align) * align, -(-width // align) * align
    cover = np.zeros((padded_h, padded_w), np.int32)
    for tile in tiles:
        (wy0, wy1, wx0, wx1), (cy0, cy1, cx0, cx1) = tile.window, tile.core
        cover[cy0:cy1, cx0:cx1] += 1
        assert (wy1 - wy0) * (wx1 - wx0) <= budget
        assert all(v % align == 0 for v in (*tile.window, *tile.core))
        # the window reaches a full margin past the core wherever the image goes on
        margin_up = -(-margin // align) * align
        assert wy0 == max(0, cy0 - margin_up) and wy1 == min(padded_h, cy1 + margin_up)
        assert wx0 == max(0, cx0 - margin_up) and wx1 == min(padded_w, cx1 + margin_up)
    assert (cover == 1).all()
    if padded_h * padded_w <= budget:
        assert len(tiles) == 1


def test_network_input_is_engine_preprocess_done_on_the_device():
    from engine.counting.infer import network_input
    from engine.models.contract import DEFAULT_NORMALIZATION, normalize_image, pad_to_multiple

    image = (np.random.default_rng(0).random((37, 50, 3)) * 255).astype(np.uint8)
    image.flags.writeable = False  # as decoded images come
    record = {"normalization": DEFAULT_NORMALIZATION}
    expected = pad_to_multiple(normalize_image(image, DEFAULT_NORMALIZATION), 8)
    batch = network_input([image, image[:30, :41]], record, (40, 56), torch.device("cpu"))
    assert batch.shape == (2, 3, 40, 56)
    np.testing.assert_allclose(batch[0].numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(batch[1, :, :30, :41].numpy(), expected[:, :30, :41], atol=1e-5)
    assert (batch[1, :, 30:, :] == 0).all() and (batch[1, :, :, 41:] == 0).all()


# --------------------------------------------------------------------------------------- exact answers
def test_predict_density_uses_the_checkpoints_normalisation_scale_and_stride(red_counter):
    model, record = red_counter
    pixels = spread_pixels(7, 50, 37)
    density = predict_density(model, record, red_pixel_image(pixels, 50, 37))
    assert density.shape == (10, 13)  # ceil(37 / 4), ceil(50 / 4)
    assert density.dtype == np.float32
    assert density.sum() == pytest.approx(7.0, abs=1e-4)
    x, y = pixels[0]
    assert density[y // 4, x // 4] == pytest.approx(1.0, abs=1e-5)
    # The density scale comes from the record, not from engine.models.contract: doubling it halves the count.
    doubled = dict(record, density_scale=2 * record["density_scale"])
    assert predict_density(model, doubled, red_pixel_image(pixels, 50, 37)).sum() == pytest.approx(3.5, abs=1e-4)


def test_tiled_equals_whole_with_the_known_model(red_counter):
    model, record = red_counter
    pixels = spread_pixels(60, 300, 140, spacing=13)
    image = red_pixel_image(pixels, 300, 140)
    whole = predict_density(model, record, image)
    RedCounter.calls.clear()
    tiled = predict_density(model, record, image, max_pixels=48 * 48, batch_size=1)
    assert len(RedCounter.calls) > 10  # really tiled
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    assert tiled.sum() == pytest.approx(60.0, abs=1e-3)


def test_tiled_approximately_equals_whole_with_a_real_network(tmp_path):
    model, record = load_model(fcrn_checkpoint(tmp_path / "fcrn.pt", width=4), "cpu")
    image = (np.random.default_rng(1).random((150, 230, 3)) * 255).astype(np.uint8)
    whole = predict_density(model, record, image)
    margin = receptive_margin(model, record)
    assert 8 <= margin <= 64  # FCRN-A: three 2x poolings and 3x3 convolutions
    with forward_batches(model) as batches:
        tiled = predict_density(model, record, image, max_pixels=112 * 112, batch_size=3)
    assert sum(batches) >= 4  # really tiled: a 150 x 230 image cannot run whole within 112 x 112 pixels
    assert tiled.shape == whole.shape == (150, 230)
    scale = np.abs(whole).max()
    np.testing.assert_allclose(tiled, whole, atol=1e-4 * scale)
    # With no margin at all the seams would show: the comparison above is not vacuous.
    from engine.counting import infer
    infer._margins[model] = 0
    seams = predict_density(model, record, image, max_pixels=112 * 112)
    del infer._margins[model]
    assert np.abs(seams - whole).max() > 1e-2 * scale


@pytest.mark.parametrize("arch", ["fcrn_a", "unet", "unet_vgg16", "cmtl", "csrnet"])
def test_tiled_equals_whole_for_every_architecture(arch):
    from engine.models import get_model
    from engine.models.contract import DEFAULT_NORMALIZATION

    torch.manual_seed(0)
    model = get_model(arch, width=4).eval()
    record = {"normalization": DEFAULT_NORMALIZATION, "density_scale": 100.0}
    margin = receptive_margin(model, record)
    assert margin >= 8  # a network that sees its neighbours, or equal tiles would prove nothing
    image = (np.random.default_rng(2).random((2 * margin + 150, 2 * margin + 230, 3)) * 255).astype(np.uint8)
    whole = predict_density(model, record, image)
    with forward_batches(model) as batches:
        tiled = predict_density(model, record, image, max_pixels=(2 * margin + 64) ** 2)
    assert sum(batches) >= 4, batches  # the image went through in tiles, not whole
    np.testing.assert_allclose(tiled, whole, atol=1e-5 * np.abs(whole).max())


@contextlib.contextmanager
def forward_batches(model):
    """The batch size of every forward pass of ``model`` inside the block."""
    sizes = []
    handle = model.register_forward_hook(lambda _module, inputs, _output: sizes.append(len(inputs[0])))
    try:
        yield sizes
    finally:
        handle.remove()


# ------------------------------------------------------------------------------------------ streaming
def test_count_images_streams_in_order_batches_and_survives_bad_files(red_counter, tmp_path):
    model, record = red_counter
    folder = tmp_path / "images"
    expected = {}
    for index, count in enumerate([3, 0, 5, 2, 8]):
        path = write_red_image(folder, f"img_{index}.png", spread_pixels(count, 64, 48))
        expected[path] = count
    big = write_red_image(folder, "big.png", spread_pixels(40, 160, 120), width=160, height=120)
    expected[big] = 40
    bad = folder / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    paths = [*list(expected)[:2], bad, *list(expected)[2:]]
    results = list(count_images(paths, (model, record), batch_size=4, max_pixels=64 * 64))
    assert [r.index for r in results] == list(range(len(paths)))
    assert [r.path for r in results] == paths
    failed = [r for r in results if not r.ok]
    assert len(failed) == 1 and failed[0].path == bad and failed[0].count is None and failed[0].error
    for result in results:
        if result.ok:
            assert result.count == pytest.approx(expected[result.path], abs=1e-3)
            assert result.density.shape == (-(-result.height // 4), -(-result.width // 4))
            assert result.seconds > 0
    # 64x48 images share forward passes (at most 64*64 pixels -> one 64x48 image each here) and the
    # 160x120 image was tiled into several passes.
    assert all(shape[2] * shape[3] * shape[0] <= 64 * 64 for shape in RedCounter.calls)
    assert sum(1 for shape in RedCounter.calls if shape[2:] != (48, 64)) > 1


def test_same_sized_images_share_a_forward_pass(red_counter, tmp_path):
    model, record = red_counter
    paths = [write_red_image(tmp_path, f"{i}.png", spread_pixels(i + 1, 64, 48)) for i in range(6)]
    counts = [r.count for r in count_images(paths, (model, record), batch_size=3)]
    assert counts == pytest.approx([1, 2, 3, 4, 5, 6], abs=1e-3)
    assert max(shape[0] for shape in RedCounter.calls) > 1
    assert sum(shape[0] for shape in RedCounter.calls) == 6


def test_stopping_early_stops_the_decoding_thread(red_counter, tmp_path):
    import threading

    model, record = red_counter
    paths = [write_red_image(tmp_path, f"{i}.png", spread_pixels(1, 64, 48)) for i in range(20)]
    stream = count_images(paths, (model, record), batch_size=1, prefetch=2)
    first = next(stream)
    assert first.ok
    stream.close()
    assert not any(t.name == "image-prefetch" and t.is_alive() for t in threading.enumerate())


def test_count_images_loads_a_checkpoint_path(tmp_path):
    with red_counter_registered():
        checkpoint = red_counter_checkpoint(tmp_path / "red.pt")
        path = write_red_image(tmp_path, "a.png", spread_pixels(4, 64, 48))
        (result,) = count_images([path], checkpoint, "cpu")
    assert result.count == pytest.approx(4.0, abs=1e-4)


def test_receptive_margin_is_measured_for_undeclared_models():
    class Blur(torch.nn.Module):  # a 9x9 convolution: radius 4
        stride, input_multiple = 1, 1

        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 1, 9, padding=4)

        def forward(self, x):
            return self.conv(x)

    assert receptive_margin(Blur().eval(), {}) == 4


# ------------------------------------------------------------------------------------ mirrored margin
def test_mirror_indices_reflect_without_repeating_the_edge_even_past_a_narrow_axis():
    from engine.models.contract import mirror_indices

    assert mirror_indices(-3, 8, 5).tolist() == [3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1]
    assert mirror_indices(-4, 4, 2).tolist() == [0, 1, 0, 1, 0, 1, 0, 1]
    assert mirror_indices(-2, 3, 1).tolist() == [0, 0, 0, 0, 0]


def test_mirrored_window_takes_the_same_pixels_by_padding_as_by_indexing():
    """The fast path (numpy's reflect padding of the part inside) and the general one (mirrored indices, for
    windows wider than the image or outside it) give the same pixels."""
    from engine.models.contract import mirror_indices, mirrored_window

    rng = np.random.default_rng(0)
    for _ in range(2000):
        height, width = (int(v) for v in rng.integers(1, 40, 2))
        image = rng.integers(0, 255, (height, width, 3)).astype(np.uint8)
        y0, x0 = int(rng.integers(-50, height + 10)), int(rng.integers(-50, width + 10))
        y1, x1 = y0 + int(rng.integers(1, 80)), x0 + int(rng.integers(1, 80))
        expected = image[np.ix_(mirror_indices(y0, y1, height), mirror_indices(x0, x1, width))]
        np.testing.assert_array_equal(mirrored_window(image, y0, y1, x0, x1), expected)


def test_the_network_sees_the_image_inside_a_mirrored_margin(red_counter):
    """What reaches the model: 16 mirrored pixels around the image, sides multiples of the alignment; the
    returned map is the image's own cells only."""
    from engine.models.contract import CONTEXT_PIXELS, mirrored_window

    model, record = red_counter
    image = (np.random.default_rng(3).random((37, 50, 3)) * 255).astype(np.uint8)
    RedCounter.calls.clear()
    density = predict_density(model, record, image)
    [shape] = RedCounter.calls
    assert CONTEXT_PIXELS == 16 and tuple(shape[-2:]) == (72, 84)  # 37 + 32 -> 72, 50 + 32 -> 84 (stride 4)
    assert density.shape == (10, 13)
    window = mirrored_window(image, -16, 56, -16, 68)
    np.testing.assert_array_equal(window[16:53, 16:66], image)
    np.testing.assert_array_equal(window[15, 16:66], image[1])  # the row above mirrors row 1, not row 0
    np.testing.assert_array_equal(window[16:53, 66], image[:, 48])


def test_the_edge_of_an_image_is_predicted_with_context_not_against_zeros(tmp_path, monkeypatch):
    """At an image's edge the network reads the mirrored margin instead of zeros: with a margin as wide as its
    receptive radius, its map along the left edge equals the map of an image whose content really continues
    there, mirrored (compared away from the top and bottom edges, where the two images differ by a corner)."""
    from engine.models import contract as preprocess

    model, record = load_model(fcrn_checkpoint(tmp_path / "fcrn.pt", width=4), "cpu")
    assert receptive_margin(model, record) <= 64
    rng = np.random.default_rng(4)
    image = (rng.random((96, 128, 3)) * 255).astype(np.uint8)
    continued = np.concatenate([image[:, 64:0:-1], image], axis=1)  # image column 0 lands on column 64
    reference = predict_density(model, record, continued)[32:-32, 64:72]
    monkeypatch.setattr(preprocess, "CONTEXT_PIXELS", 64)
    np.testing.assert_allclose(predict_density(model, record, image)[32:-32, :8], reference,
                               atol=1e-5 * np.abs(reference).max())
    monkeypatch.setattr(preprocess, "CONTEXT_PIXELS", 0)  # zeros instead: the comparison above is not vacuous
    against_zeros = predict_density(model, record, image)[32:-32, :8]
    assert np.abs(against_zeros - reference).max() > 1e-2 * np.abs(reference).max()
