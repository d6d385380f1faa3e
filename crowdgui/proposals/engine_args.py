"""The ``python -m engine propose`` command lines the window runs (``--events jsonl`` is added by EngineJob)."""

from __future__ import annotations

from pathlib import Path


def propose_one_args(dataset: Path, checkpoint: Path, name: str) -> list[str]:
    """Proposals for one image, reported in the events only: the window keeps them (undoably) in memory."""
    return ["propose", str(dataset), "--checkpoint", str(checkpoint), "--images", name, "--no-write"]


def propose_all_args(dataset: Path, checkpoint: Path) -> list[str]:
    """Proposals written as pending into the sidecars of every image without one (others are skipped)."""
    return ["propose", str(dataset), "--checkpoint", str(checkpoint)]
