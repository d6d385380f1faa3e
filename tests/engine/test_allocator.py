"""engine.counting.allocator: a counting process reuses freed feature-map memory instead of faulting in new pages."""

from __future__ import annotations

import ctypes.util
import json
import subprocess
import sys

import pytest

from engine.counting import allocator

# A child process (the thresholds are process-wide): page faults of filling a 64 MB tensor the second time,
# before and after keep_freed_memory(). numpy's allocator is malloc, like torch's CPU allocator.
_CHILD = """
import json, resource, sys
import numpy as np
from engine.counting.allocator import keep_freed_memory

def second_fill_faults():
    for attempt in range(2):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        block = np.empty(64 * 2**20, np.uint8)
        block.fill(1)
        del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

plain = second_fill_faults()
kept = keep_freed_memory()
print(json.dumps({"plain": plain, "kept": kept, "after": second_fill_faults()}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc thresholds")
def test_freed_memory_is_reused_without_page_faults():
    completed = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True)
    report = json.loads(completed.stdout)
    assert report["plain"] >= 32  # glibc maps a fresh block each time: at least one fault per 2 MB huge page
    assert report["kept"] is True
    assert report["after"] <= report["plain"] // 10  # the freed block is reused


def test_without_a_c_library_nothing_changes(monkeypatch):
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    allocator.keep_freed_memory.cache_clear()
    try:
        assert allocator.keep_freed_memory() is False
    finally:
        allocator.keep_freed_memory.cache_clear()


def test_a_library_without_mallopt_is_left_alone(monkeypatch):
    class NoMallopt:
        def __init__(self, name):
            pass

    monkeypatch.setattr(allocator.ctypes, "CDLL", NoMallopt)
    allocator.keep_freed_memory.cache_clear()
    try:
        assert allocator.keep_freed_memory() is False
    finally:
        allocator.keep_freed_memory.cache_clear()
