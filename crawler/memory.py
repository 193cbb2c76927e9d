"""Giving a process's freed heap back to the system between the phases of a crawl."""

from __future__ import annotations

import ctypes
import functools
import gc
from typing import Any


def release_memory() -> bool:
    """Collect garbage, then return the freed heap to the system (glibc ``malloc_trim``); whether
    the heap was trimmed (False off glibc).

    Python frees a crawl's responses, parsed trees and queues into the C heap, which keeps them in
    the process's resident memory (a realistic crawl: 213 MB, 127 MB after this) until something
    reuses them. A crawl that ends and then waits for other work, such as the dedup process
    working through its backlog and settling its catalog, or a catch-up, holds them under that work
    otherwise. Costs a full collection (0.2-0.7 s after a crawl of a few thousand pages): call it
    between phases, never per page."""
    gc.collect()
    return trim_heap()


def trim_heap() -> bool:
    """Return the C heap's free pages to the system (glibc ``malloc_trim``, a few ms; ctypes lets
    other threads run meanwhile); whether it could (False off glibc). No garbage collection."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.cache
def _malloc_trim() -> Any:
    # The C library already loaded in this process (dlopen(NULL)), not ctypes.util.find_library:
    # that runs ldconfig in a subprocess, a fork of the whole crawl process each time.
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
