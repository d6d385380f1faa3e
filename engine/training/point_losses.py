"""Point-supervised losses: the predicted density map is compared with the clicked points themselves rather than
with a density map blurred from them (``--loss bayesian`` / ``--loss dmcount``; ``mse`` is engine/training/loop.py).

Both take the model's output (B, C, h, w) in density x ``density_scale`` (as the MSE targets are), one
(n, 3) tensor [x, y, class index] of crop-pixel points per crop (points of class k supervise channel k; points
of a class the model has no channel for, e.g. -1, supervise nothing), the crop's ``known`` (B, 1, h, w) cell
weights (engine/training/crop_regions.py) and the output stride. The map is first divided by the density scale
(counts per cell) and multiplied by ``known``: cells of a partially annotated crop whose points are not known
get no loss and no gradient (every point lies in known cells), so both losses honour partial annotation.
A cell of the map stands for its centre, ((column + 0.5) x stride, (row + 0.5) x stride) in crop pixels.

Bayesian loss, BL+ (Ma et al., "Bayesian Loss for Crowd Count Estimation with Point Supervision", ICCV 2019).
Each point n has a Gaussian likelihood over the cells, N(cell; point n, sigma^2 I), sigma = 8 px at input scale
as in the paper; with equal priors, a cell's posterior of "belonging to point n" is the softmax over points
of -distance^2 / (2 sigma^2). BL+ adds, for each cell, a background pseudo-point at distance d - (distance to
the nearest point) (at least 0), which takes the posterior of cells far from all points. The paper's d is 0.15
x its 512 px crops, about 77 px; 0.15 x our 128 px crops would be 19 px, so close that the background would
take 5% of a point's count at the point itself (and the loss would push every count up by that much), so
d = 4 sigma = 32 px: the background holds 0.03% at a point and takes over from 16 px away.
The expected count of point n is the sum over cells of posterior x predicted density; the loss is the sum over
points of |1 - expected count| plus |0 - expected background count|. A crop with no points of a class has
loss |sum of that channel| (all of it should be zero).

DM-Count (Wang et al., "Distribution Matching for Crowd Counting", NeurIPS 2020). Three terms:
- counting loss |sum of the map - number of points|;
- OT loss: the optimal-transport cost between the normalised map and the points (each 1/n of the mass), cost
  = squared distance in input pixels, entropic Sinkhorn with regulariser 10 and 100 iterations as in the
  paper. Its gradient with respect to the (unnormalised) map is (f - <a, f>) / sum, f the Sinkhorn dual
  potential of the cells and a the normalised map: the gradient of <a, f> with f held fixed; weight 0.1;
- TV loss: half the L1 distance between the normalised map and the normalised point histogram, times n;
  weight 0.01.
The OT and TV terms work on the map summed into 8 x 8 pixel cells at input scale (DM-Count's own output
stride): a full-resolution map would make Sinkhorn's cost matrix 64 times larger for the same spatial signal.
They need a positive total: the map is clamped at 0 there (the network's last layer is linear); the counting
term sees the raw map.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

BAYESIAN_SIGMA = 8.0  # px at input scale (the paper's)
BACKGROUND_SIGMAS = 4  # BL+'s d = this x sigma (see the module's docstring)
OT_WEIGHT, TV_WEIGHT = 0.1, 0.01  # DM-Count's weights (the counting loss has weight 1)
OT_CELL = 8  # px at input scale: the grid the OT and TV terms compare on
SINKHORN_REGULARISER, SINKHORN_ITERATIONS = 10.0, 100


def cell_centres(rows: int, columns: int, stride: float, device) -> torch.Tensor:
    """(rows x columns, 2) [x, y] crop-pixel centres of the output cells, row-major."""
    ys = (torch.arange(rows, device=device, dtype=torch.float32) + 0.5) * stride
    xs = (torch.arange(columns, device=device, dtype=torch.float32) + 0.5) * stride
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=1)


def _counts_per_cell(output: torch.Tensor, known: torch.Tensor | None, density_scale: float) -> torch.Tensor:
    density = output.float() / density_scale
    return density * known.to(density.device) if known is not None else density


def _points_of(points: torch.Tensor, channel: int, device) -> torch.Tensor:
    return points[points[:, 2] == channel, :2].to(device=device, dtype=torch.float32)


@torch.no_grad()
def bayesian_posterior(points: torch.Tensor, centres: torch.Tensor, sigma: float, background: float) -> torch.Tensor:
    """(n + 1, cells): each cell's posterior over the n points and, last, the background pseudo-point."""
    squared = torch.cdist(points, centres).pow(2)  # (n, cells)
    nearest = squared.min(dim=0, keepdim=True).values.sqrt()
    background_squared = (background - nearest).clamp_min(0).pow(2)
    logits = -torch.cat([squared, background_squared]) / (2 * sigma ** 2)
    return torch.softmax(logits, dim=0)


def bayesian_loss(output: torch.Tensor, points: list[torch.Tensor], known: torch.Tensor | None, *,
                  density_scale: float, stride: float, sigma: float = BAYESIAN_SIGMA) -> torch.Tensor:
    """BL+ (see the module's docstring), summed over channels, averaged over the batch."""
    counts = _counts_per_cell(output, known, density_scale)
    batch, channels, rows, columns = counts.shape
    centres = cell_centres(rows, columns, stride, counts.device)
    total = counts.new_zeros(())
    for item in range(batch):
        for channel in range(channels):
            flat = counts[item, channel].reshape(-1)
            mine = _points_of(points[item], channel, counts.device)
            if not len(mine):
                total = total + flat.sum().abs()
                continue
            expected = bayesian_posterior(mine, centres, sigma, BACKGROUND_SIGMAS * sigma) @ flat  # (n + 1,)
            target = torch.ones_like(expected)
            target[-1] = 0.0  # the background should hold no count
            total = total + (expected - target).abs().sum()
    return total / batch


@torch.no_grad()
def sinkhorn_potentials(source: torch.Tensor, cost: torch.Tensor, regulariser: float = SINKHORN_REGULARISER,
                        iterations: int = SINKHORN_ITERATIONS) -> tuple[torch.Tensor, torch.Tensor]:
    """The dual potentials (f (m,), g (n,)) of entropic OT from ``source`` (m,) to uniform mass on the n columns
    of ``cost`` (m, n), by log-domain Sinkhorn (stable with costs of thousands of px^2). The transport cost is
    about <source, f> + <uniform, g>."""
    log_source = source.clamp_min(0).log()  # empty cells: -inf, they still get a potential
    log_target = torch.full((cost.shape[1],), -torch.log(torch.tensor(float(cost.shape[1]))).item(),
                            device=cost.device)
    f = torch.zeros_like(source)
    g = torch.zeros(cost.shape[1], device=cost.device)
    for _ in range(iterations):
        f = -regulariser * torch.logsumexp((g[None, :] - cost) / regulariser + log_target[None, :], dim=1)
        g = -regulariser * torch.logsumexp((f[:, None] - cost) / regulariser + log_source[:, None], dim=0)
    return f, g


def dmcount_loss(output: torch.Tensor, points: list[torch.Tensor], known: torch.Tensor | None, *,
                 density_scale: float, stride: float) -> torch.Tensor:
    """DM-Count (see the module's docstring), summed over channels, averaged over the batch."""
    counts = _counts_per_cell(output, known, density_scale)
    factor = max(1, round(OT_CELL / stride))
    if counts.shape[-2] % factor or counts.shape[-1] % factor:
        factor = 1  # a crop not divisible into 8 px cells compares at the output's own cells
    pooled = F.avg_pool2d(counts, factor) * factor ** 2 if factor > 1 else counts
    batch, channels, rows, columns = pooled.shape
    centres = cell_centres(rows, columns, stride * factor, counts.device)
    total = counts.new_zeros(())
    for item in range(batch):
        for channel in range(channels):
            mine = _points_of(points[item], channel, counts.device)
            total = total + (counts[item, channel].sum() - len(mine)).abs()
            mass = pooled[item, channel].reshape(-1).clamp_min(0)
            size = mass.sum()
            if not len(mine) or float(size.detach()) <= 1e-6:  # nothing to match: the counting term says it all
                continue
            shares = mass / size
            f, g = sinkhorn_potentials(shares.detach(), torch.cdist(centres, mine).pow(2))
            # <shares, f> has the OT cost's gradient, (f - <a, f>) / size per cell; <uniform, g> completes its value.
            total = total + OT_WEIGHT * ((shares * f).sum() + g.mean())
            histogram = _histogram(mine, rows, columns, stride * factor) / len(mine)
            total = total + TV_WEIGHT * len(mine) * 0.5 * (shares - histogram).abs().sum()
    return total / batch


def _histogram(points: torch.Tensor, rows: int, columns: int, cell: float) -> torch.Tensor:
    """(rows x columns,) number of points in each cell, row-major."""
    column = (points[:, 0] / cell).long().clamp(0, columns - 1)
    row = (points[:, 1] / cell).long().clamp(0, rows - 1)
    return torch.bincount(row * columns + column, minlength=rows * columns).float()


POINT_LOSSES: dict[str, Callable[..., torch.Tensor]] = {"bayesian": bayesian_loss, "dmcount": dmcount_loss}
