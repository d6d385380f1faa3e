"""FCRN-A: the fully convolutional regression network of Xie, Noble & Zisserman (2016).

Three conv + max-pool stages, a wide bottleneck, then three upsample + conv stages back to full resolution,
with batch normalisation as in the NeuroSYS PyTorch port. ``width`` scales every layer (32 in the paper).
"""

from __future__ import annotations

from torch import nn

from engine.models import check_classes, register


def conv_block(in_channels: int, out_channels: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


@register("fcrn_a", "FCRN-A (Xie et al. 2016): small, full-resolution output; good for cells")
class FCRNA(nn.Module):
    """FCRN-A (Xie et al. 2016): small, full-resolution output; good for cells."""

    stride = 1
    input_multiple = 8
    # Engine defaults for training this architecture (the command line and the GUI may override them).
    training_defaults = {"lr": 1e-3, "batch": 8, "crop": 128}

    def __init__(self, width: int = 32, in_channels: int = 3, classes: int = 1):
        super().__init__()
        self.config = {"width": width, "in_channels": in_channels, "classes": check_classes(classes)}
        w = width
        self.encoder = nn.Sequential(
            conv_block(in_channels, w), nn.MaxPool2d(2),
            conv_block(w, 2 * w), nn.MaxPool2d(2),
            conv_block(2 * w, 4 * w), nn.MaxPool2d(2),
            conv_block(4 * w, 16 * w),
        )
        self.decoder = nn.Sequential(
            nn.Upsample(scale_factor=2), conv_block(16 * w, 4 * w),
            nn.Upsample(scale_factor=2), conv_block(4 * w, 2 * w),
            nn.Upsample(scale_factor=2), conv_block(2 * w, w),
        )
        self.head = nn.Conv2d(w, classes, 1)

    def forward(self, x):
        return self.head(self.decoder(self.encoder(x)))
