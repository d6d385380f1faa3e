"""CSRNet (Li, Zhang & Chen, CVPR 2018): a VGG-16 front end and a dilated back end, output stride 8.

Front end: VGG-16's conv1_1 .. conv4_3 (ten 3x3 convs, three max-pools). Back end: six 3x3 convs with
dilation 2 (512, 512, 512, 256, 128, 64 channels) and a 1x1 output conv. ``width`` scales every layer
(64 = the published network, whose front end can start from VGG-16 weights); ``batch_norm`` adds batch
normalisation after each conv, which makes training from scratch converge (use it with VGG16-BN weights).

Starting weights are not part of the architecture, so they are not in ``config``: training calls
:meth:`CSRNet.load_pretrained` with ``"imagenet"`` (torchvision's VGG-16 download) or a path to a weights file
the user names (engine/models/pretrained.py), and records in the checkpoint which one happened.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from engine.models import check_classes, register
from engine.models.pretrained import load_vgg16_weights

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

    def load_pretrained(self, source: str | Path) -> str:
        """Start the front end from VGG-16 weights (VGG-16-BN when ``batch_norm``): ``"imagenet"`` or a weights
        file (engine.models.pretrained); returns the sentence saying which. Raises ValueError when they cannot
        be had or do not fit (only width 64, the published network, has VGG-16's shape)."""
        if self.config["width"] != 64:
            width = self.config["width"]
            raise ValueError(f"VGG-16 weights need CSRNet width 64 (this one has width {width})")
        layers = [m for m in self.frontend if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
        return load_vgg16_weights(layers, source, batch_norm=self.config["batch_norm"],
                                  part="the CSRNet front end")
