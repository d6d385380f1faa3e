"""CSRNet (Li, Zhang & Chen, CVPR 2018): a VGG-16 front end and a dilated back end, output stride 8.

Front end: VGG-16's conv1_1 .. conv4_3 (ten 3x3 convs, three max-pools). Back end: six 3x3 convs with
dilation 2 (512, 512, 512, 256, 128, 64 channels) and a 1x1 output conv. ``width`` scales every layer
(64 = the published network, whose front end can start from VGG-16 weights); ``batch_norm`` adds batch
normalisation after each conv, which makes training from scratch converge (use it with VGG16-BN weights).

Starting weights are not part of the architecture, so they are not in ``config``: training calls
:meth:`CSRNet.load_pretrained` with ``"imagenet"`` (torchvision's VGG-16 download) or a path to a weights file
the user names, and records in the checkpoint which one happened.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

from engine.models import check_classes, register

# conv1_1 .. conv4_3 as (output channels at width 64) with "M" for a 2x2 max-pool.
FRONT_END = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512]
BACK_END = [512, 512, 512, 256, 128, 64]


def _layers(spec, in_channels: int, scale: float, batch_norm: bool, dilation: int = 1) -> nn.Sequential:
    layers: list[nn.Module] = []
    for item in spec:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
            continue
        out_channels = max(1, round(item * scale))
        layers.append(nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation,
                                bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU(inplace=True))
        in_channels = out_channels
    return nn.Sequential(*layers)


@register("csrnet", "CSRNet (Li et al. 2018): VGG-16 front end + dilated back end, stride 8; for crowds")
class CSRNet(nn.Module):
    """CSRNet (Li et al. 2018): VGG-16 front end + dilated back end, stride 8; for crowds."""

    stride = 8
    input_multiple = 8
    # From scratch (with batch norm) it takes a larger step; pretrained weights are fine-tuned more gently.
    training_defaults = {"lr": 3e-4, "lr_pretrained": 1e-4, "batch": 4, "crop": 256}

    def __init__(self, width: int = 64, batch_norm: bool = True, in_channels: int = 3, classes: int = 1):
        super().__init__()
        if width < 1:
            raise ValueError("CSRNet width must be at least 1")
        self.config = {"width": width, "batch_norm": batch_norm, "in_channels": in_channels,
                       "classes": check_classes(classes)}
        scale = width / 64
        self.frontend = _layers(FRONT_END, in_channels, scale, batch_norm)
        back_in = max(1, round(512 * scale))
        self.backend = _layers(BACK_END, back_in, scale, batch_norm, dilation=2)
        self.head = nn.Conv2d(max(1, round(64 * scale)), classes, 1)
        self._init_weights()

    def _init_weights(self) -> None:
        # The published recipe: small Gaussian weights, zero biases (the front end is then often overwritten).
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, std=0.01)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x):
        # The head predicts each 8x8 block's mean density; x 64 makes it the block's sum, which is what the
        # targets hold. Without it the output must grow 64-fold from its small initial values, and learning
        # crawls (measured: no progress in 3 CPU minutes on the VGG cells, where stride-1 models converge).
        return self.head(self.backend(self.frontend(x))) * self.stride**2

    def load_pretrained(self, source: str | Path) -> tuple[bool, str]:
        """Load VGG-16 weights into the front end; returns (loaded, one plain sentence saying what happened).

        ``source`` is ``"imagenet"`` (torchvision's ImageNet VGG-16, or VGG16-BN when ``batch_norm``; needs
        the internet or torch's download cache; when it cannot be had, the network stays as initialised and
        the sentence says it trains from scratch) or the path of a ``.pth``/``.pt`` file holding a VGG-16
        state dict (a torchvision ``vgg16``/``vgg16_bn`` model's, or its ``features`` only). Raises ValueError
        when the file does not fit this network.
        """
        if str(source).lower() == "imagenet":
            try:
                state = _download_imagenet_vgg16(self.config["batch_norm"])
            except Exception as exc:  # no internet, proxy, disk full ...: training goes on from scratch
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                return False, (f"could not get the ImageNet VGG-16 weights ({first}); "
                               f"CSRNet trains from scratch instead")
            loaded = self._load_front_end(state, "ImageNet VGG-16")
            return True, f"front end starts from torchvision's ImageNet VGG-16 weights ({loaded} layers)"
        path = Path(source).expanduser()
        if not path.is_file():
            raise ValueError(f"pretrained weights file {path} does not exist")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:  # PyTorch's long advice ends in "load it unsafely": not ours
            from engine.models.checkpoint import blocked_global

            raise ValueError(f"{path.name}: refused — the file contains Python objects other than weights"
                             f"{blocked_global(exc)}, which could run code when loaded; it was not loaded") from None
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"{path.name}: not a readable weights file ({first})") from None
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise ValueError(f"{path.name}: expected a state dict of VGG-16 weights")
        loaded = self._load_front_end(state, path.name)
        return True, f"front end starts from the VGG-16 weights in {path} ({loaded} layers)"

    def _load_front_end(self, state: dict, origin: str) -> int:
        """Copy VGG-16 conv (and BN) tensors, in layer order, into the front end; returns how many."""
        if self.config["width"] != 64:
            width = self.config["width"]
            raise ValueError(f"VGG-16 weights need CSRNet width 64 (this one has width {width})")
        source_layers = _vgg_layers(state)
        target_layers = [m for m in self.frontend if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
        source_kinds = [kind for kind, _ in source_layers]
        target_kinds = ["conv" if isinstance(m, nn.Conv2d) else "bn" for m in target_layers]
        if source_kinds[:len(target_kinds)] != target_kinds:
            has_bn = "bn" in source_kinds
            raise ValueError(
                f"{origin}: layers do not match the CSRNet front end (the file has "
                f"{source_kinds.count('conv')} convs {'with' if has_bn else 'without'} batch norm; this one "
                f"needs 10 convs {'with' if self.config['batch_norm'] else 'without'} batch norm)")
        with torch.no_grad():
            for module, (_, tensors) in zip(target_layers, source_layers):
                for name, value in tensors.items():
                    target = getattr(module, name, None)
                    if target is None:
                        continue
                    if target.shape != value.shape:
                        raise ValueError(f"{origin}: a {name} of shape {tuple(value.shape)} does not fit "
                                         f"{tuple(target.shape)}")
                    target.copy_(value)
        return len(target_layers)


def _vgg_layers(state: dict) -> list[tuple[str, dict]]:
    """Group a VGG state dict's ``[features.]N.name`` keys by layer index N, in order, as (kind, tensors)."""
    layers: dict[int, dict] = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "features":
            parts = parts[1:]
        # "classifier.N.weight" and anything else not shaped "N.name" is not a front-end layer.
        if len(parts) != 2 or not parts[0].isdigit() or not isinstance(value, torch.Tensor):
            continue
        layers.setdefault(int(parts[0]), {})[parts[1]] = value
    grouped = []
    for index in sorted(layers):
        tensors = layers[index]
        if "weight" not in tensors:
            continue
        kind = "conv" if tensors["weight"].dim() == 4 else "bn" if "running_mean" in tensors else "other"
        grouped.append((kind, tensors))
    return grouped


def _download_imagenet_vgg16(batch_norm: bool) -> dict:
    """torchvision's ImageNet VGG-16(-BN) state dict (from its cache, or downloaded)."""
    from torchvision.models import VGG16_BN_Weights, VGG16_Weights

    weights = VGG16_BN_Weights.IMAGENET1K_V1 if batch_norm else VGG16_Weights.IMAGENET1K_V1
    return weights.get_state_dict(progress=False)
