"""The devices this machine can train on, as (engine ``--device`` value, label) pairs for a combo box.

Asking torch which GPUs exist costs the first import of torch (a second or two), so it is done once, when the
training dialog first opens, never while the window starts or the user annotates.
"""

from __future__ import annotations

from functools import lru_cache

from crowdgui.training.options import ALL_GPUS


@lru_cache(maxsize=1)
def discovered_devices() -> tuple[dict, ...]:
    """What ``engine.models.device.describe_devices`` reports, asked once per session."""
    from engine.models.device import describe_devices

    return tuple(describe_devices())


def device_choices() -> tuple[tuple[str, str], ...]:
    """("auto", "Automatic (…)") first, then every device the engine reports."""
    choices = [(device["id"], device["label"]) for device in discovered_devices()]
    best = choices[0][1] if choices else "CPU"
    return (("auto", f"Automatic — {best}"), *choices)


def gpu_count() -> int:
    """How many CUDA devices torch sees here."""
    return sum(1 for device in discovered_devices() if device["kind"] == "cuda")


def training_device_choices() -> tuple[tuple[str, str], ...]:
    """:func:`device_choices`, plus "All local GPUs (N)" after Automatic when there is more than one GPU.

    That choice trains with one process per GPU through torchrun (see ``options.launch_args``).
    """
    choices = device_choices()
    gpus = gpu_count()
    if gpus < 2:
        return choices
    return (choices[0], (ALL_GPUS, f"All local GPUs ({gpus}) — one process each, torchrun"), *choices[1:])
