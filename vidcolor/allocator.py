"""glibc's allocator, set for a process that allocates and frees frame-sized arrays (1 to 30 MB)
many times a second.

By default glibc serves a block that large with a fresh mmap and unmaps it when freed, or trims the
heap back to the system, so the next frame's arrays fault their pages in again and the kernel zeroes
them. A 280-frame 720p run took 1.4 to 2.2 million page faults and 4 to 6 s of system CPU that way
(of 42 to 46 s in all, on the 2-core development machine); keeping freed memory for reuse took that to
0.21 million and 1.2 to 1.4 s, with about the same peak RSS (docs/performance.md, "Where the CPU time
goes now"). `vidcolor`'s command line sets it for its own process; a library caller may call
`keep_freed_memory()` the same way.
"""
from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed on 64-bit: only blocks over 32 MB get their own mmap
TRIM_THRESHOLD = 1 << 30  # free memory at the heap's top is given back only beyond 1 GB
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def keep_freed_memory() -> bool:
    """Have glibc keep freed large blocks for reuse instead of returning them to the system. Returns
    whether it was set: not when the user set glibc's own MALLOC_* variables (theirs win), and not
    where the C library has no mallopt (not glibc), where this tuning does not apply."""
    if any(k in os.environ for k in USER_SETTINGS):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
