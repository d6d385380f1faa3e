"""U-Net for density maps, as in the NeuroSYS counting port of Ronneberger et al. (2015).

An encoder of ``depth`` stages (two 3x3 conv + BN + ReLU, then 2x2 max-pool), a bottleneck, and a decoder that
upsamples, concatenates the encoder features of the same scale (the skip connections) and applies two more
convolutions. The output is at full resolution (stride 1). Channels double at each stage, as in the original,
so every stage costs about the same operations per input pixel; ``width`` is the first stage's channels.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.models import check_classes, register


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 conv + batch norm + ReLU layers: one U-Net stage."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class UpStage(nn.Module):
    """Upsample x2, halve the channels with a 3x3 conv, concatenate the skip, then a double conv."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        # Nearest upsampling + conv instead of a transposed conv: no checkerboard artefacts in the density.
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )
        self.conv = double_conv(2 * out_channels, out_channels)

    def forward(self, x, skip):
        return self.conv(torch.cat([self.up(x), skip], dim=1))


class SkipNetwork(nn.Module):
    """The U shape every U-Net here shares: ``down`` stages (pooled between), ``up`` stages that each take the
    skip of their level, a 1x1 ``head``; subclasses build the stages."""

    down: nn.ModuleList
    up: nn.ModuleList
    pool: nn.Module
    head: nn.Module

    def forward(self, x):
        skips = []
        for level, stage in enumerate(self.down):
            if level:
                x = self.pool(x)
            x = stage(x)
            skips.append(x)
        x = skips.pop()
        for stage in self.up:
            x = stage(x, skips.pop())
        return self.head(x)


@register("unet", "U-Net (Ronneberger et al. / NeuroSYS): skip connections, full-resolution output")
class UNet(SkipNetwork):
    """U-Net (Ronneberger et al. / NeuroSYS): skip connections, full-resolution output."""

    stride = 1
    input_multiple = 8  # for the default depth 3; each instance sets 2 ** depth
    # Engine defaults for training this architecture (the command line and the GUI may override them).
    # lr 5e-4, measured at equal time by bench/train_candidates.py (README "Measured figures"): against 3e-4 it
    # counted VGG cells better in 4 of 5 seeds and ShanghaiTech B in 2 of 2; 1e-3 won on ShanghaiTech B (2 of 2)
    # but lost on VGG cells (2 of 3), so --lr 1e-3 is still worth trying on crowds.
    training_defaults = {"lr": 5e-4, "batch": 8, "crop": 128}

    def __init__(self, width: int = 16, depth: int = 3, in_channels: int = 3, classes: int = 1):
        super().__init__()
        if depth < 1:
            raise ValueError("U-Net depth must be at least 1")
        if width < 1:
            raise ValueError("U-Net width must be at least 1")
        self.config = {"width": width, "depth": depth, "in_channels": in_channels,
                       "classes": check_classes(classes)}
        # An instance attribute shadows the class default: the pooling depth sets the needed multiple.
        self.input_multiple = 2**depth
        channels = [width * 2**level for level in range(depth + 1)]
        self.down = nn.ModuleList([double_conv(in_channels, channels[0])])
        self.down.extend(double_conv(channels[level - 1], channels[level]) for level in range(1, depth + 1))
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(UpStage(channels[level + 1], channels[level])
                                for level in reversed(range(depth)))
        self.head = nn.Conv2d(channels[0], classes, 1)

