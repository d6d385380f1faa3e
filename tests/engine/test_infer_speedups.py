"""Counting speed-ups change no count (batch norms folded at load), and test-time flips average two maps."""

import numpy as np
import pytest
import torch
from torch import nn

from engine.counting.folded import fold_batch_norms
from engine.counting.infer import count_images, load_counter, predict_class_densities, predict_density
from engine.counting.uncertainty import mirror_averaged
from engine.models import get_model
from engine.models.checkpoint import load_model, save_checkpoint
from engine.models.contract import DEFAULT_DENSITY_SCALE, DEFAULT_NORMALIZATION


def _trained_like(model: nn.Module) -> nn.Module:
    """Random weights and batch-norm statistics far from the identity, in eval mode: folding must matter."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.5)
                module.running_var.copy_(torch.rand(module.num_features, generator=generator) * 2 + 0.2)
                module.weight.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(module.num_features, generator=generator) * 0.2)
    return model.eval()


def _record(model) -> dict:
    return {"arch": "unet", "model_config": model.config, "stride": model.stride,
            "input_multiple": model.input_multiple, "normalization": DEFAULT_NORMALIZATION,
            "density_scale": DEFAULT_DENSITY_SCALE}


def _image(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("arch", ["unet", "fcrn_a", "cmtl"])
def test_folding_removes_every_batch_norm_and_keeps_the_output(arch):
    torch.manual_seed(0)
    model = _trained_like(get_model(arch, width=4))
    folded = fold_batch_norms(model)
    assert folded is not model
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the given model is untouched
    inputs = torch.randn(2, 3, 64, 80)
    with torch.inference_mode():
        expected, got = model(inputs), folded(inputs)
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())


@pytest.mark.parametrize("height, width, max_pixels", [(96, 128, 2**21), (77, 101, 2**21), (203, 301, 2**21),
                                                        (203, 301, 96 * 96)])  # the last one is tiled
def test_counts_of_the_folded_model_equal_the_plain_eval_models(height, width, max_pixels):
    torch.manual_seed(1)
    model = _trained_like(get_model("unet", width=4))
    record = _record(model)
    image = _image(height, width, seed=height)
    expected = predict_density(model, record, image, max_pixels=max_pixels)
    got = predict_density(fold_batch_norms(model), record, image, max_pixels=max_pixels)
    assert got.shape == expected.shape
    assert got.sum(dtype=np.float64) == pytest.approx(expected.sum(dtype=np.float64), rel=1e-4)
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()


def test_a_counting_checkpoint_is_loaded_folded_and_counts_as_before(tmp_path):
    torch.manual_seed(2)
    model = _trained_like(get_model("unet", width=4))
    path = save_checkpoint(tmp_path / "m.pt", {**_record(model), "state_dict": model.state_dict()})
    plain, record = load_model(path, "cpu")
    counter, _ = load_counter(path, "cpu")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in counter.modules())
    image = _image(120, 90)
    from PIL import Image
    Image.fromarray(image).save(tmp_path / "a.png")
    (result,) = count_images([tmp_path / "a.png"], path, "cpu")
    expected = predict_density(plain.eval(), record, image)
    assert result.count == pytest.approx(float(expected.sum(dtype=np.float64)), rel=1e-4)


class _LooseNorm(nn.Module):
    """A batch norm outside any nn.Sequential: its convolution's output could go elsewhere, so never folded."""

    stride, input_multiple = 1, 1

    def __init__(self):
        super().__init__()
        self.conv, self.norm = nn.Conv2d(3, 1, 3, padding=1), nn.BatchNorm2d(1)

    def forward(self, x):
        return self.norm(self.conv(x))


def test_without_anything_to_fold_the_model_itself_counts():
    loose = _LooseNorm().eval()
    assert fold_batch_norms(loose) is loose
    training = get_model("unet", width=4).train()
    assert fold_batch_norms(training) is training  # batch statistics: not a fixed scale yet
    image = _image(40, 50)
    record = {"normalization": DEFAULT_NORMALIZATION, "density_scale": 1.0, "stride": 1, "input_multiple": 1}
    assert predict_density(fold_batch_norms(loose), record, image).sum() == pytest.approx(
        predict_density(loose, record, image).sum(), rel=1e-6)


def test_flips_average_the_map_with_the_mirrored_images_map(tmp_path):
    torch.manual_seed(3)
    model = _trained_like(get_model("unet", width=4))
    record = _record(model)
    image = _image(72, 97, seed=5)
    plain = predict_density(model, record, image)
    mirrored = predict_density(model, record, np.ascontiguousarray(image[:, ::-1]))[:, ::-1]
    assert not np.allclose(plain, mirrored)  # an untrained network is not mirror-symmetric: the test can fail
    averaged = mirror_averaged(model, record, image, plain[None])[0]  # (C, h, w) class maps, here C = 1
    np.testing.assert_allclose(averaged, (plain + mirrored) / 2, rtol=1e-6, atol=1e-7)

    from PIL import Image
    Image.fromarray(image).save(tmp_path / "a.png")
    pair = (model, record)
    (without,) = count_images([tmp_path / "a.png"], pair, "cpu")
    (with_flips,) = count_images([tmp_path / "a.png"], pair, "cpu", flips=True)
    np.testing.assert_allclose(without.density, plain, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(with_flips.density, (plain + mirrored) / 2, rtol=1e-5, atol=1e-6)
    assert with_flips.count == pytest.approx(float(((plain + mirrored) / 2).sum(dtype=np.float64)), rel=1e-5)


def test_flips_mirror_each_class_map_along_its_width(tmp_path):
    torch.manual_seed(4)
    model = _trained_like(get_model("unet", width=4, classes=2))
    record = _record(model)
    image = _image(40, 56, seed=2)
    plain = predict_class_densities(model, record, image)
    mirrored = predict_class_densities(model, record, np.ascontiguousarray(image[:, ::-1]))[:, :, ::-1]
    from PIL import Image
    Image.fromarray(image).save(tmp_path / "b.png")
    (with_flips,) = count_images([tmp_path / "b.png"], (model, record), "cpu", flips=True)
    np.testing.assert_allclose(with_flips.class_densities, (plain + mirrored) / 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(with_flips.density, ((plain + mirrored) / 2).sum(axis=0), rtol=1e-5, atol=1e-6)
