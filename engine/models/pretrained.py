"""Starting weights for the networks with a VGG-16 part (CSRNet's front end, U-Net-VGG16's encoder).

One loader for all of them: ``source`` is ``"imagenet"`` (torchvision's ImageNet VGG-16 or VGG-16-BN, from
torch's download cache or downloaded) or the path of a weights file the user names (a torchvision ``vgg16`` /
``vgg16_bn`` state dict, the whole model's or its ``features`` only). The returned sentence is what the run's
events and the checkpoint's ``train_summary["pretrained"]`` record, so a run always says which happened.

A user who asks for ImageNet weights gets them or a clear error: training from scratch instead would be a
different experiment than the one asked for, found out only from a worse result.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

IMAGENET = "imagenet"
# Said when no starting weights were asked for (the checkpoint's train_summary["pretrained"]).
FROM_SCRATCH = "none (trained from scratch)"


def load_vgg16_weights(layers: list[nn.Module], source: str | Path, *, batch_norm: bool, part: str) -> str:
    """Copy VGG-16 conv (and batch-norm) tensors, in layer order, into ``layers`` (a network's Conv2d and
    BatchNorm2d modules in VGG order); returns the sentence saying where they came from.

    ``part`` names the receiving part in messages ("the CSRNet front end"). Raises ValueError when the weights
    cannot be had (no internet for ``"imagenet"``, a missing or unsafe file) or do not fit ``layers``.
    """
    if str(source).lower() == IMAGENET:
        name = "VGG-16-BN" if batch_norm else "VGG-16"
        try:
            state = _download_imagenet_vgg16(batch_norm)
        except Exception as exc:  # no internet, a proxy, a full disk ...: say so, and what to do instead
            raise ValueError(
                f"could not get torchvision's ImageNet {name} weights ({_first_line(exc)}). Give them as a "
                f"file instead (--pretrained PATH, or \"A weights file…\" in the training dialog): a "
                f"torchvision {_torchvision_name(batch_norm)} state dict saved on a machine with internet by "
                f"torch.save(torchvision.models.{_torchvision_name(batch_norm)}(weights=\"IMAGENET1K_V1\")"
                f".state_dict(), \"{_torchvision_name(batch_norm)}.pth\"); or train from scratch") from None
        copied = _copy_layers(layers, state, f"ImageNet {name}", part)
        return f"ImageNet weights (downloaded): {part} starts from torchvision's {name} ({copied} layers)"
    path = Path(source).expanduser()
    copied = _copy_layers(layers, read_weights_file(path), path.name, part)
    return f"weights from {path}: {part} starts from them ({copied} layers)"


def read_weights_file(path: Path) -> dict:
    """The state dict in a ``.pth``/``.pt`` file, loaded without running code (``weights_only``)."""
    if not path.is_file():
        raise ValueError(f"pretrained weights file {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # PyTorch's long advice ends in "load it unsafely": not ours
        from engine.models.checkpoint import blocked_global

        raise ValueError(f"{path.name}: refused — the file contains Python objects other than weights"
                         f"{blocked_global(exc)}, which could run code when loaded; it was not loaded") from None
    except Exception as exc:
        raise ValueError(f"{path.name}: not a readable weights file ({_first_line(exc)})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path.name}: expected a state dict of VGG-16 weights")
    return state


def _copy_layers(layers: list[nn.Module], state: dict, origin: str, part: str) -> int:
    source_layers = vgg_layers(state)
    source_kinds = [kind for kind, _ in source_layers]
    target_kinds = ["conv" if isinstance(m, nn.Conv2d) else "bn" for m in layers]
    if source_kinds[:len(target_kinds)] != target_kinds:
        has_bn, needs_bn = "bn" in source_kinds, "bn" in target_kinds
        raise ValueError(
            f"{origin}: layers do not match {part} (the file has {source_kinds.count('conv')} convs "
            f"{'with' if has_bn else 'without'} batch norm; {part} needs {target_kinds.count('conv')} convs "
            f"{'with' if needs_bn else 'without'} batch norm)")
    with torch.no_grad():
        for module, (_, tensors) in zip(layers, source_layers):
            for name, value in tensors.items():
                target = getattr(module, name, None)
                if target is None:
                    continue
                if target.shape != value.shape:
                    raise ValueError(f"{origin}: a {name} of shape {tuple(value.shape)} does not fit "
                                     f"{tuple(target.shape)}")
                target.copy_(value)
    return len(layers)


def vgg_layers(state: dict) -> list[tuple[str, dict]]:
    """Group a VGG state dict's ``[features.]N.name`` keys by layer index N, in order, as (kind, tensors)."""
    layers: dict[int, dict] = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "features":
            parts = parts[1:]
        # "classifier.N.weight" and anything else not shaped "N.name" is not a feature layer.
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


def _torchvision_name(batch_norm: bool) -> str:
    return "vgg16_bn" if batch_norm else "vgg16"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _download_imagenet_vgg16(batch_norm: bool) -> dict:
    """torchvision's ImageNet VGG-16(-BN) state dict (from its cache, or downloaded)."""
    from torchvision.models import VGG16_BN_Weights, VGG16_Weights

    weights = VGG16_BN_Weights.IMAGENET1K_V1 if batch_norm else VGG16_Weights.IMAGENET1K_V1
    return weights.get_state_dict(progress=False)
