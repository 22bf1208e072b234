"""Process-wide malloc settings for the htools programs.

The search allocates and frees many short-lived numpy temporaries of
100 KiB to a few MiB per round.  With glibc's defaults the heap top is
trimmed (and large blocks unmapped) after almost every round, so the
next round faults the same pages in again: at 400 nodes / 8000 instances
hbal spent a quarter of its CPU time in the kernel on ~6 million page
faults.  Raising the mmap and trim thresholds keeps that memory mapped
for reuse; the peak resident size barely changes (it is the high-water
mark either way).

Public API::

    tune_malloc() -> bool    # True when the settings were applied (glibc)
"""

from __future__ import annotations

import sys

#: glibc ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Blocks above this are mmapped (bytes); below, they come from the heap.
MMAP_THRESHOLD = 32 << 20
#: Free memory at the heap top kept mapped (bytes).
TRIM_THRESHOLD = 128 << 20

_done = False


def tune_malloc() -> bool:
    """Apply the thresholds once per process (a no-op off glibc/Linux)."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
            bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):
        return False
    _done = ok
    return ok
