"""Checkpoints: saved atomically, loaded safely, carrying everything needed to use them.

A checkpoint is a ``torch.save``d dict of plain values and tensors only, so it loads with
``torch.load(weights_only=True)``: a file a user was sent can never run code on their machine. Keys:

    format, version        "crowdgui-checkpoint", 1
    arch, model_config     registry name and the keyword arguments that rebuild the network
    stride, input_multiple the model's output stride and the multiple its input sides must have
    normalization          {"mean": [r, g, b], "std": [r, g, b]} applied to 0..1 RGB input
    density_scale          the network predicts density x this factor
    density                the DensitySettings (as a dict) its targets were made with
    classes                (optional) the class names of its output channels, in channel order; absent in
                           checkpoints of one class (read them with :func:`checkpoint_classes`)
    train_summary          dataset path, image counts, epochs, seconds ...
    metrics                {"val_mae": ..., "val_rmse": ...} of this checkpoint
    state_dict             the weights
    training_state         (optional) epoch, step, optimizer and scheduler state for --resume
"""

from __future__ import annotations

import datetime as _dt
import io
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from engine.atomic import atomic_write_bytes
from engine.dataset.classes import DEFAULT_CLASS

CHECKPOINT_FORMAT = "crowdgui-checkpoint"
CHECKPOINT_VERSION = 1
REQUIRED_KEYS = ("arch", "model_config", "stride", "normalization", "density_scale", "state_dict")


class CheckpointError(Exception):
    """A file that is not a usable CrowdGUI checkpoint; the message says why in plain words."""


def save_checkpoint(path: Path | str, checkpoint: dict[str, Any]) -> Path:
    """Write ``checkpoint`` atomically: a crash or a full disk leaves the previous file intact."""
    path = Path(path)
    record = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
              "saved_at": _dt.datetime.now().isoformat(timespec="seconds"), **checkpoint}
    missing = [key for key in REQUIRED_KEYS if key not in record]
    if missing:
        raise ValueError(f"checkpoint is missing {', '.join(missing)}")
    buffer = io.BytesIO()
    torch.save(record, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_checkpoint(path: Path | str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and validate a checkpoint without ever unpickling arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path.name}: no such checkpoint file")
    if not zipfile.is_zipfile(path):
        # torch.save has written zip archives since PyTorch 1.6; anything else is damaged or foreign (a bare
        # pickle or torch's legacy format could carry code: they are never handed to the unpickler).
        raise CheckpointError(f"{path.name}: not a readable checkpoint (not a PyTorch archive; truncated, "
                              "damaged, or made by another program)")
    _check_archive(path)
    try:
        record = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path.name}: refused — the file contains Python objects other than weights{blocked_global(exc)}, which "
            "could run code when loaded. It was not loaded; use only checkpoints made by CrowdGUI."
        ) from None
    except (zipfile.BadZipFile, EOFError, RuntimeError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path.name}: not a readable checkpoint (truncated or damaged: {exc})") from None
    if not isinstance(record, dict) or record.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path.name}: not a CrowdGUI checkpoint (it may come from another program)")
    if int(record.get("version", 0)) > CHECKPOINT_VERSION:
        raise CheckpointError(f"{path.name}: made by a newer CrowdGUI (version {record.get('version')})")
    missing = [key for key in REQUIRED_KEYS if key not in record]
    if missing:
        raise CheckpointError(f"{path.name}: incomplete checkpoint (missing {', '.join(missing)})")
    return record


def _check_archive(path: Path) -> None:
    """Refuse a zip that is not a PyTorch archive, or whose members fail their CRC-32 checksums.

    PyTorch's reader does not check the checksums, so bytes damaged on disk or in transfer would otherwise
    load as wrong weights without a word. Reading the file once costs ~0.1 s for a 65 MB CSRNet.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            if not any(name.endswith("data.pkl") for name in archive.namelist()):
                raise CheckpointError(f"{path.name}: not a readable checkpoint (a zip archive, but not one "
                                      "written by PyTorch)")
            damaged = archive.testzip()
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path.name}: not a readable checkpoint (truncated or damaged: {exc})") from None
    if damaged is not None:
        raise CheckpointError(f"{path.name}: not a readable checkpoint (damaged: {damaged} does not match its "
                              "checksum; the file changed after it was saved)")


def checkpoint_classes(record: dict[str, Any]) -> list[str]:
    """The class names of a checkpoint's output channels, in channel order.

    Checkpoints made before classes existed (or of one class) name none: their one channel is the default
    class. A checkpoint whose names do not match its channel count gets numbered names rather than failing.
    """
    config = record.get("model_config") if isinstance(record.get("model_config"), dict) else {}
    channels = config.get("classes", 1)
    channels = channels if isinstance(channels, int) and channels >= 1 else 1
    names = record.get("classes")
    if isinstance(names, list) and len(names) == channels and all(isinstance(n, str) and n for n in names):
        return list(names)
    return [DEFAULT_CLASS] if channels == 1 else [f"class {number + 1}" for number in range(channels)]


def blocked_global(exc: Exception) -> str:
    """" (posix.system)": the global PyTorch's safe unpickler refused, from its long message, if it names one."""
    found = re.search(r"GLOBAL ([\w.]+)", str(exc))
    return f" ({found.group(1)})" if found else ""


def build_model(record: dict[str, Any]) -> torch.nn.Module:
    """The network a checkpoint describes, with its weights loaded, in eval mode.

    The network is first built on PyTorch's "meta" device (shapes only, no memory) and its weights' names
    and shapes compared with the file's: a damaged or hostile ``model_config`` (say a width of 100000) is
    refused before it can allocate gigabytes, and a mismatch is reported in words, not as PyTorch's list.
    """
    from engine.models import get_model

    arch, config, state = record["arch"], record["model_config"], record["state_dict"]
    if not isinstance(config, dict):
        raise CheckpointError(f"the checkpoint's model settings are not a table ({type(config).__name__})")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError("the checkpoint's weights are not a table of tensors")
    try:
        with torch.device("meta"):
            skeleton = get_model(arch, **config)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint names a model this CrowdGUI cannot build: {exc}") from None
    mismatch = _weights_mismatch(skeleton.state_dict(), state)
    if mismatch:
        raise CheckpointError(f"the weights do not fit the {arch} architecture ({mismatch}); the file may "
                              "belong to another model or another program")
    model = get_model(arch, **config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # e.g. a dtype that cannot be copied; names and shapes were checked above
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"the weights do not fit the {arch} architecture ({first})") from None
    return model.eval()


def _weights_mismatch(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> str:
    """Plain words for how the file's weights differ from the network's, or "" when names and shapes agree."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    reshaped = [k for k in expected if k in found and tuple(found[k].shape) != tuple(expected[k].shape)]
    parts = []
    for words, keys in (("missing", missing), ("not in this network", unexpected), ("of another shape", reshaped)):
        if keys:
            parts.append(f"{len(keys)} weight tensor(s) {words}, e.g. {keys[0]}")
    return "; ".join(parts)


def load_model(path: Path | str, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Convenience: (model on ``device`` in eval mode, checkpoint record) from a checkpoint file."""
    record = load_checkpoint(path, map_location="cpu")
    try:
        model = build_model(record)
    except CheckpointError as exc:
        raise CheckpointError(f"{Path(path).name}: {exc}") from None
    return model.to(device), record
