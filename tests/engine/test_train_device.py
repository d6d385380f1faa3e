"""Device choice: auto picks the best device present, a missing one is a plain error, CPU is listed last."""

import pytest
import torch

from engine.models.device import DeviceError, describe_devices, pick_device


def test_cpu_and_auto():
    assert pick_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert pick_device("auto").type == expected
    assert pick_device(None).type == expected


def test_unknown_or_missing_devices_are_plain_errors():
    with pytest.raises(DeviceError, match="unknown device"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="no usable NVIDIA GPU"):
            pick_device("cuda")
    if not torch.backends.mps.is_available():
        with pytest.raises(DeviceError, match="MPS"):
            pick_device("mps")


def test_describe_devices_lists_the_cpu_last_with_ids_pick_device_accepts():
    devices = describe_devices()
    assert devices[-1]["id"] == "cpu" and devices[-1]["threads"] >= 1
    for device in devices:
        assert device["label"]
        assert pick_device(device["id"]).type == device["kind"]
