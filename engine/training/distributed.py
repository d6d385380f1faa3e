"""Training on several processes (``torchrun``): who this process is, and what the ranks must agree on.

``torchrun --nproc-per-node=G -m engine train ...`` starts G copies of the command with RANK, WORLD_SIZE and
LOCAL_RANK in their environment. :class:`World` reads them; outside torchrun (or with one process) it is a
world of one whose collective helpers return their input, so ``engine.training.fit`` has one code path.

What the ranks must agree on, and why here: every collective (gradient all-reduce, the loss check, the stop
check) must be entered by every rank the same number of times, or one rank waits forever. So decisions that
come from one process's clock or signals (a stop request, the time budget, whether validation is due) are
all-reduced into one answer before anyone acts on them.
"""

from __future__ import annotations

import gc
import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.distributed._functional_collectives as functional_collectives
from torch import nn

from engine.events import EventSink

# Below this many crops per process, batch-norm statistics are computed over the whole global batch.
# Batch norm from fewer than ~8 samples is noticeably noisier (Wu & He 2018, Group Normalization, fig. 1);
# synchronising costs one small all-reduce per norm layer, so it is only paid where it helps.
SYNC_BATCHNORM_BELOW = 8


@dataclass
class World:
    """This process's place among the training processes (rank 0 of 1 outside torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: torch.device | None = None  # the device of this rank's collectives, once started

    @classmethod
    def from_env(cls, env=None) -> World:
        """Read torchrun's RANK / WORLD_SIZE / LOCAL_RANK; a world of one when they are absent."""
        env = os.environ if env is None else env
        try:
            size = int(env.get("WORLD_SIZE", "1"))
            rank, local_rank = int(env.get("RANK", "0")), int(env.get("LOCAL_RANK", "0"))
        except ValueError as exc:
            raise ValueError(f"malformed torchrun environment (RANK/WORLD_SIZE/LOCAL_RANK): {exc}") from None
        if size < 1 or not 0 <= rank < size:
            raise ValueError(f"malformed torchrun environment: RANK={rank}, WORLD_SIZE={size}")
        return cls(rank=rank, size=size, local_rank=local_rank)

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone reports events and writes the run folder."""
        return self.rank == 0

    # ------------------------------------------------------------ start / stop
    def start(self, device: torch.device) -> torch.device:
        """Join the process group for ``device`` (the user's choice); returns this rank's device.

        CUDA: NCCL, each rank on cuda:LOCAL_RANK. CPU: Gloo. Apple MPS has no multi-process backend.
        """
        if not self.distributed:
            self.device = device
            return device
        if device.type == "cuda":
            if self.local_rank >= torch.cuda.device_count():
                raise ValueError(f"local rank {self.local_rank} has no GPU: this machine has "
                                 f"{torch.cuda.device_count()}; start at most that many processes per node")
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
            backend = "nccl"
        elif device.type == "cpu":
            backend = "gloo"
        else:
            raise ValueError(f"training on several processes needs CUDA or the CPU, not {device.type}")
        if not dist.is_initialized():
            dist.init_process_group(backend=backend, device_id=device if backend == "nccl" else None)
        self.device = device
        return device

    def close(self) -> None:
        """Leave the process group (every rank calls this once, at the end of the run, after the model is gone).

        The collect first: the DistributedDataParallel wrapper and the functional all-reduce's autograd graph
        hold the Gloo group through reference cycles. Left to interpreter exit, the group is destroyed with
        its worker threads still joinable and the process dies with "terminate called without an active
        exception" (SIGABRT) after a finished run. bench/torchrun_exit.py: 6 of 30 runs before, 0 of 30 after.
        """
        if self.distributed and dist.is_initialized():
            gc.collect()
            dist.destroy_process_group()

    # ------------------------------------------------------------ collectives
    def all_sum(self, values) -> list[float]:
        """Element-wise sum of ``values`` over all ranks (float64, so counts and error sums stay exact)."""
        values = [float(v) for v in values]
        if not self.distributed:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.tolist()

    def agree(self, *flags: bool) -> list[bool]:
        """Each flag is true on every rank if it is true on any rank (one all-reduce for all of them)."""
        return [total > 0 for total in self.all_sum([1.0 if flag else 0.0 for flag in flags])]

    def gather(self, value: float) -> list[float]:
        """Every rank's ``value``, indexed by rank."""
        slots = [0.0] * self.size
        slots[self.rank] = float(value)
        return self.all_sum(slots)

    def mean_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """The mean of a (detached) scalar loss over the ranks: NaN on any rank makes it NaN on all.

        Called before backward, so a rank whose loss is not finite stops together with the others instead
        of leaving them in the gradient all-reduce.
        """
        if not self.distributed:
            return loss
        total = loss.detach().float().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total / self.size

    # ------------------------------------------------------------------ model
    def prepare_model(self, model: nn.Module, batch_per_process: int) -> nn.Module:
        """Synchronise batch norm across ranks when the batch per process is small (in place; returns it)."""
        if not self.distributed or batch_per_process >= SYNC_BATCHNORM_BELOW:
            return model
        if self.device.type == "cuda":
            return nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return convert_to_global_batchnorm(model)

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module to train with: DistributedDataParallel around ``model`` (``model`` itself when alone).

        ``model`` stays the plain network (what is saved, averaged and validated); the wrapper shares its
        parameters. A model with ``forward_with_aux`` (CMTL) keeps it, routed through DDP's forward so its
        gradients are synchronised too.
        """
        if not self.distributed:
            return model
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        if hasattr(model, "forward_with_aux"):
            return _AuxDistributed(_AuxForward(model), device_ids=device_ids)
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def unwrap(model: nn.Module) -> nn.Module:
    """The plain network inside a DDP wrapper (and its CMTL adapter); ``model`` itself otherwise."""
    if isinstance(model, nn.parallel.DistributedDataParallel):
        model = model.module
    return model.model if isinstance(model, _AuxForward) else model


class _AuxForward(nn.Module):
    """``forward(images, counts)`` = ``model.forward_with_aux``: lets DDP run CMTL's training forward."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images, counts=None):
        return self.model(images) if counts is None else self.model.forward_with_aux(images, counts)


class _AuxDistributed(nn.parallel.DistributedDataParallel):
    def forward_with_aux(self, images, counts):
        return self(images, counts)


# --------------------------------------------------------------------------- batch norm on CPU ranks
def sum_over_ranks(tensor: torch.Tensor) -> torch.Tensor:
    """All-reduce (sum) with a gradient: each rank's input reaches every rank's output, so a rank's input
    gradient is the sum of all ranks' output gradients (torch's all_reduce autograd formula for "sum").

    torch.distributed.nn.functional.all_reduce does the same but is deprecated in favour of this one.
    """
    return functional_collectives.all_reduce(tensor.contiguous(), "sum", dist.group.WORLD)



class GlobalBatchNorm2d(nn.BatchNorm2d):
    """Batch norm whose training statistics cover the batches of all ranks, on any device.

    ``torch.nn.SyncBatchNorm`` (used on CUDA) accepts GPU tensors only; this is the same computation for
    Gloo/CPU ranks: per-channel sums, sums of squares and counts are all-reduced by :func:`sum_over_ranks`
    (whose backward sums the gradients back), so forward and backward equal one process's batch norm over
    the global batch. Parameters, buffers and state_dict keys are
    BatchNorm2d's, and in eval mode it is plain batch norm (no communication).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()
                and dist.get_world_size() > 1):
            return super().forward(x)
        dims = (0, 2, 3)
        local = torch.cat([x.sum(dims, dtype=torch.float64), (x.double() ** 2).sum(dims),
                           x.new_full((1,), x.numel() / x.shape[1], dtype=torch.float64)])
        total = sum_over_ranks(local)
        channels = x.shape[1]
        count = total[-1]
        mean = total[:channels] / count
        var = (total[channels:2 * channels] / count - mean * mean).clamp_min(0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                            else self.momentum)
                unbiased = var * (count / max(float(count) - 1, 1.0))
                self.running_mean.mul_(1 - momentum).add_(mean.to(self.running_mean.dtype), alpha=momentum)
                self.running_var.mul_(1 - momentum).add_(unbiased.to(self.running_var.dtype), alpha=momentum)
        shape = (1, channels, 1, 1)
        scale = torch.rsqrt(var + self.eps).to(x.dtype).view(shape)
        y = (x - mean.to(x.dtype).view(shape)) * scale
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def convert_to_global_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d in ``module`` by a GlobalBatchNorm2d sharing its parameters and buffers."""
    if isinstance(module, nn.BatchNorm2d) and not isinstance(module, GlobalBatchNorm2d):
        converted = GlobalBatchNorm2d(module.num_features, module.eps, module.momentum, module.affine,
                                      module.track_running_stats)
        if module.affine:
            converted.weight, converted.bias = module.weight, module.bias
        if module.track_running_stats:
            converted.running_mean, converted.running_var = module.running_mean, module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
        converted.train(module.training)
        return converted
    for name, child in module.named_children():
        module.add_module(name, convert_to_global_batchnorm(child))
    return module


# --------------------------------------------------------------------------- events on other ranks
class RankLog(EventSink):
    """The run log of a rank other than 0: silent, except errors, which go to stderr with the rank.

    Rank 0 reports the run (events, metrics.jsonl); the others print nothing on stdout, where torchrun
    merges every rank's output and the GUI reads JSON events.
    """

    def __init__(self, rank: int, stream=None):
        self.rank, self.stream = rank, stream

    def emit(self, type: str, **fields) -> None:
        if type == "error":
            print(f"[rank {self.rank}] error: {fields.get('message', '')}", file=self.stream or sys.stderr,
                  flush=True)

    def record_only(self, type: str, **fields) -> None:
        pass
