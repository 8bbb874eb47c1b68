"""Fewer glibc malloc arenas for the connectors' processes.

glibc gives threads their own malloc arenas (up to 8 per core). The reader's and writer's
worker threads each allocate response bodies, so a long sync ends up with dozens of partly
used arenas, and RSS keeps creeping up with the length of the sync, not with the data held.
Two arenas are plenty: the workers mostly wait on the network, and small objects come from
Python's own allocator anyway. Measured (benchmarks, zero latency): peak RSS at 1M records
104 -> 93 MB, at 10k 90 -> 84 MB, CPU unchanged. ``MALLOC_ARENA_MAX`` in the environment wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_ARENA_MAX = -8  # glibc's mallopt parameter number
ARENAS = 2


def limit_malloc_arenas() -> bool:
    """Cap glibc's arenas before any worker thread starts; False where that can't apply."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, ARENAS))
    except (OSError, AttributeError):  # musl or another libc without mallopt
        return False
