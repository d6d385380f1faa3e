"""The devices this machine can train on, as (engine ``--device`` value, label) pairs for a combo box.

Asking torch which GPUs exist costs the first import of torch (a second or two), so it is done once, when the
training dialog first opens, never while the window starts or the user annotates.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def device_choices() -> tuple[tuple[str, str], ...]:
    """("auto", "Automatic (…)") first, then every device the engine reports."""
    from engine.device import describe_devices

    devices = describe_devices()
    choices = []
    for device in devices:
        choices.append((device["id"], device["label"]))
    best = choices[0][1] if choices else "CPU"
    return (("auto", f"Automatic — {best}"), *choices)
