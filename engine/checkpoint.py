"""Checkpoints: saved atomically, loaded safely, carrying everything needed to use them.

A checkpoint is a ``torch.save``d dict of plain values and tensors only, so it loads with
``torch.load(weights_only=True)``: a file a user was sent can never run code on their machine. Keys:

    format, version        "crowdgui-checkpoint", 1
    arch, model_config     registry name and the keyword arguments that rebuild the network
    stride, input_multiple the model's output stride and the multiple its input sides must have
    normalization          {"mean": [r, g, b], "std": [r, g, b]} applied to 0..1 RGB input
    density_scale          the network predicts density x this factor
    density                the DensitySettings (as a dict) its targets were made with
    train_summary          dataset path, image counts, epochs, seconds ...
    metrics                {"val_mae": ..., "val_rmse": ...} of this checkpoint
    state_dict             the weights
    training_state         (optional) epoch, step, optimizer and scheduler state for --resume
"""

from __future__ import annotations

import datetime as _dt
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from engine.dataset.sidecar import atomic_write_bytes

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
        # torch.save has written zip archives since PyTorch 1.6; anything else is damaged or foreign.
        raise CheckpointError(f"{path.name}: not a readable checkpoint (not a PyTorch archive; truncated, "
                              "damaged, or made by another program)")
    try:
        record = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path.name}: refused — the file contains Python objects other than weights, which could run "
            f"code when loaded ({str(exc).splitlines()[0]})"
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


def build_model(record: dict[str, Any]) -> torch.nn.Module:
    """The network a checkpoint describes, with its weights loaded, in eval mode."""
    from engine.models import get_model

    try:
        model = get_model(record["arch"], **record["model_config"])
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"checkpoint names a model this CrowdGUI cannot build: {exc}") from None
    try:
        model.load_state_dict(record["state_dict"], strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"the weights do not fit the {record['arch']} architecture ({first})") from None
    return model.eval()


def load_model(path: Path | str, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Convenience: (model on ``device`` in eval mode, checkpoint record) from a checkpoint file."""
    record = load_checkpoint(path, map_location="cpu")
    return build_model(record).to(device), record
