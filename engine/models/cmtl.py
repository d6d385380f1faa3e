"""CMTL (Sindagi & Patel, AVSS 2017): cascaded multi-task learning of a count-class prior and density.

Shared layers (9x9 and 7x7 convs) feed two stages:

- the **high-level prior** stage (four convs, two max-pools) whose features are pooled to a fixed grid and
  classified into ``count_classes`` bins of crowd density by fully connected layers (the auxiliary task);
- the **density** stage (four convs, two max-pools) whose features are concatenated with the prior stage's
  features ("fusing the prior") and turned into the density map by a few more convs.

The published network upsamples back to full resolution with two transposed convs; here the density is read at
stride 4 instead (sum-pooled targets are exact at any stride, and this saves the two most expensive layers).
``width`` is the shared layers' first channel count (16 in the paper; every layer scales with it).

Auxiliary loss hook (used by ``engine.training.fit``): a model that defines ``forward_with_aux(images, counts)``
returns ``(density, aux_loss)`` in training, and the training loss becomes density MSE + ``aux_loss``. Here
``aux_loss = aux_weight x cross-entropy`` of the count class, where a crop's class is its number of objects
per pixel binned uniformly between 0 and ``max_density`` (a buffer, saved with the weights, that training sets
from the training images with :meth:`CMTL.calibrate`). Counting uses plain ``forward``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from engine.models import check_classes, register


def conv(in_channels: int, out_channels: int, kernel: int, batch_norm: bool) -> nn.Sequential:
    """A 'same' conv + optional batch norm + PReLU (the paper's activation)."""
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2,
                                         bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_channels))
    layers.append(nn.PReLU(out_channels))
    return nn.Sequential(*layers)


@register("cmtl", "CMTL (Sindagi & Patel 2017): count-class prior + density, stride 4; for crowds")
class CMTL(nn.Module):
    """CMTL (Sindagi & Patel 2017): count-class prior + density, stride 4; for crowds."""

    stride = 4
    input_multiple = 4
    training_defaults = {"lr": 1e-3, "batch": 8, "crop": 128}

    def __init__(self, width: int = 16, count_classes: int = 10, aux_weight: float = 0.1,
                 batch_norm: bool = True, in_channels: int = 3, classes: int = 1):
        super().__init__()
        if width < 2:
            raise ValueError("CMTL width must be at least 2")
        if count_classes < 2:
            raise ValueError("CMTL needs at least 2 count classes")
        self.config = {"width": width, "count_classes": count_classes, "aux_weight": aux_weight,
                       "batch_norm": batch_norm, "in_channels": in_channels, "classes": check_classes(classes)}
        self.aux_weight = float(aux_weight)
        self.count_classes = int(count_classes)

        def ch(paper_channels: int) -> int:  # the paper's channel count, scaled by width / 16
            return max(1, round(paper_channels * width / 16))

        bn = batch_norm
        self.shared = nn.Sequential(conv(in_channels, ch(16), 9, bn), conv(ch(16), ch(32), 7, bn))
        self.prior = nn.Sequential(
            conv(ch(32), ch(16), 9, bn), nn.MaxPool2d(2),
            conv(ch(16), ch(32), 7, bn), nn.MaxPool2d(2),
            conv(ch(32), ch(16), 7, bn), conv(ch(16), ch(8), 7, bn),
        )
        # Pooling to a fixed grid (the paper's spatial pyramid pooling) makes the classifier size-independent.
        self.classifier = nn.Sequential(
            nn.AdaptiveMaxPool2d((8, 8)), nn.Conv2d(ch(8), 4, 1), nn.PReLU(4), nn.Flatten(),
            nn.Linear(4 * 64, 512), nn.PReLU(512), nn.Dropout(0.5),
            nn.Linear(512, 256), nn.PReLU(256), nn.Dropout(0.5),
            nn.Linear(256, count_classes),
        )
        self.density_stage = nn.Sequential(
            conv(ch(32), ch(20), 7, bn), nn.MaxPool2d(2),
            conv(ch(20), ch(40), 5, bn), nn.MaxPool2d(2),
            conv(ch(40), ch(20), 5, bn), conv(ch(20), ch(10), 5, bn),
        )
        self.fuse = nn.Sequential(
            conv(ch(10) + ch(8), ch(24), 3, bn), conv(ch(24), ch(32), 3, bn),
            conv(ch(32), ch(16), 3, bn), conv(ch(16), ch(8), 3, bn),
            nn.Conv2d(ch(8), classes, 1),
        )
        # A small start for the density head: its output is multiplied by stride² (see _features), and
        # PyTorch's default init made the first predictions three times worse than predicting zero.
        nn.init.normal_(self.fuse[-1].weight, std=0.01)
        nn.init.zeros_(self.fuse[-1].bias)
        # Objects per input pixel at the top of the highest count class; 0 until calibrated.
        self.register_buffer("max_density", torch.zeros(()))

    def _features(self, x):
        shared = self.shared(x)
        prior = self.prior(shared)
        density = self.fuse(torch.cat([self.density_stage(shared), prior], dim=1))
        # The head predicts each 4x4 block's mean density; x 16 makes it the block's sum, as the targets are
        # (see CSRNet.forward for why).
        return density * self.stride**2, prior

    def forward(self, x):
        return self._features(x)[0]

    @torch.no_grad()
    def calibrate(self, counts_per_pixel: Sequence[float]) -> None:
        """Set the count-class range from the training images' objects per pixel (their maximum)."""
        values = [float(v) for v in counts_per_pixel if v is not None]
        top = max(values, default=0.0)
        self.max_density.fill_(top if top > 0 else 1e-3)

    def count_classes_of(self, counts: torch.Tensor, pixels: int) -> torch.Tensor:
        """The count class (0 .. count_classes - 1) of ``pixels``-pixel crops holding ``counts`` objects."""
        if float(self.max_density) <= 0:  # never calibrated: take the range from this batch, once
            self.calibrate((counts.detach().float() / pixels).tolist())
        fraction = counts.float() / pixels / self.max_density
        return (fraction * self.count_classes).long().clamp(0, self.count_classes - 1)

    def forward_with_aux(self, x, counts: torch.Tensor):
        """Training hook: (density, aux_weight x cross-entropy of the count class) for images ``x``."""
        density, prior = self._features(x)
        logits = self.classifier(prior)
        classes = self.count_classes_of(counts.to(x.device), x.shape[-2] * x.shape[-1])
        return density, self.aux_weight * F.cross_entropy(logits.float(), classes)
