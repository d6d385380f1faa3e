"""The counting networks: output shape and stride, rebuilding from config, VGG weights, CMTL's prior."""

import pytest
import torch

from engine.models import get_model, list_models

# Tiny widths keep every forward pass a few milliseconds.
TINY = {"fcrn_a": {"width": 4}, "unet": {"width": 4}, "unet_vgg16": {"width": 4}, "csrnet": {"width": 8},
        "cmtl": {"width": 4}}


def test_registry_lists_the_seed_networks():
    assert set(TINY) <= set(list_models())
    with pytest.raises(KeyError, match="unknown model"):
        get_model("no_such_net")


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("size", [(64, 64), (48, 80)])
def test_output_is_the_input_divided_by_the_stride(name, size):
    torch.manual_seed(0)
    model = get_model(name, **TINY[name]).eval()
    height, width = size
    assert height % model.input_multiple == 0 and width % model.input_multiple == 0
    with torch.no_grad():
        output = model(torch.randn(2, 3, height, width))
    stride = type(model).stride
    assert output.shape == (2, 1, height // stride, width // stride)
    assert torch.isfinite(output).all()


def test_declared_strides():
    strides = {name: type(get_model(name, **TINY[name])).stride for name in TINY}
    assert strides == {"fcrn_a": 1, "unet": 1, "unet_vgg16": 1, "csrnet": 8, "cmtl": 4}


@pytest.mark.parametrize("name", sorted(TINY))
def test_config_rebuilds_the_same_architecture(name):
    model = get_model(name, **TINY[name])
    rebuilt = get_model(name, **model.config)
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    assert sum(p.numel() for p in rebuilt.parameters()) == sum(p.numel() for p in model.parameters())


def test_unet_depth_sets_the_input_multiple():
    model = get_model("unet", width=2, depth=2).eval()
    assert model.input_multiple == 4
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 12, 20)).shape == (1, 1, 12, 20)


def test_unet_vgg16_depth_sets_the_input_multiple():
    model = get_model("unet_vgg16", width=4, depth=4).eval()
    assert model.input_multiple == 16 and get_model("unet_vgg16", width=4, depth=2).input_multiple == 4
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 32, 48)).shape == (1, 1, 32, 48)


def test_width_scales_the_parameter_count():
    small = sum(p.numel() for p in get_model("unet", width=4).parameters())
    large = sum(p.numel() for p in get_model("unet", width=8).parameters())
    assert 3.5 < large / small < 4.5  # channels double, so conv weights about quadruple


# ---------------------------------------------------------------------------------------- CSRNet weights
def _vgg16_features_file(tmp_path, batch_norm):
    """A torchvision-layout VGG-16 ("features.N.weight" ...) state dict with recognisable values."""
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(1)
    # conv1_1 .. conv5_1: the front end plus one layer after it that must be left out (the rest is the same).
    features = make_layers(cfgs["D"][:15], batch_norm=batch_norm)
    with torch.no_grad():
        for module in features:
            if isinstance(module, torch.nn.Conv2d):
                module.weight.normal_()
                module.bias.uniform_(1, 2)
    state = {f"features.{key}": value for key, value in features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(3, 3)  # a full model's state dict carries these too
    path = tmp_path / ("vgg16_bn.pth" if batch_norm else "vgg16.pth")
    torch.save(state, path)
    return path, features


@pytest.mark.parametrize("batch_norm", [False, True])
def test_csrnet_front_end_loads_vgg16_weights_from_a_file(tmp_path, batch_norm):
    path, features = _vgg16_features_file(tmp_path, batch_norm)
    model = get_model("csrnet", batch_norm=batch_norm)
    message = model.load_pretrained(str(path))
    assert message.startswith(f"weights from {path}")
    source_convs = [m for m in features if isinstance(m, torch.nn.Conv2d)][:10]
    target_convs = [m for m in model.frontend if isinstance(m, torch.nn.Conv2d)]
    assert len(target_convs) == 10
    for source, target in zip(source_convs, target_convs):
        assert torch.equal(source.weight, target.weight)
    if not batch_norm:
        assert torch.equal(source_convs[-1].bias, target_convs[-1].bias)


def test_csrnet_refuses_weights_that_do_not_fit(tmp_path):
    path, _ = _vgg16_features_file(tmp_path, batch_norm=False)
    with pytest.raises(ValueError, match="batch norm"):
        get_model("csrnet", batch_norm=True).load_pretrained(str(path))
    with pytest.raises(ValueError, match="width 64"):
        get_model("csrnet", width=32, batch_norm=False).load_pretrained(str(path))
    with pytest.raises(ValueError, match="does not exist"):
        get_model("csrnet").load_pretrained(str(tmp_path / "missing.pth"))


@pytest.mark.parametrize("arch", ["csrnet", "unet_vgg16"])
def test_imagenet_weights_that_cannot_be_downloaded_are_a_clear_error(monkeypatch, arch):
    from engine.models import pretrained

    def offline(batch_norm):
        raise OSError("no internet here")

    monkeypatch.setattr(pretrained, "_download_imagenet_vgg16", offline)
    model = get_model(arch)
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="no internet here") as raised:
        model.load_pretrained("imagenet")
    assert "--pretrained PATH" in str(raised.value) and "vgg16_bn" in str(raised.value)  # how to give a file
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_imagenet_weights_are_copied_and_named_when_torchvision_has_them(monkeypatch):
    from torchvision.models.vgg import cfgs, make_layers

    from engine.models import pretrained

    torch.manual_seed(2)
    features = make_layers(cfgs["D"], batch_norm=True)
    monkeypatch.setattr(pretrained, "_download_imagenet_vgg16",
                        lambda batch_norm: {f"features.{k}": v for k, v in features.state_dict().items()})
    model = get_model("unet_vgg16")
    message = model.load_pretrained("imagenet")
    assert message.startswith("ImageNet weights (downloaded)") and "VGG-16-BN" in message
    assert torch.equal(model.down[0][0].weight, features[0].weight)


# ------------------------------------------------------------------------------------ U-Net-VGG16 encoder
def _torchvision_vgg16_bn_file(tmp_path):
    """A file as torch.save(torchvision.models.vgg16_bn().state_dict()) writes, minus the 100M-parameter
    classifier the encoder never reads (the same "features.N.*" keys and shapes, made by torchvision)."""
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(3)
    features = make_layers(cfgs["D"], batch_norm=True)  # torchvision.models.vgg16_bn().features
    with torch.no_grad():
        for module in features:
            if isinstance(module, torch.nn.BatchNorm2d):  # fresh BN layers are all ones and zeros: vary them
                module.weight.uniform_(0.5, 1.5)
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2)
    path = tmp_path / "vgg16_bn.pth"
    torch.save({f"features.{key}": value for key, value in features.state_dict().items()}, path)
    return path, features


@pytest.mark.parametrize("depth", [3, 4])
def test_unet_vgg16_encoder_loads_torchvision_vgg16_bn_weights(tmp_path, depth):
    path, features = _torchvision_vgg16_bn_file(tmp_path)
    model = get_model("unet_vgg16", depth=depth)
    message = model.load_pretrained(str(path))
    assert message.startswith(f"weights from {path}") and "encoder" in message
    source = [m for m in features if isinstance(m, (torch.nn.Conv2d, torch.nn.BatchNorm2d))]
    target = [m for stage in model.down for m in stage if isinstance(m, (torch.nn.Conv2d, torch.nn.BatchNorm2d))]
    assert len(target) == (20 if depth == 3 else 26)  # conv1_1 .. conv4_3 (+ conv5_x), each with its BN
    for src, dst in zip(source, target):
        for name, value in src.state_dict().items():
            assert torch.equal(value, dst.state_dict()[name]), name


def test_unet_vgg16_refuses_weights_that_do_not_fit(tmp_path):
    plain, _ = _vgg16_features_file(tmp_path, batch_norm=False)
    with pytest.raises(ValueError, match="without batch norm"):
        get_model("unet_vgg16").load_pretrained(str(plain))
    with pytest.raises(ValueError, match="width 64"):
        get_model("unet_vgg16", width=32).load_pretrained(str(plain))
    with pytest.raises(ValueError, match="depth must be"):
        get_model("unet_vgg16", depth=5)


# ------------------------------------------------------------------------------------------- CMTL prior
def test_cmtl_count_classes_follow_the_calibrated_density():
    model = get_model("cmtl", width=4, count_classes=4)
    model.calibrate([0.001, 0.004])
    assert float(model.max_density) == pytest.approx(0.004)
    pixels = 100 * 100  # 0.004 objects per pixel = 40 objects in 100x100
    classes = model.count_classes_of(torch.tensor([0.0, 9.0, 11.0, 39.0, 500.0]), pixels)
    assert classes.tolist() == [0, 0, 1, 3, 3]


def test_cmtl_training_hook_returns_density_and_a_finite_auxiliary_loss():
    torch.manual_seed(0)
    model = get_model("cmtl", width=4, aux_weight=0.5).train()
    images = torch.randn(2, 3, 64, 64)
    density, aux = model.forward_with_aux(images, torch.tensor([3.0, 30.0]))
    assert density.shape == (2, 1, 16, 16)
    assert aux.dim() == 0 and torch.isfinite(aux) and float(aux.detach()) > 0
    aux.backward()
    assert model.classifier[-1].weight.grad is not None
    assert float(model.max_density) > 0  # an uncalibrated model takes its range from the first batch


@pytest.mark.parametrize("arch", ["fcrn_a", "unet", "unet_vgg16", "csrnet", "cmtl"])
def test_every_architecture_predicts_one_channel_per_class(arch):
    from engine.models import get_model

    model = get_model(arch, width=4, classes=3).eval()
    with torch.no_grad():
        output = model(torch.zeros(1, 3, 64, 64))
    assert output.shape[:2] == (1, 3) and output.shape[-1] == 64 // model.stride
    assert model.config["classes"] == 3
    with pytest.raises(ValueError, match="object classes"):
        get_model(arch, width=4, classes=0)
