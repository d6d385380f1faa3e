"""Which device trains and counts: CUDA, then Apple MPS, then the CPU.

``pick_device`` turns the user's choice into a ``torch.device`` (or a plain-words error when the device is
missing); ``describe_devices`` lists what this machine has, best first, for the GUI's device menu.
"""

from __future__ import annotations

import os

import torch

CHOICES = ("auto", "cpu", "cuda", "mps")


class DeviceError(Exception):
    """The requested device does not exist on this machine; the message says what does."""


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def pick_device(choice: str = "auto") -> torch.device:
    """``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``/``"cuda:N"`` or ``"mps"`` -> device."""
    choice = (choice or "auto").strip().lower()
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice == "cuda" or choice.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceError("CUDA was requested but this machine has no usable NVIDIA GPU "
                              f"(torch {torch.__version__}); use --device cpu or auto")
        device = torch.device(choice)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"{choice} was requested but this machine has {torch.cuda.device_count()} "
                              "CUDA device(s), numbered from 0")
        return device
    if choice == "mps":
        if not _mps_available():
            raise DeviceError("Apple MPS was requested but is not available here; use --device cpu or auto")
        return torch.device("mps")
    raise DeviceError(f"unknown device {choice!r}; choose one of {', '.join(CHOICES)} (or cuda:N)")


def cpu_threads() -> int:
    """The CPU cores this process may use (its affinity mask where the OS tells, else the core count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def describe_devices() -> list[dict]:
    """What this machine can train on, best first: ``[{"id", "kind", "label", "memory_gb"?}, ...]``.

    ``id`` is what ``pick_device`` and ``--device`` accept; ``label`` is for people.
    """
    devices = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            memory = round(props.total_memory / 2**30, 1)
            devices.append({"id": f"cuda:{index}", "kind": "cuda", "memory_gb": memory,
                            "label": f"GPU {index}: {props.name} ({memory:g} GB)"})
    if _mps_available():
        devices.append({"id": "mps", "kind": "mps", "label": "Apple GPU (MPS)"})
    threads = cpu_threads()
    devices.append({"id": "cpu", "kind": "cpu", "threads": threads,
                    "label": f"CPU ({threads} thread{'s' if threads != 1 else ''})"})
    return devices
