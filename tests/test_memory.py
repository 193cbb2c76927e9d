"""release_memory: garbage collected, the freed heap given back to the system."""

from __future__ import annotations

import ctypes
import gc
import sys
import weakref

import pytest

from crawler.memory import release_memory


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_cyclic_garbage_is_collected() -> None:
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # a cycle: only the collector frees it
    gone = weakref.ref(a)
    gc.disable()
    try:
        del a, b
        assert gone() is not None
        release_memory()
        assert gone() is None
    finally:
        gc.enable()


@pytest.mark.skipif(not sys.platform.startswith("linux") or not hasattr(ctypes.CDLL(None), "malloc_trim"),
                    reason="malloc_trim is glibc's")
def test_the_heap_is_trimmed_on_glibc() -> None:
    assert release_memory() is True
