"""Test helpers: hostile and foreign checkpoint files, each with the words its refusal must contain.

``write_checkpoint_cases(folder, marker)`` writes them all. The code-carrying ones would create ``marker``
(through os.system, builtins.exec or subprocess) if anything ever unpickled them; the tests assert it never
appears. Imported by the robustness tests after they put this folder on sys.path.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.models.checkpoint import save_checkpoint
from engine.models import get_model

NOT_READABLE = "not a readable checkpoint"
CODE = "could run code"
FOREIGN = "not a CrowdGUI checkpoint"
DOES_NOT_FIT = "do not fit"
CANNOT_BUILD = "cannot build"


@dataclass
class CheckpointCase:
    name: str
    path: Path
    words: str  # the refusal message must contain these
    carries_code: bool = False


class _RunsShell:
    """Unpickling this runs a shell command (the classic malicious pickle)."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class _Execs:
    def __init__(self, source: str):
        self.source = source

    def __reduce__(self):
        return exec, (self.source,)


class _Popen:
    def __init__(self, argv: list[str]):
        self.argv = argv

    def __reduce__(self):
        return subprocess.Popen, (self.argv,)


def tiny_record(arch: str = "unet", **config) -> dict:
    """What engine training saves, for a tiny network (weights from a fresh initialisation)."""
    config = config or {"width": 4}
    model = get_model(arch, **config)
    return {"arch": arch, "model_config": config, "stride": 1, "input_multiple": 8,
            "normalization": {"mean": [0.5] * 3, "std": [0.25] * 3}, "density_scale": 100.0,
            "state_dict": model.state_dict()}


def write_checkpoint_cases(folder: Path, marker: Path) -> list[CheckpointCase]:
    folder.mkdir(parents=True, exist_ok=True)
    cases: list[CheckpointCase] = []

    def add(name: str, data: bytes, words: str, carries_code: bool = False) -> None:
        path = folder / name
        path.write_bytes(data)
        cases.append(CheckpointCase(name, path, words, carries_code))

    def torch_bytes(obj, **kwargs) -> bytes:
        buffer = io.BytesIO()
        torch.save(obj, buffer, **kwargs)
        return buffer.getvalue()

    touch = f"touch {marker}"
    good = torch_bytes({"format": "crowdgui-checkpoint", "version": 1, **tiny_record()})
    header = {"format": "crowdgui-checkpoint", "version": 1}

    # Code inside a PyTorch archive: in the record, as the whole file, next to real weights, by exec, by Popen.
    add("evil_system.pt", torch_bytes({**header, **tiny_record(), "note": _RunsShell(touch)}), CODE, True)
    add("evil_whole.pt", torch_bytes(_RunsShell(touch)), CODE, True)
    add("evil_exec.pt", torch_bytes({**header, "x": _Execs(f"open({str(marker)!r}, 'w').close()")}), CODE, True)
    add("evil_popen.pt", torch_bytes([_Popen(["touch", str(marker)])]), CODE, True)
    # Code in the formats torch.load would also accept without weights_only: a bare pickle, torch's legacy
    # (pre-1.6, not zip) format.
    add("evil_plain_pickle.pt", pickle.dumps(_RunsShell(touch)), NOT_READABLE, True)
    add("evil_legacy.pt", torch_bytes(_RunsShell(touch), _use_new_zipfile_serialization=False), NOT_READABLE,
        True)
    # A real checkpoint archive whose data.pkl was swapped for a code-carrying pickle.
    add("evil_swapped_pickle.pt", _swap_data_pkl(good, pickle.dumps(_RunsShell(touch), protocol=2)), CODE, True)

    # Damaged files.
    add("empty.pt", b"", NOT_READABLE)
    add("truncated_half.pt", good[: len(good) // 2], NOT_READABLE)
    add("truncated_tail.pt", good[:-10], NOT_READABLE)
    damaged = bytearray(good)
    start = len(good) // 3
    damaged[start:start + 4096] = os.urandom(4096)
    add("bytes_overwritten.pt", bytes(damaged), NOT_READABLE)
    add("random_bytes.pt", os.urandom(5000), NOT_READABLE)
    add("text.pt", b"version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 123\n", NOT_READABLE)

    # Foreign but harmless files.
    add("random.zip", _zip({"readme.txt": b"hello", "data.bin": os.urandom(100)}), NOT_READABLE)
    from torchvision.models import squeezenet1_1

    add("torchvision_state_dict.pth", torch_bytes(squeezenet1_1(weights=None).state_dict()), FOREIGN)
    add("plain_tensor.pt", torch_bytes(torch.zeros(3)), FOREIGN)
    add("newer_version.pt", torch_bytes({**header, "version": 99, **tiny_record()}), "newer CrowdGUI")
    add("no_weights.pt", torch_bytes({**header, "arch": "unet"}), "incomplete checkpoint")

    # A CrowdGUI checkpoint that does not describe its own weights.
    other = tiny_record()
    other["arch"], other["model_config"] = "fcrn_a", {"width": 4}
    add("other_architecture.pt", torch_bytes({**header, **other}), DOES_NOT_FIT)
    wider = tiny_record()
    wider["model_config"] = {"width": 8}
    add("other_width.pt", torch_bytes({**header, **wider}), DOES_NOT_FIT)
    huge = tiny_record()
    huge["model_config"] = {"width": 200_000}  # would need terabytes if it were built before checking
    add("huge_config.pt", torch_bytes({**header, **huge}), DOES_NOT_FIT)
    unknown = tiny_record()
    unknown["arch"] = "resnet9000"
    add("unknown_architecture.pt", torch_bytes({**header, **unknown}), CANNOT_BUILD)
    negative = tiny_record()
    negative["model_config"] = {"width": -3}
    add("negative_width.pt", torch_bytes({**header, **negative}), CANNOT_BUILD)
    listed = tiny_record()
    listed["state_dict"] = [1, 2, 3]
    add("weights_not_a_table.pt", torch_bytes({**header, **listed}), "not a table of tensors")
    return cases


def write_valid_checkpoint(path: Path) -> Path:
    return save_checkpoint(path, tiny_record())


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _swap_data_pkl(archive_bytes: bytes, pickled: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(archive_bytes))
    members = {info.filename: source.read(info.filename) for info in source.infolist()}
    for name in members:
        if name.endswith("/data.pkl"):
            members[name] = pickled
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()
