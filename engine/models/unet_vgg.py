"""U-Net with a VGG-16-BN encoder: ImageNet features for the contracting path, full-resolution output.

The encoder is VGG-16-BN's conv blocks (conv1 .. conv4 at the default depth 3; conv5 too at depth 4), each
block's convs followed by batch norm and ReLU, a 2x2 max-pool between blocks, so it can start from
torchvision's ``vgg16_bn`` ImageNet weights (:meth:`UNetVGG16.load_pretrained`). The decoder is U-Net's
(engine/models/unet.py): upsample, concatenate the encoder features of the same scale, two convs. ``width``
scales every layer (64 = VGG's own, the only width pretrained weights fit); small widths keep tests fast.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from engine.models import check_classes, register
from engine.models.pretrained import load_vgg16_weights
from engine.models.unet import SkipNetwork, UpStage

# VGG-16's five conv blocks as output channels at width 64 (each ends at a 2x2 max-pool in VGG).
VGG16_BLOCKS = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]


def vgg_block(in_channels: int, widths: list[int], scale: float) -> nn.Sequential:
    """One VGG-16-BN conv block (3x3 conv + batch norm + ReLU per entry), laid out as torchvision's."""
    layers: list[nn.Module] = []
    for width in widths:
        out_channels = max(1, round(width * scale))
        layers += [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels),
                   nn.ReLU(inplace=True)]
        in_channels = out_channels
    return nn.Sequential(*layers)


@register("unet_vgg16", "U-Net with a VGG-16-BN encoder: can start from ImageNet weights; full-resolution output")
class UNetVGG16(SkipNetwork):
    """U-Net with a VGG-16-BN encoder: can start from ImageNet weights; full-resolution output."""

    stride = 1
    input_multiple = 8  # for the default depth 3; each instance sets 2 ** depth
    # Pretrained encoder features are fine-tuned more gently than a network learns from scratch.
    training_defaults = {"lr": 3e-4, "lr_pretrained": 1e-4, "batch": 4, "crop": 128}

    def __init__(self, width: int = 64, depth: int = 3, in_channels: int = 3, classes: int = 1):
        super().__init__()
        if not 1 <= depth <= len(VGG16_BLOCKS) - 1:
            raise ValueError(f"U-Net-VGG16 depth must be 1 to {len(VGG16_BLOCKS) - 1} (VGG-16 has five blocks)")
        if width < 1:
            raise ValueError("U-Net-VGG16 width must be at least 1")
        self.config = {"width": width, "depth": depth, "in_channels": in_channels,
                       "classes": check_classes(classes)}
        self.input_multiple = 2**depth
        scale = width / 64
        self.down = nn.ModuleList()
        channels, previous = [], in_channels
        for widths in VGG16_BLOCKS[:depth + 1]:
            self.down.append(vgg_block(previous, widths, scale))
            previous = max(1, round(widths[-1] * scale))
            channels.append(previous)
        self.pool = nn.MaxPool2d(2)
        # The skip of level l has channels[l], which UpStage's output must match to be concatenated.
        self.up = nn.ModuleList(UpStage(channels[level + 1], channels[level]) for level in reversed(range(depth)))
        self.head = nn.Conv2d(channels[0], classes, 1)

    def load_pretrained(self, source: str | Path) -> str:
        """Start the encoder from VGG-16-BN weights: ``"imagenet"`` or a weights file (engine.models.pretrained);
        returns the sentence saying which. Raises ValueError when they cannot be had or do not fit."""
        if self.config["width"] != 64 or self.config["in_channels"] != 3:
            raise ValueError(f"VGG-16-BN weights need U-Net-VGG16 width 64 and 3 input channels (this one has "
                             f"width {self.config['width']}, {self.config['in_channels']} channels)")
        layers = [m for stage in self.down for m in stage if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
        return load_vgg16_weights(layers, source, batch_norm=True, part="the U-Net-VGG16 encoder")
