"""Letting a counting process reuse the memory of its feature maps instead of asking the kernel for it anew.

glibc's malloc serves blocks above a threshold (at most 32 MB, however it adapts) with fresh ``mmap``s and
gives them back on ``free``. The default U-Net's full-resolution feature maps of a 1024x768 image are ~54 MB
each, so every layer of every forward pass mapped new memory and the kernel zero-filled it page by page:
158,000 page faults per image, a fifth of the counting process's CPU time. With the thresholds raised, freed
maps stay in the heap and the next layer reuses them: the same counts, the forward pass 0.79x the CPU time
(median of 5 alternated runs on this project's 2-core CPU, python bench/count_speed.py). The cost: the
process keeps up to one forward pass's memory after counting, which suits the engine's count commands (one
process per run). Elsewhere than glibc (macOS, Windows, musl) nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
_KEEP_BYTES = 1 << 30  # blocks up to 1 GB come from (and go back to) the heap; mallopt's maximum is larger


@functools.cache
def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process (once); False where that is not available."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc: no mallopt to call
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES))
