"""Run under ``torchrun --nproc-per-node=2`` by test_distributed.py: each rank checks the collectives of
engine/training/distributed.py against a one-process reference and writes what it found to OUT/rank<N>.json.

Not a test module itself (no ``test_`` prefix): it needs the process group that torchrun sets up.
"""

import copy
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from engine.training.distributed import World, convert_to_global_batchnorm
from engine.models import get_model
from engine.training.crops import WholeImages
from engine.training.loop import Precision, density_loss, evaluate


def relative_gap(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / (b.double().abs().max() + 1e-12))


def main(out: Path) -> None:
    torch.manual_seed(0)
    world = World.from_env()
    world.start(torch.device("cpu"))
    rank, found = world.rank, {}

    # Agreement: a flag raised on one rank only is raised on all; others stay down.
    found["agree"] = world.agree(rank == 1, False, rank == 0)
    found["gather"] = world.gather(10 * rank + 1)
    found["mean_loss"] = float(world.mean_loss(torch.tensor(1.0 + 2 * rank)))
    found["mean_loss_nan"] = float(world.mean_loss(torch.tensor(float("nan") if rank == 1 else 1.0)))

    # Batch norm over the global batch: this rank holds half of the batch.
    images = torch.randn(4, 3, 6, 6)
    weights = torch.randn(4, 3, 6, 6)
    reference = nn.BatchNorm2d(3)
    with torch.no_grad():
        reference.weight.uniform_(0.5, 1.5)
        reference.bias.uniform_(-0.5, 0.5)
    synced = convert_to_global_batchnorm(copy.deepcopy(reference))
    full = images.clone().requires_grad_(True)
    (reference(full) * weights).sum().backward()
    half = slice(2 * rank, 2 * rank + 2)
    mine = images[half].clone().requires_grad_(True)
    (synced(mine) * weights[half]).sum().backward()
    weight_grad = torch.tensor(world.all_sum(synced.weight.grad.tolist()))
    found["bn_output"] = relative_gap(synced(images[half]).detach(), reference(images)[half].detach())
    found["bn_input_grad"] = relative_gap(mine.grad, full.grad[half])
    found["bn_weight_grad"] = relative_gap(weight_grad, reference.weight.grad)
    found["bn_running_var"] = relative_gap(synced.running_var, reference.running_var)
    found["bn_class"] = type(synced).__name__

    # One DDP step of a U-Net with batch 2 per rank = one process with batch 4 (same loss, same gradients).
    torch.manual_seed(1)
    single = get_model("unet", width=4)
    model = world.prepare_model(copy.deepcopy(single), batch_per_process=2)
    trained = world.wrap(model)
    crops, targets = torch.rand(4, 3, 32, 32), torch.rand(4, 1, 32, 32)
    density_loss(single(crops), targets).backward()
    loss = density_loss(trained(crops[half]), targets[half])
    found["loss_mean"] = float(world.mean_loss(loss.detach()))
    found["loss_single"] = float(density_loss(single(crops), targets).detach())
    loss.backward()
    gaps = {name: relative_gap(p.grad, dict(single.named_parameters())[name].grad)
            for name, p in model.named_parameters()}
    found["grad_worst"] = max(gaps.values())
    found["wrapped"] = type(trained).__name__
    found["same_keys"] = list(model.state_dict()) == list(single.state_dict())
    found["finite"] = all(math.isfinite(v) for v in gaps.values())
    found.update(per_class_validation(world, out))
    (out / f"rank{rank}.json").write_text(json.dumps(found))
    world.close()


def per_class_validation(world: World, out: Path) -> dict:
    """Validation of a two-class model on 3 images shared out over the ranks, and on all of them here alone."""
    rng = np.random.default_rng(0)
    paths, points, classes = [], [], []
    for index in range(3):
        path = out / f"rank{world.rank}_image{index}.png"  # each rank its own files: no write races
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path)
        paths.append(path)
        points.append(rng.uniform(0, 32, (4 + index, 2)))
        classes.append(rng.integers(0, 2, 4 + index))
    torch.manual_seed(2)  # the same weights on every rank
    model = get_model("unet", width=4, classes=2)
    images = WholeImages(paths, points, [(32, 32)] * 3, model.input_multiple, classes=classes, class_count=2)
    precision, names = Precision(torch.device("cpu")), ["a", "b"]
    mine = torch.utils.data.DataLoader(images, batch_size=1, sampler=range(world.rank, 3, world.size))
    shared = evaluate(model, mine, precision, 100.0, combine=world.all_sum, class_names=names)
    alone = evaluate(model, torch.utils.data.DataLoader(images, batch_size=1), precision, 100.0, class_names=names)
    return {"per_class_shared": shared["mae_per_class"], "per_class_alone": alone["mae_per_class"],
            "images_shared": shared["images"]}


if __name__ == "__main__":
    main(Path(sys.argv[1]))
