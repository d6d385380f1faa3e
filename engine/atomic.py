"""Atomic file writes: a file on disk is always either the complete old or the complete new version.

Everything the engine writes that a user relies on (annotation sidecars, checkpoints, HDF5 exports, copied
images, count tables) goes through :func:`atomic_path`: the content is written to a temporary file in the same
folder (same file system), and only a complete file replaces the target, in one rename. A crash, a kill or a
full disk at any moment leaves the old file intact and at worst a stray ``.NAME.*.tmp`` file.

Durability: the temporary file is flushed to disk (fsync) before the rename and the folder after it, so a
power cut right after a save also finds the complete new file (without the folder fsync, ext4 and XFS may
forget the rename). A kill alone never needs either: the kernel keeps written data.

Stray temporary files are hidden (leading dot) and end in ``.tmp``, so folder scans never list them as images
or sidecars; :func:`remove_stale_temp_files` deletes those a killed writer left behind.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _current_umask() -> int:
    # os.umask can only be read by setting it; do it once, at import, before any thread writes files.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()
# mkstemp(prefix=".NAME.", suffix=".tmp") names: 8 random characters from [a-z0-9_] between them.
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


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
        _fsync_file(tmp_name)  # writers that do not fsync themselves (h5py, shutil.copyfile) are covered too
        os.replace(tmp_name, path)
        _fsync_folder(path.parent)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def atomic_write_bytes(path: Path | str, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically, flushed to disk before the rename.

    ``durable=False`` skips both fsyncs: still all-or-nothing when the process is killed, but a power cut may
    lose the last write. Only for files that are themselves a safety net written often (recovery journals).
    """
    if not durable:
        _write_replace(Path(path), data)
        return
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _write_replace(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp_name, _mode_for(path))
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def _fsync_file(name: str) -> None:
    fd = os.open(name, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable. Not possible everywhere (Windows cannot open folders; some network
    # file systems refuse): the file is complete either way, only a power cut could then undo the rename.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def is_temp_file(path: Path | str) -> bool:
    """True for a temporary file :func:`atomic_path` makes (``.NAME.<8 random characters>.tmp``)."""
    return _TEMP_NAME.match(Path(path).name) is not None


def remove_stale_temp_files(folder: Path | str, min_age_s: float = 3600.0) -> list[Path]:
    """Delete the temporary files of writes that were killed, in ``folder``; returns the paths removed.

    Only files older than ``min_age_s`` go: a younger one may belong to a write in progress in another
    process (an engine command writing sidecars while the window is open). Failures are ignored: a stray
    temporary file is harmless, it is hidden and never read.
    """
    removed = []
    cutoff = time.time() - min_age_s
    try:
        candidates = [p for p in Path(folder).iterdir() if is_temp_file(p)]
    except OSError:
        return removed
    for path in candidates:
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    return removed
