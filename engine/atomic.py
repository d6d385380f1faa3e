"""Atomic file writes: a file on disk is always either the complete old or the complete new version.

Everything the engine writes that a user relies on (annotation sidecars, checkpoints, HDF5 exports, copied
images, count tables) goes through :func:`atomic_path`: the content is written to a temporary file in the same
folder (same file system), and only a complete file replaces the target, in one rename. A crash, a kill or a
full disk at any moment leaves the old file intact and at worst a stray ``.NAME.*.tmp`` file.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def _current_umask() -> int:
    # os.umask can only be read by setting it; do it once, at import, before any thread writes files.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _mode_for(path: Path) -> int:
    """The replaced file's mode, or what a plain open() would give (mkstemp's files are owner-only)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o666 & ~_UMASK


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends normally it replaces ``path``.

    If the block raises, the temporary file is removed and ``path`` is untouched. The temporary file exists
    (empty) when the block starts, so writers must open it for writing, not exclusive creation.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp_name)
        # A dataset shared with a group must stay readable after a save.
        os.chmod(tmp_name, _mode_for(path))
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, flushed to disk before the rename."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
