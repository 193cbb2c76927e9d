"""Giving a process's freed heap back to the system between the phases of a crawl."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc


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
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return False
    trim(0)
    return True
